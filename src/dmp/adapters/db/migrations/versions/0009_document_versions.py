"""document versions, submission sets, SHA-1 of contents, MHD context of every document

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-20 09:00:00

- ``documents.meta_version``: the version of the DocumentReference (``meta.versionId``), 1 for
  the documents already stored;
- ``documents.submission_set_id``: the SubmissionSet (ITI-65 ``List``) of a document, none for
  the documents already stored;
- ``document_contents.sha1``: FHIR's ``attachment.hash``, none for the contents already stored
  (they are encrypted: only the content's reader could compute it);
- ``documents.facility_type`` and ``practice_setting``, which the IHE MHD Comprehensive profile
  requires, set where they were missing, from the author's establishment as submission now does
  (the values below are those of ``data/valuesets.yaml`` when this revision was written).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Establishment kind -> (facility type JDV_J02, practice setting JDV_J04).
_BY_KIND = {
    "hospital": ("SA01", "ETABLISSEMENT"),
    "clinic": ("SA07", "ETABLISSEMENT"),
    "laboratory": ("SA29", "AMBULATOIRE"),
    "pharmacy": ("SA33", "AMBULATOIRE"),
    "practice": ("SA52", "AMBULATOIRE"),
    "samu": ("SA01", "SAMU"),
    "nursing_home": ("SA01", "ETABLISSEMENT"),
}
_ALONE = ("SA52", "AMBULATOIRE")  # a professional acting for no establishment
_PATIENT = ("DOMICILE", "AMBULATOIRE")


def _backfill(column: str, index: int) -> None:
    cases = " ".join(f"WHEN '{kind}' THEN '{codes[index]}'" for kind, codes in _BY_KIND.items())
    op.execute(
        f"UPDATE documents SET {column} = COALESCE((SELECT CASE e.kind {cases} END "  # noqa: S608
        "FROM establishments e WHERE e.id = documents.author_establishment_id), "
        f"CASE WHEN added_by_patient THEN '{_PATIENT[index]}' ELSE '{_ALONE[index]}' END) "
        f"WHERE {column} IS NULL"
    )


def upgrade() -> None:
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("meta_version", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(sa.Column("submission_set_id", sa.Uuid()))
    with op.batch_alter_table("document_contents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sha1", sa.String(length=40)))
    _backfill("facility_type", 0)
    _backfill("practice_setting", 1)


def downgrade() -> None:
    with op.batch_alter_table("document_contents", schema=None) as batch_op:
        batch_op.drop_column("sha1")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_column("submission_set_id")
        batch_op.drop_column("meta_version")

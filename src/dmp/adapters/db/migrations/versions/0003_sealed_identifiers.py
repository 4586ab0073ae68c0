"""sealed identifiers: the INS's blind index and sealed copy, sealed contact channels

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 09:00:00

The first half of a two-step change. This revision only adds columns (and lets the clear ones
be emptied); filling them needs the keys, which a migration script does not have: ``dmp db
upgrade`` runs that step (``services.migration``) right after this revision, then revision
0004 drops the clear columns, and refuses to while any clear value is left.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ins_index", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("ins_enc", sa.LargeBinary(), nullable=True))
        batch_op.alter_column("ins", existing_type=sa.String(length=15), nullable=True)
        batch_op.create_unique_constraint(batch_op.f("uq_records_ins_index"), ["ins_index"])
    with op.batch_alter_table("tombstones", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ins_index", sa.String(length=64), nullable=True))
        batch_op.alter_column("ins", existing_type=sa.String(length=15), nullable=True)
        batch_op.create_index(batch_op.f("ix_tombstones_ins_index"), ["ins_index"], unique=False)
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_enc", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("phone_enc", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_enc", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    """Only before the sealing step: the clear values it removed can be given back only with
    the keys, which this script does not have."""
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("contact_enc")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("phone_enc")
        batch_op.drop_column("email_enc")
    with op.batch_alter_table("tombstones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tombstones_ins_index"))
        batch_op.alter_column("ins", existing_type=sa.String(length=15), nullable=False)
        batch_op.drop_column("ins_index")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_records_ins_index"), type_="unique")
        batch_op.alter_column("ins", existing_type=sa.String(length=15), nullable=False)
        batch_op.drop_column("ins_enc")
        batch_op.drop_column("ins_index")

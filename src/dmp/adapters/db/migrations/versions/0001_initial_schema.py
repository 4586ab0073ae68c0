"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 17:36:05.681211
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("login", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("notify_email", sa.Boolean(), nullable=False),
        sa.Column("notify_sms", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("login", name=op.f("uq_accounts_login")),
    )
    op.create_table(
        "audit_entries",
        sa.Column("dmp_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("actor_rpps", sa.String(length=11), nullable=True),
        sa.Column("profession", sa.String(length=4), nullable=True),
        sa.Column("establishment", sa.String(length=9), nullable=True),
        sa.Column("mode", sa.String(length=12), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target_kind", sa.String(length=20), nullable=True),
        sa.Column("target_id", sa.String(length=128), nullable=True),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("justification_enc", sa.LargeBinary(), nullable=True),
        sa.Column("secret", sa.Boolean(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("dmp_id", "seq", "at", name=op.f("pk_audit_entries")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entries_dmp_id_at", ["dmp_id", "at"], unique=False)

    op.create_table(
        "audit_heads",
        sa.Column("dmp_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=100), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dmp_id", name=op.f("pk_audit_heads")),
    )
    op.create_table(
        "document_contents",
        sa.Column("dmp_id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("mime_type", sa.String(length=40), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("blob_key", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint(
            "dmp_id", "document_id", "position", name=op.f("pk_document_contents")
        ),
        sa.UniqueConstraint("blob_key", name=op.f("uq_document_contents_blob_key")),
    )
    op.create_table(
        "establishments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("finess", sa.String(length=9), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("excluded", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_establishments")),
        sa.UniqueConstraint("finess", name=op.f("uq_establishments_finess")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("dmp_id", sa.Uuid(), nullable=True),
        sa.Column("recipient_kind", sa.String(length=16), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("template", sa.String(length=40), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_sent_at", ["sent_at"], unique=False)

    op.create_table(
        "professionals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rpps", sa.String(length=11), nullable=False),
        sa.Column("family_name", sa.String(length=100), nullable=False),
        sa.Column("given_name", sa.String(length=100), nullable=False),
        sa.Column("profession", sa.String(length=4), nullable=False),
        sa.Column("specialty", sa.String(length=100), nullable=True),
        sa.Column("occupational_health", sa.Boolean(), nullable=False),
        sa.Column("samu_regulator", sa.Boolean(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_professionals")),
        sa.UniqueConstraint("rpps", name=op.f("uq_professionals_rpps")),
    )
    op.create_table(
        "tombstones",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("ins", sa.String(length=15), nullable=False),
        sa.Column("dmp_id", sa.Uuid(), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tombstones")),
    )
    with op.batch_alter_table("tombstones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tombstones_ins"), ["ins"], unique=False)

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("professional_id", sa.Uuid(), nullable=False),
        sa.Column("establishment_id", sa.Uuid(), nullable=True),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["establishment_id"],
            ["establishments.id"],
            name=op.f("fk_api_tokens_establishment_id_establishments"),
        ),
        sa.ForeignKeyConstraint(
            ["professional_id"],
            ["professionals.id"],
            name=op.f("fk_api_tokens_professional_id_professionals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "professional_establishments",
        sa.Column("professional_id", sa.Uuid(), nullable=False),
        sa.Column("establishment_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["establishment_id"],
            ["establishments.id"],
            name=op.f("fk_professional_establishments_establishment_id_establishments"),
        ),
        sa.ForeignKeyConstraint(
            ["professional_id"],
            ["professionals.id"],
            name=op.f("fk_professional_establishments_professional_id_professionals"),
        ),
        sa.PrimaryKeyConstraint(
            "professional_id", "establishment_id", name=op.f("pk_professional_establishments")
        ),
    )
    op.create_table(
        "records",
        sa.Column("dmp_id", sa.Uuid(), nullable=False),
        sa.Column("ins", sa.String(length=15), nullable=False),
        sa.Column("ins_system", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("identity_enc", sa.LargeBinary(), nullable=False),
        sa.Column("patient_account_id", sa.Uuid(), nullable=False),
        sa.Column("medecin_traitant_id", sa.Uuid(), nullable=True),
        sa.Column("oppose_emergency", sa.Boolean(), nullable=False),
        sa.Column("oppose_samu", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closure_reason_enc", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["professionals.id"], name=op.f("fk_records_created_by_professionals")
        ),
        sa.ForeignKeyConstraint(
            ["medecin_traitant_id"],
            ["professionals.id"],
            name=op.f("fk_records_medecin_traitant_id_professionals"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_account_id"],
            ["accounts.id"],
            name=op.f("fk_records_patient_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("dmp_id", name=op.f("pk_records")),
        sa.UniqueConstraint("ins", name=op.f("uq_records_ins")),
    )
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.create_index("ix_records_state_closed_at", ["state", "closed_at"], unique=False)

    op.create_table(
        "accessors",
        sa.Column("dmp_id", sa.Uuid(), nullable=False),
        sa.Column("professional_id", sa.Uuid(), nullable=False),
        sa.Column("first_access_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_emergency_notice_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dmp_id"], ["records.dmp_id"], name=op.f("fk_accessors_dmp_id_records")
        ),
        sa.ForeignKeyConstraint(
            ["professional_id"],
            ["professionals.id"],
            name=op.f("fk_accessors_professional_id_professionals"),
        ),
        sa.PrimaryKeyConstraint("dmp_id", "professional_id", name=op.f("pk_accessors")),
    )
    op.create_table(
        "authorizations",
        sa.Column("dmp_id", sa.Uuid(), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dmp_id"], ["records.dmp_id"], name=op.f("fk_authorizations_dmp_id_records")
        ),
        sa.PrimaryKeyConstraint(
            "dmp_id", "subject_kind", "subject_id", name=op.f("pk_authorizations")
        ),
    )
    op.create_table(
        "blocks",
        sa.Column("dmp_id", sa.Uuid(), nullable=False),
        sa.Column("professional_id", sa.Uuid(), nullable=False),
        sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dmp_id"], ["records.dmp_id"], name=op.f("fk_blocks_dmp_id_records")
        ),
        sa.ForeignKeyConstraint(
            ["professional_id"],
            ["professionals.id"],
            name=op.f("fk_blocks_professional_id_professionals"),
        ),
        sa.PrimaryKeyConstraint("dmp_id", "professional_id", name=op.f("pk_blocks")),
    )
    op.create_table(
        "consents",
        sa.Column("dmp_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("professional_id", sa.Uuid(), nullable=False),
        sa.Column("establishment_id", sa.Uuid(), nullable=True),
        sa.Column("brochure_version", sa.String(length=20), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dmp_id"], ["records.dmp_id"], name=op.f("fk_consents_dmp_id_records")
        ),
        sa.ForeignKeyConstraint(
            ["establishment_id"],
            ["establishments.id"],
            name=op.f("fk_consents_establishment_id_establishments"),
        ),
        sa.ForeignKeyConstraint(
            ["professional_id"],
            ["professionals.id"],
            name=op.f("fk_consents_professional_id_professionals"),
        ),
        sa.PrimaryKeyConstraint("dmp_id", "id", name=op.f("pk_consents")),
    )
    op.create_table(
        "documents",
        sa.Column("dmp_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("logical_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("master_identifier", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("type_code", sa.String(length=20), nullable=False),
        sa.Column("class_code", sa.String(length=4), nullable=False),
        sa.Column("format_code", sa.String(length=80), nullable=False),
        sa.Column("confidentiality", sa.String(length=1), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("title_enc", sa.LargeBinary(), nullable=False),
        sa.Column("comments_enc", sa.LargeBinary(), nullable=True),
        sa.Column("author_professional_id", sa.Uuid(), nullable=True),
        sa.Column("author_establishment_id", sa.Uuid(), nullable=True),
        sa.Column("author_role", sa.String(length=20), nullable=True),
        sa.Column("added_by_patient", sa.Boolean(), nullable=False),
        sa.Column("creation_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("service_stop", sa.DateTime(timezone=True), nullable=True),
        sa.Column("practice_setting", sa.String(length=40), nullable=True),
        sa.Column("facility_type", sa.String(length=40), nullable=True),
        sa.Column("masked", sa.Boolean(), nullable=False),
        sa.Column("invisible_patient", sa.Boolean(), nullable=False),
        sa.Column("invisible_representatives", sa.Boolean(), nullable=False),
        sa.Column("hidden_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hidden_notice_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replaces_id", sa.Uuid(), nullable=True),
        sa.Column("replaced_by_id", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_establishment_id"],
            ["establishments.id"],
            name=op.f("fk_documents_author_establishment_id_establishments"),
        ),
        sa.ForeignKeyConstraint(
            ["author_professional_id"],
            ["professionals.id"],
            name=op.f("fk_documents_author_professional_id_professionals"),
        ),
        sa.ForeignKeyConstraint(
            ["dmp_id"], ["records.dmp_id"], name=op.f("fk_documents_dmp_id_records")
        ),
        sa.PrimaryKeyConstraint("dmp_id", "id", name=op.f("pk_documents")),
        sa.UniqueConstraint(
            "dmp_id", "master_identifier", name=op.f("uq_documents_dmp_id_master_identifier")
        ),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_documents_dmp_id_submitted_at", ["dmp_id", "submitted_at"], unique=False
        )
        batch_op.create_index("ix_documents_hidden_since", ["hidden_since"], unique=False)
        batch_op.create_index("ix_documents_id", ["id"], unique=False)

    op.create_table(
        "representatives",
        sa.Column("dmp_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("identity_enc", sa.LargeBinary(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_representatives_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["dmp_id"], ["records.dmp_id"], name=op.f("fk_representatives_dmp_id_records")
        ),
        sa.PrimaryKeyConstraint("dmp_id", "account_id", name=op.f("pk_representatives")),
    )
    op.create_table(
        "audit_purges",
        sa.Column("dmp_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("dmp_id", name=op.f("pk_audit_purges")),
    )
    _append_only_triggers()


def _append_only_triggers() -> None:
    """The audit trail refuses UPDATE and DELETE, except the DELETE of a chain whose DMP is being
    destroyed (the destruction path first inserts its id in ``audit_purges``)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION dmp_audit_append_only() RETURNS trigger AS $$
            BEGIN
              IF TG_OP = 'DELETE' AND EXISTS (
                  SELECT 1 FROM audit_purges WHERE audit_purges.dmp_id = OLD.dmp_id) THEN
                RETURN OLD;
              END IF;
              RAISE EXCEPTION 'audit_entries is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
            END $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries "
            "FOR EACH ROW EXECUTE FUNCTION dmp_audit_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries "
            "FOR EACH STATEMENT EXECUTE FUNCTION dmp_audit_append_only()"
        )
    else:
        op.execute(
            "CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries "
            "BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only: UPDATE refused'); END"
        )
        op.execute(
            "CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries "
            "WHEN NOT EXISTS (SELECT 1 FROM audit_purges WHERE dmp_id = OLD.dmp_id) "
            "BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only: DELETE refused'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_entries_append_only ON audit_entries")
        op.execute("DROP TRIGGER IF EXISTS audit_entries_no_truncate ON audit_entries")
        op.execute("DROP FUNCTION IF EXISTS dmp_audit_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_entries_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_entries_no_delete")
    op.drop_table("audit_purges")
    op.drop_table("representatives")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index("ix_documents_id")
        batch_op.drop_index("ix_documents_hidden_since")
        batch_op.drop_index("ix_documents_dmp_id_submitted_at")

    op.drop_table("documents")
    op.drop_table("consents")
    op.drop_table("blocks")
    op.drop_table("authorizations")
    op.drop_table("accessors")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_index("ix_records_state_closed_at")

    op.drop_table("records")
    op.drop_table("professional_establishments")
    op.drop_table("api_tokens")
    with op.batch_alter_table("tombstones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tombstones_ins"))

    op.drop_table("tombstones")
    op.drop_table("professionals")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_sent_at")

    op.drop_table("outbox")
    op.drop_table("establishments")
    op.drop_table("document_contents")
    op.drop_table("audit_heads")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entries_dmp_id_at")

    op.drop_table("audit_entries")
    op.drop_table("accounts")

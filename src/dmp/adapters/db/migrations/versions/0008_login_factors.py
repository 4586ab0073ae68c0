"""login factors: passkeys, and the challenges of a factor being enrolled or used

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-14 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _moment(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _account_id(table: str, nullable: bool) -> list[sa.Column[object] | sa.ForeignKeyConstraint]:
    return [
        sa.Column("account_id", sa.Uuid(), nullable=nullable),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f(f"fk_{table}_account_id_accounts"),
            ondelete="CASCADE",
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "passkeys",
        sa.Column("id", sa.Uuid(), nullable=False),
        *_account_id("passkeys", nullable=False),
        sa.Column("credential_id", sa.LargeBinary(), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("name_enc", sa.LargeBinary(), nullable=False),
        _moment("created_at"),
        _moment("last_used_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passkeys")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_passkeys_credential_id")),
    )
    with op.batch_alter_table("passkeys", schema=None) as batch_op:
        batch_op.create_index("ix_passkeys_account_id", ["account_id"], unique=False)
    op.create_table(
        "factor_challenges",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        *_account_id("factor_challenges", nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("challenge", sa.LargeBinary(), nullable=True),
        sa.Column("secret_enc", sa.LargeBinary(), nullable=True),
        _moment("created_at"),
        _moment("expires_at"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        _moment("used_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_factor_challenges")),
    )
    with op.batch_alter_table("factor_challenges", schema=None) as batch_op:
        batch_op.create_index(
            "ix_factor_challenges_session_id_purpose", ["session_id", "purpose"], unique=False
        )
        batch_op.create_index("ix_factor_challenges_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_table("factor_challenges")
    op.drop_table("passkeys")

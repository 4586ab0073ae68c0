"""the patient portal: web sessions, one-time codes, and what logging in needs of an account

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _moment(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(_moment("next_login_at", nullable=True))
        batch_op.add_column(_moment("password_changed_at", nullable=True))
        batch_op.add_column(sa.Column("totp_secret_enc", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("notices", sa.Text(), nullable=True))
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("dmp_id", sa.Uuid(), nullable=True),
        sa.Column("candidate_id", sa.Uuid(), nullable=True),
        _moment("created_at"),
        _moment("last_seen_at"),
        _moment("signed_in_at", nullable=True),
        _moment("step_up_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_web_sessions_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["accounts.id"],
            name=op.f("fk_web_sessions_candidate_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_web_sessions_account_id", ["account_id"], unique=False)
        batch_op.create_index("ix_web_sessions_last_seen_at", ["last_seen_at"], unique=False)
    op.create_table(
        "one_time_codes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("address_enc", sa.LargeBinary(), nullable=True),
        _moment("created_at"),
        _moment("expires_at"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        _moment("used_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_one_time_codes_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_one_time_codes")),
    )
    with op.batch_alter_table("one_time_codes", schema=None) as batch_op:
        batch_op.create_index("ix_one_time_codes_session_id", ["session_id"], unique=False)
        batch_op.create_index(
            "ix_one_time_codes_account_id_created_at", ["account_id", "created_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("one_time_codes")
    op.drop_table("web_sessions")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        for column in (
            "notices",
            "totp_last_step",
            "totp_secret_enc",
            "password_changed_at",
            "next_login_at",
            "failed_logins",
        ):
            batch_op.drop_column(column)

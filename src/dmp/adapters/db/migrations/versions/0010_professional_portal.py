"""the professional portal: a professional's password and authenticator app, and the web
session of a professional

Revision ID: 0010
Revises: 0009
Create Date: 2027-01-10 09:00:00

- ``professionals.password_hash`` (Argon2id), ``totp_secret_enc`` (the authenticator app's
  secret, sealed under the professional's own key), ``totp_last_step`` (the last time step
  used: each code once), ``failed_logins`` and ``next_login_at`` (wrong passwords slow the
  login down, then lock it): the login without an identity provider (ADR 6);
- ``web_sessions.professional_id``, ``establishment_id`` (whom the session acts as, and for
  which establishment) and ``pro_state`` (what a login or an emergency access holds between two
  pages: the OpenID Connect state, nonce and PKCE verifier; the emergency mode and its
  justification), so that one session model serves both portals.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("professionals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_hash", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("totp_secret_enc", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("next_login_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("professional_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("establishment_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("pro_state", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_web_sessions_professional_id_professionals"),
            "professionals",
            ["professional_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index("ix_web_sessions_professional_id", ["professional_id"])


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_web_sessions_professional_id")
        batch_op.drop_constraint(
            op.f("fk_web_sessions_professional_id_professionals"), type_="foreignkey"
        )
        for column in ("pro_state", "establishment_id", "professional_id"):
            batch_op.drop_column(column)
    columns = (
        "next_login_at",
        "failed_logins",
        "totp_last_step",
        "totp_secret_enc",
        "password_hash",
    )
    if op.get_bind().dialect.name == "sqlite":
        # A batch would copy and drop the table, which the rows referencing a professional
        # forbid; SQLite (3.35+) drops a column without constraints in place.
        for column in columns:
            op.execute(f"ALTER TABLE professionals DROP COLUMN {column}")
        return
    with op.batch_alter_table("professionals", schema=None) as batch_op:
        for column in columns:
            batch_op.drop_column(column)

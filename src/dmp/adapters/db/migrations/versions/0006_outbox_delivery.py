"""outbox delivery: each message's state, next attempt, claim and lease, last error

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 09:00:00

A message already sent stays sent; every other one becomes pending, due at once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("state", sa.String(length=12), nullable=False, server_default="pending")
        )
        batch_op.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("claim", sa.Uuid()))
        batch_op.add_column(
            sa.Column("channels_done", sa.String(length=16), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("last_error", sa.String(length=200)))
        batch_op.drop_index("ix_outbox_sent_at")
    op.execute("UPDATE outbox SET state = 'sent' WHERE sent_at IS NOT NULL")
    op.execute("UPDATE outbox SET next_attempt_at = created_at")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column(
            "next_attempt_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.create_index(
            "ix_outbox_state_next_attempt_at", ["state", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_state_next_attempt_at")
        batch_op.drop_column("last_error")
        batch_op.drop_column("channels_done")
        batch_op.drop_column("claim")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("state")
        batch_op.create_index("ix_outbox_sent_at", ["sent_at"], unique=False)

"""audit heads indexed by the time they were signed (the witness's checkpoints)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 12:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_heads", schema=None) as batch_op:
        batch_op.create_index("ix_audit_heads_signed_at", ["signed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_heads", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_heads_signed_at")

"""a professional's own activity: the audit entries by actor and time

Revision ID: 0011
Revises: 0010
Create Date: 2027-01-20 09:00:00

The professional portal's « Mon activité » lists what a professional did, across DMPs, newest
first: an index on ``audit_entries (actor_id, at)`` reads those rows only, however long the
trail.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_entries_actor_id_at", "audit_entries", ["actor_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_entries_actor_id_at", table_name="audit_entries")

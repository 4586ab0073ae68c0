"""drop the clear INS and contact channels, once sealed

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 09:30:00

Refuses to run while a clear value is left (a plain ``alembic upgrade head`` on a database
with data, which skips the sealing step of ``dmp db upgrade``): dropping those columns would
lose the INS and the addresses for good.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dmp.errors import MigrationRefused

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# What the sealing step leaves behind it: each query counts the rows it has not done yet.
_UNSEALED = {
    "INS en clair": "SELECT count(*) FROM records WHERE ins IS NOT NULL OR ins_index IS NULL",
    "INS en clair (stèles)": (
        "SELECT count(*) FROM tombstones WHERE ins IS NOT NULL OR ins_index IS NULL"
    ),
    "coordonnées en clair": (
        "SELECT count(*) FROM accounts WHERE email IS NOT NULL OR phone IS NOT NULL"
    ),
    "adresses en clair dans les messages": (
        "SELECT count(*) FROM outbox WHERE recipient_kind = 'contact' "
        "AND (params LIKE '%\"email\"%' OR params LIKE '%\"phone\"%')"
    ),
    "INS en clair dans le journal": (
        "SELECT count(*) FROM audit_entries WHERE target_kind = 'ins'"
    ),
}


def _refuse_while_unsealed() -> None:
    bind = op.get_bind()
    left = {what: bind.execute(sa.text(query)).scalar_one() for what, query in _UNSEALED.items()}
    left = {what: count for what, count in left.items() if count}
    if left:
        detail = ", ".join(f"{count} ligne(s) : {what}" for what, count in left.items())
        raise MigrationRefused(
            f"Révision 0004 refusée : des valeurs en clair restent à sceller ({detail}). "
            "Lancez « dmp db upgrade », qui les scelle avec les clés avant de supprimer les "
            "colonnes en clair ; rien n'a été modifié."
        )


def upgrade() -> None:
    _refuse_while_unsealed()
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_records_ins"), type_="unique")
        batch_op.drop_column("ins")
        batch_op.alter_column("ins_index", existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table("tombstones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tombstones_ins"))
        batch_op.drop_column("ins")
        batch_op.alter_column("ins_index", existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("phone")
        batch_op.drop_column("email")


def downgrade() -> None:
    """The columns come back empty (nullable): their values are sealed, and this script has no
    key to open them."""
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(length=20), nullable=True))
    with op.batch_alter_table("tombstones", schema=None) as batch_op:
        batch_op.alter_column("ins_index", existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(sa.Column("ins", sa.String(length=15), nullable=True))
        batch_op.create_index(batch_op.f("ix_tombstones_ins"), ["ins"], unique=False)
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.alter_column("ins_index", existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(sa.Column("ins", sa.String(length=15), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_records_ins"), ["ins"])

"""the directory's search keys: professionals and establishments found by name, accents and
case ignored

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08 10:00:00

The key of each name already registered is computed here, by the same function the directory
uses for the names it registers from now on (``dmp.domain.names.search_key``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from dmp.domain.names import search_key

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_establishments = sa.table(
    "establishments", sa.column("id", sa.Uuid()), sa.column("name"), sa.column("search_key")
)
_professionals = sa.table(
    "professionals",
    sa.column("id", sa.Uuid()),
    sa.column("given_name"),
    sa.column("family_name"),
    sa.column("search_key"),
)
_BATCH = 1000  # rows per statement: the national directory holds about a million names
# Each table, and how its name reads: an establishment's name; a professional's given names
# then family name (as ``Professional.display_name``).
_NAMES = {
    _establishments: (_establishments.c.name,),
    _professionals: (_professionals.c.given_name, _professionals.c.family_name),
}


def upgrade() -> None:
    bind = op.get_bind()
    for table, names in _NAMES.items():
        with op.batch_alter_table(table.name, schema=None) as batch_op:
            batch_op.add_column(sa.Column("search_key", sa.Text(), nullable=True))
        rows = bind.execute(sa.select(table.c.id, *names)).all()
        keys = [{"row_id": row[0], "key": search_key(" ".join(row[1:]))} for row in rows]
        fill = (
            sa.update(table)
            .where(table.c.id == sa.bindparam("row_id", type_=sa.Uuid()))
            .values(search_key=sa.bindparam("key"))
        )
        for start in range(0, len(keys), _BATCH):
            bind.execute(fill, keys[start : start + _BATCH])
        with op.batch_alter_table(table.name, schema=None) as batch_op:
            batch_op.alter_column("search_key", existing_type=sa.Text(), nullable=False)


def downgrade() -> None:
    for table in _NAMES:
        with op.batch_alter_table(table.name, schema=None) as batch_op:
            batch_op.drop_column("search_key")

"""The clear columns of the schema before revision 0004 (the INS, the contact channels), read and
emptied once by the sealing step of ``dmp db upgrade`` (``services.migration``), at revision
0003. Nothing else touches them: they are dropped by revision 0004, which is why they are
described here and not in ``tables``.

Each read takes a page of the rows still to do: the step runs in short transactions, and an
interrupted upgrade resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Connection,
    LargeBinary,
    String,
    Text,
    Uuid,
    column,
    delete,
    func,
    insert,
    or_,
    select,
    table,
    update,
)

from dmp.adapters.db import tables as t
from dmp.domain.trail import AuditEntry

_records = table(
    "records",
    column("dmp_id", Uuid),
    column("ins", String),
    column("ins_index", String),
    column("ins_enc", LargeBinary),
    column("state", String),
)
_tombstones = table(
    "tombstones", column("id", Uuid), column("ins", String), column("ins_index", String)
)
_accounts = table(
    "accounts",
    column("id", Uuid),
    column("email", String),
    column("phone", String),
    column("email_enc", LargeBinary),
    column("phone_enc", LargeBinary),
)
# The outbox as the sealing step finds it, at revision 0003 (the delivery's columns come later).
_outbox = table(
    "outbox",
    column("id", Uuid),
    column("recipient_kind", String),
    column("params", Text),
    column("contact_enc", LargeBinary),
    column("sent_at", t.UTCDateTime()),
)
_entries = t.audit_entries
CLEAR_INS_TARGET = "ins"  # the audit target kind of an INS, before its blind index


@dataclass(frozen=True, slots=True)
class ClearRecord:
    """A DMP whose INS is still in clear."""

    dmp_id: UUID
    ins: str
    state: str


@dataclass(frozen=True, slots=True)
class ClearTombstone:
    id: UUID
    ins: str


@dataclass(frozen=True, slots=True)
class ClearAccount:
    """An account whose contact channels are still in clear."""

    id: UUID
    email: str | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class ClearMessage:
    """A message to a bare address whose parameters still carry it."""

    id: UUID
    params: str
    sent_at: datetime | None


class LegacyRepository:
    """The rows that still hold a clear value, a page at a time, and their sealed replacement."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def records(self, limit: int) -> list[ClearRecord]:
        stmt = select(_records.c.dmp_id, _records.c.ins, _records.c.state)
        stmt = stmt.where(_records.c.ins.is_not(None)).order_by(_records.c.dmp_id)
        return [ClearRecord(*row) for row in self.conn.execute(stmt.limit(limit))]

    def seal_record(self, dmp_id: UUID, ins_index: str, ins_enc: bytes | None) -> None:
        self.conn.execute(
            update(_records)
            .where(_records.c.dmp_id == dmp_id)
            .values(ins_index=ins_index, ins_enc=ins_enc, ins=None)
        )

    def tombstones(self, limit: int) -> list[ClearTombstone]:
        stmt = select(_tombstones.c.id, _tombstones.c.ins).where(_tombstones.c.ins.is_not(None))
        rows = self.conn.execute(stmt.order_by(_tombstones.c.id).limit(limit))
        return [ClearTombstone(*row) for row in rows]

    def seal_tombstone(self, tombstone_id: UUID, ins_index: str) -> None:
        self.conn.execute(
            update(_tombstones)
            .where(_tombstones.c.id == tombstone_id)
            .values(ins_index=ins_index, ins=None)
        )

    def accounts(self, limit: int) -> list[ClearAccount]:
        stmt = select(_accounts.c.id, _accounts.c.email, _accounts.c.phone).where(
            or_(_accounts.c.email.is_not(None), _accounts.c.phone.is_not(None))
        )
        rows = self.conn.execute(stmt.order_by(_accounts.c.id).limit(limit))
        return [ClearAccount(*row) for row in rows]

    def seal_account(
        self, account_id: UUID, email_enc: bytes | None, phone_enc: bytes | None
    ) -> None:
        self.conn.execute(
            update(_accounts)
            .where(_accounts.c.id == account_id)
            .values(email_enc=email_enc, phone_enc=phone_enc, email=None, phone=None)
        )

    def contact_messages(self, limit: int) -> list[ClearMessage]:
        """Messages to a bare address whose parameters still carry it."""
        stmt = select(_outbox.c.id, _outbox.c.params, _outbox.c.sent_at).where(
            _outbox.c.recipient_kind == "contact",
            or_(_outbox.c.params.like('%"email"%'), _outbox.c.params.like('%"phone"%')),
        )
        rows = self.conn.execute(stmt.order_by(_outbox.c.id).limit(limit))
        return [ClearMessage(*row) for row in rows]

    def rewrite_message(self, outbox_id: UUID, params: str, contact_enc: bytes | None) -> None:
        self.conn.execute(
            update(_outbox)
            .where(_outbox.c.id == outbox_id)
            .values(params=params, contact_enc=contact_enc)
        )

    def chains_naming_ins(self) -> list[tuple[UUID, int]]:
        """The audit chains with an entry whose target is a clear INS, and the first such
        entry's number."""
        stmt = (
            select(_entries.c.dmp_id, func.min(_entries.c.seq))
            .where(_entries.c.target_kind == CLEAR_INS_TARGET)
            .group_by(_entries.c.dmp_id)
        )
        return [(chain, first) for chain, first in self.conn.execute(stmt)]

    def entries(self, chain: UUID, from_seq: int, limit: int) -> list[AuditEntry]:
        stmt = select(_entries).where(_entries.c.dmp_id == chain, _entries.c.seq >= from_seq)
        rows = self.conn.execute(stmt.order_by(_entries.c.seq).limit(limit)).mappings()
        return [AuditEntry(**row) for row in rows]

    def replace_entries(self, chain: UUID, entries: Sequence[AuditEntry]) -> None:
        """Put these entries in the place of those of the same numbers. The append-only trigger
        lets a chain's entries be deleted only while its id is in ``audit_purges``: the same
        door as a destruction, open for this statement only."""
        numbers = [entry.seq for entry in entries]
        self.conn.execute(insert(t.audit_purges).values(dmp_id=chain))
        self.conn.execute(
            delete(_entries).where(_entries.c.dmp_id == chain, _entries.c.seq.in_(numbers))
        )
        self.conn.execute(delete(t.audit_purges).where(t.audit_purges.c.dmp_id == chain))
        self.conn.execute(insert(_entries), [asdict(entry) for entry in entries])

    def move_head(self, chain: UUID, head: dict[str, Any]) -> None:
        self.conn.execute(
            update(t.audit_heads).where(t.audit_heads.c.dmp_id == chain).values(**head)
        )

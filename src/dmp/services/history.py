"""The access history the patient reads: "qui a accédé à votre DMP, quand et pour quoi faire",
refused attempts included, newest first, a page at a time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from dmp import policy
from dmp.adapters.db.repositories import RowMap
from dmp.domain.model import Actor
from dmp.services import gate
from dmp.services.context import Context
from dmp.services.gate import Door, Reading

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    seq: int
    at: datetime
    actor_kind: str
    actor_label: str
    profession: str | None
    establishment: str | None
    mode: str
    action: str
    target_kind: str | None
    target_id: str | None
    allowed: bool
    reason: str
    justification: str | None


@dataclass(frozen=True, slots=True)
class HistoryPage:
    entries: list[HistoryEntry]
    next_before: int | None  # pass as ``before_seq`` for the next (older) page


def _entry(ctx: Context, door: Door, row: RowMap, labels: dict[str, str]) -> HistoryEntry:
    justification = None
    if row["justification_enc"] is not None:
        justification = door.cipher.open("justification", row["seq"], row["justification_enc"])
    return HistoryEntry(
        seq=row["seq"],
        at=row["at"],
        actor_kind=row["actor_kind"],
        actor_label=labels.get(row["actor_rpps"] or "", _ACTOR_LABELS.get(row["actor_kind"], "")),
        profession=ctx.valuesets.professions.get(row["profession"] or ""),
        establishment=row["establishment"],
        mode=row["mode"],
        action=row["action"],
        target_kind=row["target_kind"],
        target_id=row["target_id"],
        allowed=row["outcome"] == "allowed",
        reason=row["reason"],
        justification=justification,
    )


_ACTOR_LABELS = {
    "patient": "Vous",
    "representative": "Représentant légal",
    "system": "Le service DMP",
}


def read_history(
    ctx: Context, actor: Actor, dmp_id: UUID, *, before_seq: int | None = None, limit: int = 50
) -> HistoryPage:
    limit = max(1, min(limit, MAX_PAGE))
    with ctx.uow() as uow:
        door = gate.enter(ctx, uow, Reading(actor), "history.read", dmp_id, policy.read_history)
        entries = entries_of(ctx, door, before_seq=before_seq, limit=limit)
        door.record()
        uow.commit()
    more = len(entries) == limit and entries[-1].seq > 1
    return HistoryPage(entries, entries[-1].seq if more else None)


def entries_of(
    ctx: Context,
    door: Door,
    *,
    before_seq: int | None = None,
    limit: int = 50,
    keep: Callable[[RowMap], bool] = lambda row: True,
) -> list[HistoryEntry]:
    """The newest entries of the DMP's history this person may see (and ``keep`` keeps), older
    than ``before_seq``, at most ``limit``: the minor's secrets are kept from the parents."""
    uow, cursor = door.uow, before_seq
    rows: list[RowMap] = []
    while len(rows) < limit:
        page = uow.audit.page(door.dmp_id, before_seq=cursor, limit=limit)
        if not page:
            break
        rows += [r for r in page if policy.sees_history_entry(door.access, r["secret"]) and keep(r)]
        cursor = page[-1]["seq"]
    rows = rows[:limit]
    labels = {}
    for rpps in {r["actor_rpps"] for r in rows if r["actor_rpps"]}:
        pro = uow.directory.professional_by_rpps(rpps)
        if pro is not None:
            labels[rpps] = pro.display_name
    return [_entry(ctx, door, r, labels) for r in rows]

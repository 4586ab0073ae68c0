"""Scheduled jobs, run together by ``dmp jobs run`` (e.g. every hour from cron or a timer).

- write a checkpoint to the audit trail's witness first, before the jobs move any chain (and so
  that the witness is written to even where no server runs);
- destroy the DMPs closed for more than ten years, and finish destructions cut short by a crash;
- tell the patient, after 14 days, that a document hidden from them awaits a consultation;
- reveal such a document one month after it was submitted;
- remove content, temporary files and keys that no committed row refers to (left by a crash
  mid-submission);
- send the queued notifications (``services.delivery``; ``dmp serve`` sends them too, every few
  seconds), and report those that failed for good or whose send is uncertain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from dmp import policy
from dmp.adapters.blobs import parse_key
from dmp.domain.model import SystemActor
from dmp.services import gate
from dmp.services.common import french_date, notify_patient
from dmp.services.context import Context
from dmp.services.delivery import DeliveryReport, dispatch
from dmp.services.gate import Reading
from dmp.services.records import finish_destruction
from dmp.services.witness import checkpoint

RETENTION_YEARS = 10
HIDDEN_NOTICE_AFTER = timedelta(days=14)
ORPHAN_GRACE = timedelta(hours=1)  # longer than any upload may take
JOBS = SystemActor("jobs")
_READING = Reading(JOBS)


@dataclass(frozen=True, slots=True)
class JobReport:
    checkpoint: int
    destroyed: int
    notices: int
    revealed: int
    orphans: int
    delivery: DeliveryReport

    def lines(self) -> list[str]:
        return [
            f"Point de contrôle du témoin écrit : n° {self.checkpoint}",
            f"DMP détruits (fermés depuis plus de {RETENTION_YEARS} ans) : {self.destroyed}",
            f"Patients prévenus d'un document en attente d'annonce : {self.notices}",
            f"Documents rendus visibles au patient après un mois : {self.revealed}",
            f"Contenus et clés orphelins supprimés : {self.orphans}",
            *self.delivery.lines(),
        ]


def months_before(moment: datetime, months: int) -> datetime:
    """The same day ``months`` calendar months earlier (the 31st falls back to the month's end)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = moment.day
    while True:
        try:
            return moment.replace(year=year, month=month + 1, day=day)
        except ValueError:
            day -= 1


def _years_before(moment: datetime, years: int) -> datetime:
    return months_before(moment, 12 * years)


def destroy_expired(ctx: Context) -> int:
    cutoff = _years_before(ctx.now(), RETENTION_YEARS)
    with ctx.uow() as uow:
        expired = uow.records.closed_before(cutoff)
        pending = uow.records.being_destroyed()
        for dmp_id in expired:
            door = gate.run_job(ctx, uow, _READING, "record.destroy", dmp_id, policy.Job.RETENTION)
            if door is not None:
                door.record()
                uow.records.mark_destroying(dmp_id)
        uow.commit()
    for dmp_id in expired:
        finish_destruction(ctx, dmp_id, "retention")
    for dmp_id in pending:
        finish_destruction(ctx, dmp_id, "patient")
    return len(expired) + len(pending)


def hidden_documents(ctx: Context) -> tuple[int, int]:
    """Notices after 14 days, automatic reveal after one month."""
    now = ctx.now()
    notices = revealed = 0
    with ctx.uow() as uow:
        for doc in uow.documents.hidden_since_before(now - HIDDEN_NOTICE_AFTER, unnoticed=True):
            job = policy.Job.ANNOUNCEMENT_PENDING
            door = gate.run_job(ctx, uow, _READING, "document.hidden-notice", doc.dmp_id, job)
            if door is None:
                continue
            uow.documents.update(doc.dmp_id, doc.id, hidden_notice_at=now)
            notify_patient(door, "hidden_document_pending")
            door.record(target=("document", doc.id))
            notices += 1
        for doc in uow.documents.hidden_since_before(months_before(now, 1), unnoticed=False):
            job = policy.Job.ANNOUNCEMENT_OVERDUE
            door = gate.run_job(ctx, uow, _READING, "document.reveal", doc.dmp_id, job)
            if door is None:
                continue
            uow.documents.update(
                doc.dmp_id, doc.id, invisible_patient=False, hidden_since=None, updated_at=now
            )
            notify_patient(door, "document_added", date=french_date(now))
            door.record(target=("document", doc.id))
            revealed += 1
        uow.commit()
    return notices, revealed


def sweep_orphans(ctx: Context) -> int:
    """Content files and keys that no committed row refers to, older than the grace period,
    and the writes a dead process left unfinished (temp files, incomplete S3 uploads)."""
    cutoff = ctx.now() - ORPHAN_GRACE
    removed = ctx.blobs.purge_temp(cutoff)
    with ctx.uow() as uow:
        for blob_key in list(ctx.blobs.list_older_than(cutoff)):
            dmp_id, _name = parse_key(blob_key)
            if not uow.documents.blob_key_exists(dmp_id, blob_key):
                ctx.blobs.delete(blob_key)
                removed += 1
    batch: list[UUID] = []
    for key_id in ctx.keys.store.ids_created_before(cutoff):
        batch.append(key_id)
        if len(batch) == 500:
            removed += _drop_unused_keys(ctx, batch)
            batch = []
    return removed + _drop_unused_keys(ctx, batch)


def _drop_unused_keys(ctx: Context, key_ids: list[UUID]) -> int:
    if not key_ids:
        return 0
    with ctx.uow() as uow:
        used = uow.records.key_owners(key_ids)
    unused = [k for k in key_ids if k not in used]
    for key_id in unused:
        ctx.keys.destroy(key_id)
    return len(unused)


def run_jobs(ctx: Context) -> JobReport:
    written = checkpoint(ctx)
    destroyed = destroy_expired(ctx)
    notices, revealed = hidden_documents(ctx)
    orphans = sweep_orphans(ctx)
    delivery = dispatch(ctx)
    return JobReport(written, destroyed, notices, revealed, orphans, delivery)

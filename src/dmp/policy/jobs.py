"""The service's own scheduled jobs (SPEC §2, §3.3): the delays the rules set, applied by the
service itself, never by a person."""

from __future__ import annotations

from enum import StrEnum

from dmp.policy.decision import Decision, allow


class Job(StrEnum):
    RETENTION = "retention-expired"  # closed for ten years: destroyed
    ANNOUNCEMENT_PENDING = "announcement-pending"  # hidden for 14 days: the patient is told
    ANNOUNCEMENT_OVERDUE = "announcement-overdue"  # hidden for a month: it becomes visible


def scheduled(job: Job) -> Decision:
    """A scheduled job acts because its delay has run out, which the job's own query checks: ten
    years after closure the DMP is destroyed; 14 days after a document was hidden from the patient
    until the announcement consultation, the patient is told one awaits; after a month it becomes
    visible. The decision is the delay itself, written to the trail as the reason."""
    return allow(job.value)

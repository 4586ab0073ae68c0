"""Dates as a patient reads them: in French, in the time of France (« 3 mars 2026 à 14 h 05 »).
Shared by the pages and by the sentences of the access history."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
_MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def day_fr(moment: datetime | date | None) -> str:
    """« 3 mars 2026 »; a moment, on its day in France (a document of 1 March 00:30 in Paris
    is dated 28 February in UTC)."""
    if moment is None:
        return ""
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        moment = moment.astimezone(PARIS)
    return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}"


def moment_fr(moment: datetime | None) -> str:
    """« 3 mars 2026 à 14 h 05 », in the time of France."""
    if moment is None:
        return ""
    local = moment.astimezone(PARIS)
    return f"{day_fr(local)} à {local.hour} h {local.minute:02d}"

"""ITI-67 Find Document References: search parameters → ``DocumentQuery``, and paging.

- ``status``: ``current``, ``superseded`` (``entered-in-error`` finds nothing: deleted documents
  are never shown); absent: both;
- ``archived`` (DMP): ``false`` (default) leaves archived documents out, ``true`` gives only
  them, ``true,false`` both. An archived document has the FHIR status ``current``;
- ``type``, ``category``, ``security-label``: tokens (``system|code`` or ``code``), comma = or;
- ``creation``, ``period``: dates with ``ge``/``gt``/``le``/``lt``/``eq`` prefixes, repeatable
  (a time without zone is read as UTC);
- ``author.identifier`` (or ``author``): the RPPS of the author;
- ``_count`` (20 by default, 100 at most) and ``_offset``; ``total`` counts only what the reader
  may see.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from dmp.domain.inputs import check_code
from dmp.domain.model import DocStatus
from dmp.errors import InvalidInput
from dmp.services.documents import DocumentQuery

DEFAULT_COUNT = 20
MAX_COUNT = 100
_STATUS = {
    "current": {DocStatus.CURRENT},
    "superseded": {DocStatus.SUPERSEDED},
    "entered-in-error": set(),
}
_DATE = re.compile(
    "(?P<prefix>eq|ge|gt|le|lt)?(?P<year>[0-9]{4})(?:-(?P<month>[0-9]{2})(?:-(?P<day>[0-9]{2})"
    "(?P<time>T.+)?)?)?"
)
_TINY = timedelta(microseconds=1)


def _bad(text: str) -> InvalidInput:
    return InvalidInput(text, code="search")


def tokens(value: str | None, name: str) -> frozenset[str]:
    """The codes of a token parameter (``system|code``, comma-separated), without systems."""
    if not value:
        return frozenset()
    codes = (part.rsplit("|", 1)[-1].strip() for part in value.split(",") if part.strip())
    return frozenset(check_code(code, f"Paramètre « {name} »", "search") for code in codes)


def statuses(status: str | None, archived: str | None) -> frozenset[DocStatus]:
    wanted: set[DocStatus] = set()
    for code in tokens(status, "status") or {"current", "superseded"}:
        if code not in _STATUS:
            raise _bad(f"Statut inconnu : {code[:30]} (current, superseded, entered-in-error).")
        wanted |= _STATUS[code]
    flags = tokens(archived, "archived") or {"false"}
    if not flags <= {"true", "false"}:
        raise _bad("archived : true, false ou true,false.")
    if DocStatus.CURRENT in wanted:
        wanted.discard(DocStatus.CURRENT)
        wanted |= {DocStatus.CURRENT} if "false" in flags else set()
        wanted |= {DocStatus.ARCHIVED} if "true" in flags else set()
    # Nothing wanted: ask for deleted documents, which no one reads — an audited empty answer.
    return frozenset(wanted or {DocStatus.DELETED})


def _bounds(text: str) -> tuple[str, datetime, datetime]:
    """The prefix and the range [low, high] that a FHIR date value of any precision covers
    (ASCII digits only: the pattern says ``[0-9]``, not ``\\d``)."""
    found = _DATE.fullmatch(text.strip())
    if found is None:
        raise _bad(f"Date de recherche invalide : {text[:40]!r}.")
    try:
        return found["prefix"] or "eq", *_range(found)
    except ValueError:
        raise _bad(f"Date de recherche invalide : {text[:40]!r}.") from None
    except OverflowError:  # the last month or day of year 9999
        raise _bad(f"Date de recherche hors limites : {text[:40]!r}.") from None


def _range(found: re.Match[str]) -> tuple[datetime, datetime]:
    if found["time"]:
        moment = datetime.fromisoformat(found.group()[len(found["prefix"] or "") :])
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return moment, moment
    year, month, day = int(found["year"]), int(found["month"] or 1), int(found["day"] or 1)
    low = datetime(year, month, day, tzinfo=UTC)
    if found["day"]:
        high = low + timedelta(days=1)
    elif found["month"]:
        high = (low + timedelta(days=32)).replace(day=1)
    else:
        high = low.replace(year=year + 1) if year < 9999 else datetime.max.replace(tzinfo=UTC)
    return low, high - _TINY


def date_range(values: list[str] | None) -> tuple[datetime | None, datetime | None]:
    """The intersection of the date conditions: (from, to), both inclusive."""
    start: datetime | None = None
    end: datetime | None = None
    for value in values or []:
        prefix, low, high = _bounds(value)
        try:
            lower = {"eq": low, "ge": low, "gt": high + _TINY}.get(prefix)
            upper = {"eq": high, "le": high, "lt": low - _TINY}.get(prefix)
        except OverflowError:
            raise _bad(f"Date de recherche hors limites : {value[:40]!r}.") from None
        if lower is not None:
            start = lower if start is None else max(start, lower)
        if upper is not None:
            end = upper if end is None else min(end, upper)
    return start, end


def query(
    *,
    status: str | None,
    archived: str | None,
    type_: str | None,
    category: str | None,
    security_label: str | None,
    author: str | None,
    creation: list[str] | None,
    period: list[str] | None,
) -> DocumentQuery:
    created_from, created_to = date_range(creation)
    period_from, period_to = date_range(period)
    return DocumentQuery(
        statuses=statuses(status, archived),
        type_codes=tokens(type_, "type"),
        class_codes=tokens(category, "category"),
        security_labels=tokens(security_label, "security-label"),
        author_rpps=tokens(author, "author.identifier"),
        created_from=created_from,
        created_to=created_to,
        period_from=period_from,
        period_to=period_to,
    )

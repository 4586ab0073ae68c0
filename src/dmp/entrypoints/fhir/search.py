"""Search parameters (FHIR R4 search.html, IHE MHD ITI-67): the values of each parameter, read
the same way for every search; what each means for documents is in ``documents_query``.

- token parameters (``system|code`` or ``code``): a comma is an "or", a repeated parameter an
  "and";
- date parameters: ``ge``/``gt``/``le``/``lt``/``eq`` prefixes, repeatable (an "and"; a time
  without zone is read as UTC);
- a parameter the server does not know is ignored and left out of the ``self`` link, or, with
  ``Prefer: handling=strict``, refused (400) with its name;
- ``_count`` (20 by default, 100 at most) and ``_offset``; ``total`` counts only what the
  reader may see.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from dmp.domain.inputs import ascii_int, check_code
from dmp.domain.model import DocStatus
from dmp.errors import InvalidInput
from dmp.services.documents import folded

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


NOTHING = frozenset({""})  # an "and" of codes no value can satisfy: no code is empty


def tokens(value: str | None, name: str) -> frozenset[str]:
    """The codes of a token parameter (``system|code``, comma-separated), without systems."""
    if not value:
        return frozenset()
    codes = (part.rsplit("|", 1)[-1].strip() for part in value.split(",") if part.strip())
    return frozenset(check_code(code, f"Paramètre « {name} »", "search") for code in codes)


def all_tokens(values: list[str], name: str) -> frozenset[str]:
    """A token parameter given several times: each time an "or" of codes, together an "and"."""
    found: frozenset[str] | None = None
    for value in values:
        codes = tokens(value, name)
        found = codes if found is None else found & codes
    return frozenset() if found is None else (found or NOTHING)


def statuses(status: str | None, archived: str | None) -> frozenset[DocStatus]:
    """``status``: ``current``, ``superseded`` (``entered-in-error`` finds nothing: deleted
    documents are never shown); absent: both. ``archived`` (DMP): ``false`` (default) leaves
    archived documents out, ``true`` gives only them, ``true,false`` both; an archived document
    has the FHIR status ``current``."""
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


def strings(values: list[str]) -> tuple[str, ...]:
    """A string parameter: each value (a comma is an "or") as FHIR compares strings, from their
    start, without case or accents (``dmp.services.documents.folded``)."""
    return tuple(folded(v.strip()) for value in values for v in value.split(",") if v.strip())


def number(text: str | None, name: str, default: int, most: int) -> int:
    if text is None:
        return default
    found = ascii_int(text.strip())
    if found is None or found > most:
        raise _bad(f"Paramètre « {name} » : un nombre entier de 0 à {most} est attendu.")
    return found


@dataclass(frozen=True, slots=True)
class Parameters:
    """The parameters of a search the server knows (the others ignored, or refused when the
    client asked for strict handling), in the order given."""

    pairs: tuple[tuple[str, str], ...]

    @classmethod
    def read(
        cls, given: Iterable[tuple[str, str]], known: Iterable[str], strict: bool
    ) -> Parameters:
        names = frozenset(known)
        given = [(name, value) for name, value in given if value.strip()]
        unknown = sorted({name for name, _ in given if name not in names})
        if unknown and strict:
            raise InvalidInput(
                f"Paramètre de recherche inconnu : {', '.join(n[:40] for n in unknown[:5])} "
                f"(Prefer: handling=strict). Paramètres pris en charge : "
                f"{', '.join(sorted(names))}.",
                code="search-parameter",
            )
        return cls(tuple((name, value) for name, value in given if name in names))

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]

    def one(self, name: str) -> str | None:
        """The value of a parameter that is not repeated (given twice: refused)."""
        found = self.all(name)
        if len(found) > 1:
            raise _bad(f"Le paramètre « {name} » est donné plusieurs fois.")
        return found[0] if found else None

    def link(self, base: str, **replaced: int) -> str:
        """The URL of this search with some parameters replaced (``_offset``, ``_count``)."""
        pairs = [(n, v) for n, v in self.pairs if n not in {f"_{k}" for k in replaced}]
        pairs += [(f"_{name}", str(value)) for name, value in replaced.items()]
        return f"{base}?{urlencode(pairs)}" if pairs else base

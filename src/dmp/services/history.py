"""The access history the patient reads: "qui a accédé à votre DMP, quand et pour quoi faire",
refused attempts included, newest first, a page at a time, each entry as a French sentence
(``services.wording``).

Everything through the door, in one transaction: the entries (filtered and paged by the SQL
statement, so that a long history is never read whole), the names the sentences need, the titles
of the documents this reader may read now — and the audit entry of the read itself. A legal
representative never sees the minor's secret entries (``policy.sees_history_entry``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from uuid import UUID

from dmp import policy
from dmp.adapters.db.repositories import HistoryFilter
from dmp.adapters.fieldcipher import FieldCipher
from dmp.domain.directory import ListedProfessional
from dmp.domain.french import PARIS
from dmp.domain.model import Actor, PatientActor, RepresentativeActor
from dmp.domain.trail import AuditEntry
from dmp.errors import InvalidInput
from dmp.services import gate
from dmp.services.context import Context
from dmp.services.gate import Door, Reading, identity_from_json
from dmp.services.wording import READER, Person, Said, Wording, person, wording

PAGE = 50
MAX_PAGE = 200
MAX_PERSONS = 200  # the choice of person lists at most this many
VOUS, SERVICE = "vous", "service"


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """What the reader asks to see. Everything by default; the portal leaves out the reader's
    own page views unless asked (``own_views``)."""

    who: str | None = None  # VOUS, SERVICE, or the id of an actor (a professional, an account)
    kind: str | None = None  # a kind of data/history.yaml
    since: date | None = None  # days in the time of France, both included
    until: date | None = None
    own_views: bool = True
    actor_kinds: frozenset[str] | None = None  # e.g. the professionals only (the overview)


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
    sentence: str  # the entry as the reader reads it


@dataclass(frozen=True, slots=True)
class HistoryPage:
    entries: list[HistoryEntry]
    next_before: int | None  # pass as ``before_seq`` for the next (older) page


@dataclass(frozen=True, slots=True)
class Choice:
    key: str
    label: str


@dataclass(frozen=True, slots=True)
class HistoryView:
    """What the history's page shows: a page of entries, and the choices of its filter."""

    page: HistoryPage
    persons: list[Choice]
    kinds: list[Choice]
    patient_name: str


def read_history(
    ctx: Context,
    actor: Actor,
    dmp_id: UUID,
    query: HistoryQuery = HistoryQuery(),
    *,
    before_seq: int | None = None,
    limit: int = PAGE,
) -> HistoryPage:
    """A page of the history (one audit entry for the read)."""
    return _read(ctx, actor, dmp_id, query, before_seq, limit, persons=False).page


def history_view(
    ctx: Context,
    actor: Actor,
    dmp_id: UUID,
    query: HistoryQuery,
    *,
    before_seq: int | None = None,
    limit: int = PAGE,
) -> HistoryView:
    """The history's page: a page of entries, and who may be chosen in its filter."""
    return _read(ctx, actor, dmp_id, query, before_seq, limit, persons=True)


def _read(
    ctx: Context,
    actor: Actor,
    dmp_id: UUID,
    query: HistoryQuery,
    before_seq: int | None,
    limit: int,
    *,
    persons: bool,
) -> HistoryView:
    limit = max(1, min(limit, MAX_PAGE))
    with ctx.uow() as uow:
        door = gate.enter(ctx, uow, Reading(actor), "history.read", dmp_id, policy.read_history)
        page = entries_of(ctx, door, query, before_seq=before_seq, limit=limit)
        chosen = _persons(ctx, door) if persons else []
        identity = door.loaded.identity
        door.record()
        uow.commit()
    kinds = [Choice(k.key, k.label) for k in wording().kinds.values()]
    return HistoryView(page, chosen, kinds, f"{identity.given_names} {identity.family_name}")


def entries_of(
    ctx: Context,
    door: Door,
    query: HistoryQuery = HistoryQuery(),
    *,
    before_seq: int | None = None,
    limit: int = PAGE,
) -> HistoryPage:
    """The newest entries of the DMP's history that this person may see and ``query`` keeps,
    older than ``before_seq``, at most ``limit``, as sentences."""
    wanted = _filter(door, query, before_seq)
    found = door.uow.audit.history(door.dmp_id, wanted, limit + 1)
    more = len(found) > limit
    found = [e for e in found[:limit] if policy.sees_history_entry(door.access, e.secret)]
    names = _Names.gather(ctx, door, found)
    entries = [names.entry(door, entry) for entry in found]
    return HistoryPage(entries, entries[-1].seq if more and entries else None)


# --- the query as SQL conditions ----------------------------------------------------------------


def _reader(door: Door) -> str | None:
    actor = door.actor
    return str(actor.account_id) if isinstance(actor, PatientActor | RepresentativeActor) else None


def _filter(door: Door, query: HistoryQuery, before_seq: int | None) -> HistoryFilter:
    w, reader = wording(), _reader(door)
    actor_id, actor_kinds = None, query.actor_kinds
    if query.who == VOUS:
        actor_id = reader
    elif query.who == SERVICE:
        actor_kinds = frozenset({"system"})
    elif query.who:
        actor_id = _checked_who(query.who)
    actions = modes = outcome = None
    if query.kind:
        kind = w.kinds.get(query.kind)
        if kind is None:
            raise InvalidInput("Ce type d'action n'existe pas.", code="history-kind")
        modes, outcome = kind.modes or None, kind.outcome
        actions = None if modes or outcome else w.actions_of(kind.key)
    since, until = _bounds(query.since, query.until)
    hidden = None if query.own_views or reader is None else (reader, w.view_actions)
    return HistoryFilter(
        before_seq=before_seq,
        actions=actions,
        modes=modes,
        outcome=outcome,
        actor_id=actor_id,
        actor_kinds=actor_kinds,
        since=since,
        until=until,
        public_only=not policy.sees_history_entry(door.access, True),
        hidden=hidden,
    )


def _checked_who(who: str) -> str:
    if len(who) > 64 or not who.isascii():
        raise InvalidInput("Cette personne n'existe pas dans l'historique.", code="history-who")
    return who


def _bounds(since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
    """The days asked for, in the time of France, as instants: from the first day's midnight to
    the midnight after the last day."""
    if since is not None and until is not None and since > until:
        raise InvalidInput("La date de début doit précéder la date de fin.", code="history-dates")
    start = datetime.combine(since, time.min, PARIS) if since else None
    end = datetime.combine(until + timedelta(days=1), time.min, PARIS) if until else None
    return start, end


# --- the names the sentences need ----------------------------------------------------------------


def _uuid(text: str | None) -> UUID | None:
    try:
        return UUID(text) if text else None
    except ValueError:
        return None


def _ids(named: Iterable[tuple[str | None, str | None]], kind: str) -> list[UUID]:
    """The ids of this kind among (kind, id) pairs."""
    found = (_uuid(named_id) for named_kind, named_id in named if named_kind == kind)
    return [i for i in found if i is not None]


@dataclass(frozen=True, slots=True)
class _ActorOnly:
    """An actor of the chain, with what ``_Names`` reads of an entry (no profession, no
    establishment, no target)."""

    actor_kind: str
    actor_id: str | None
    profession: str | None = None
    establishment: str | None = None
    target_kind: str | None = None
    target_id: str | None = None


Mention = AuditEntry | _ActorOnly  # whom and what an entry names


@dataclass
class _Names:
    """Who and what the entries of a page name, looked up once for the page."""

    ctx: Context
    wording: Wording
    reader: str | None
    patient: str
    professionals: Mapping[UUID, ListedProfessional] = field(default_factory=dict)
    establishments: dict[UUID | str, str] = field(default_factory=dict)
    representatives: dict[UUID, str] = field(default_factory=dict)
    titles: dict[UUID, str] = field(default_factory=dict)

    @classmethod
    def gather(cls, ctx: Context, door: Door, mentions: Sequence[Mention]) -> _Names:
        identity = door.loaded.identity
        names = cls(ctx, wording(), _reader(door), f"{identity.given_names} {identity.family_name}")
        uow = door.uow
        actors = [(m.actor_kind, m.actor_id) for m in mentions]
        targets = [(m.target_kind, m.target_id) for m in mentions]
        pros = _ids(actors, "professional") + _ids(targets, "professional")
        names.professionals = uow.directory.named(pros)
        finess = [m.establishment for m in mentions if m.establishment]
        places = _ids(targets, "establishment")
        names.establishments = uow.directory.establishment_names(places, finess)
        if any(m.actor_kind == "representative" for m in mentions):
            names.representatives = _representatives(door)
        names.titles = _titles(ctx, door, _ids(targets, "document"))
        return names

    def entry(self, door: Door, entry: AuditEntry) -> HistoryEntry:
        actor = self.actor(entry)
        justification = None
        if entry.justification_enc is not None:
            justification = door.cipher.open("justification", entry.seq, entry.justification_enc)
        target_id = _uuid(entry.target_id)
        said = Said(
            at=entry.at,
            action=entry.action,
            allowed=entry.outcome == "allowed",
            reason=entry.reason,
            mode=entry.mode,
            actor=actor,
            justification=justification,
            document=self.title(entry.target_kind, target_id),
            target=self.target(entry.target_kind, target_id),
            choices=entry.target_id if entry.target_kind == "oppositions" else None,
        )
        return HistoryEntry(
            seq=entry.seq,
            at=entry.at,
            actor_kind=entry.actor_kind,
            actor_label=self.name(entry) or actor.subject.rstrip(","),
            profession=self.ctx.valuesets.professions.get(entry.profession or ""),
            establishment=entry.establishment,
            mode=entry.mode,
            action=entry.action,
            target_kind=entry.target_kind,
            target_id=entry.target_id,
            allowed=said.allowed,
            reason=entry.reason,
            justification=justification,
            sentence=self.wording.sentence(said),
        )

    def actor(self, mention: Mention) -> Person:
        kind, actor_id = mention.actor_kind, mention.actor_id
        if kind in ("patient", "representative") and actor_id == self.reader:
            return READER
        if kind == "professional":
            return self.professional(_uuid(actor_id), mention.profession, mention.establishment)
        if kind == "patient":
            return person(self.patient)
        if kind == "representative":
            name = self.representatives.get(_uuid(actor_id) or UUID(int=0))
            return (
                self.wording.representative_named(name) if name else person("Un représentant légal")
            )
        return self.wording.system_actor(actor_id or "")

    def professional(
        self, professional_id: UUID | None, profession: str | None, finess: str | None
    ) -> Person:
        found = self.professionals.get(professional_id or UUID(int=0))
        if found is None:
            return person("Un professionnel de santé", professional=True)
        code = profession or found.profession
        return self.wording.professional(
            f"{found.given_name} {found.family_name}",
            code,
            self.ctx.valuesets.professions.get(code),
            self.establishments.get(finess) if finess else None,
        )

    def name(self, mention: Mention) -> str | None:
        """A professional's name alone (« Bruno Martin »), as the directory has it."""
        found = self.professionals.get(_uuid(mention.actor_id) or UUID(int=0))
        if mention.actor_kind != "professional" or found is None:
            return None
        return f"{found.given_name} {found.family_name}"

    def title(self, kind: str | None, target_id: UUID | None) -> str | None:
        """The document's title, if the entry names one this reader may read now."""
        return self.titles.get(target_id) if kind == "document" and target_id else None

    def target(self, kind: str | None, target_id: UUID | None) -> Person | None:
        if kind == "professional":
            return self.professional(target_id, None, None)
        if kind == "establishment":
            name = self.establishments.get(target_id or UUID(int=0))
            return person(f"L'établissement {name}" if name else "Un établissement")
        return None


def _representatives(door: Door) -> dict[UUID, str]:
    """The legal representatives' names, sealed under the DMP's key."""
    found = {}
    for row in door.uow.records.representatives(door.dmp_id):
        text = door.cipher.open("representative", row.account_id, row.identity_enc)
        identity = identity_from_json(text)
        found[row.account_id] = f"{identity.given_names} {identity.family_name}"
    return found


def _titles(ctx: Context, door: Door, document_ids: list[UUID]) -> dict[UUID, str]:
    """The titles of the documents this reader may read now; the others stay « un document »
    (a document hidden until the announcement consultation, or kept from the representatives,
    does not tell its title through the history)."""
    readable = door.readable_among(document_ids)
    ctx.keys.prefetch([d.document.id for d in readable], group=door.dmp_id)
    titles = {}
    for found in readable:
        doc_id = found.document.id
        cipher = FieldCipher(door.dmp_id, ctx.keys.get(doc_id))
        titles[doc_id] = cipher.open("title", doc_id, found.document.title_enc)
    return titles


# --- the choice of person -------------------------------------------------------------------------


def _persons(ctx: Context, door: Door) -> list[Choice]:
    """Who may be chosen: the reader (« Vous »), everyone else the history names (the
    minor's secret entries left out for a representative), the service."""
    public_only = not policy.sees_history_entry(door.access, True)
    found = door.uow.audit.actors(door.dmp_id, public_only=public_only, limit=MAX_PERSONS)
    mentions = [_ActorOnly(a.actor_kind, a.actor_id) for a in found]
    names = _Names.gather(ctx, door, mentions)
    mine, others, service = [], [], []
    for mention in mentions:
        actor = names.actor(mention)
        if actor.reader:
            mine = [Choice(VOUS, "Vous")]
        elif mention.actor_kind == "system":
            service = [Choice(SERVICE, "Le service DMP")]
        else:
            others.append(Choice(mention.actor_id or "", _label(actor)))
    return mine + sorted(others, key=lambda c: c.label) + service


def _label(actor: Person) -> str:
    """« Dr Bruno Martin, médecin »: the person as the filter lists them."""
    text = actor.subject.rstrip(",")
    return text[3:] if text.startswith("Le ") else text

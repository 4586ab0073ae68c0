"""Repositories: the only code that writes SQL. They hand back domain objects (never rows) and
decide nothing: the rules are the policy's."""

from __future__ import annotations

from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from itertools import starmap
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal_column,
    not_,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy import Uuid as SqlUuid
from sqlalchemy.dialects import postgresql, sqlite

from dmp.adapters.db import tables as t
from dmp.adapters.db.hot import Hot, HotInsert
from dmp.domain.accounts import Account, Challenge, OneTimeCode, Passkey, StoredSession
from dmp.domain.directory import (
    ApiTokenListing,
    ListedEstablishment,
    ListedProfessional,
    ProfessionalLogin,
)
from dmp.domain.model import Establishment, OutboxState, Professional, RecordFacts, RecordState
from dmp.domain.names import search_key
from dmp.domain.records import (
    AuthoredDocument,
    Authorization,
    Block,
    Consent,
    DocumentKey,
    FirstAccess,
    ListedAuthorization,
    ListedBlock,
    Representative,
    StoredContent,
    StoredDocument,
    StoredRecord,
    Tombstone,
)
from dmp.domain.trail import ActivityEntry, AuditEntry, ChainActor, ChainHead, OutboxMessage

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

RowMap = RowMapping
T = TypeVar("T")
D = TypeVar("D", bound="DataclassInstance")
DESTROYING = "destroying"  # the state of a DMP while its destruction is under way

# The statements of the hot paths (every request authenticates; every read loads its DMP, its
# facts and a document, and appends to the audit chain) are built once: building a statement
# costs as much Python as executing it.
_pro, _est, _tok = t.professionals, t.establishments, t.api_tokens
_SYSTEM_CHAIN = UUID(int=0)  # services.audit.SYSTEM_CHAIN: entries that concern no DMP
_member = t.professional_establishments


def _attached_only_to_excluded(professional_id: ColumnElement[Any]) -> ColumnElement[bool]:
    """Whether the professional has attachments, all of them to excluded organizations (the fact
    policy.acts_only_for_excluded states), as one correlated EXISTS: grouped by professional, no
    attachment leaves no group, and the smallest "excluded" is 1 only when every one is."""
    member, establishment = _member.alias("attachment"), _est.alias("attached_to")
    excluded = case((establishment.c.excluded, 1), else_=0)
    return (
        select(member.c.professional_id)
        .select_from(member.join(establishment, establishment.c.id == member.c.establishment_id))
        .where(member.c.professional_id == professional_id)
        .group_by(member.c.professional_id)
        .having(func.min(excluded) == 1)
        .exists()
    )


def _names_start_with(key: ColumnElement[str], words: Sequence[str]) -> ColumnElement[bool]:
    """Each word begins one of the name's words: the key holds each word after a space
    (domain.names.search_key). A word is made of letters and digits only; escaped all the same."""
    return and_(*(key.contains(f" {word}", autoescape=True) for word in words))


_TOKEN_HOLDER = (
    select(
        _tok.c.expires_at,
        _tok.c.revoked_at,
        *(_pro.c[name] for name in ("id", "rpps", "family_name", "given_name", "profession")),
        *(_pro.c[name] for name in ("specialty", "occupational_health", "samu_regulator")),
        _pro.c.active,
        _attached_only_to_excluded(_pro.c.id).label("only_excluded"),
        _est.c.id.label("est_id"),
        _est.c.finess.label("est_finess"),
        _est.c.name.label("est_name"),
        _est.c.kind.label("est_kind"),
        _est.c.excluded.label("est_excluded"),
        _member.c.establishment_id.label("member_of"),
    )
    .select_from(
        _tok.join(_pro, _pro.c.id == _tok.c.professional_id)
        .outerjoin(_est, _est.c.id == _tok.c.establishment_id)
        .outerjoin(
            _member,
            and_(
                _member.c.professional_id == _tok.c.professional_id,
                _member.c.establishment_id == _tok.c.establishment_id,
            ),
        )
    )
    .where(_tok.c.token_hash == bindparam("token_hash"))
)
_PROFESSIONAL = select(_pro, _attached_only_to_excluded(_pro.c.id).label("only_excluded"))
# What a patient reads of a professional or an establishment in a list: who, what, which number.
_PRO_LISTED = (
    _pro.c.rpps,
    _pro.c.given_name,
    _pro.c.family_name,
    _pro.c.profession,
    _pro.c.specialty,
    _pro.c.occupational_health,
    _pro.c.active,
)
_EST_LISTED = (_est.c.finess, _est.c.name, _est.c.kind)
_PROFESSIONALS_LISTED = select(_pro.c.id, *_PRO_LISTED).order_by(
    _pro.c.family_name, _pro.c.given_name, _pro.c.id
)
_ESTABLISHMENTS_LISTED = select(_est.c.id, *_EST_LISTED).order_by(_est.c.name, _est.c.id)
_auth = t.authorizations
_AUTHORIZATIONS_LISTED = (
    select(_auth.c.subject_kind, _auth.c.subject_id, _auth.c.source, _auth.c.granted_at)
    .add_columns(*_PRO_LISTED, *_EST_LISTED)
    .select_from(
        _auth.outerjoin(
            _pro, and_(_auth.c.subject_kind == "professional", _pro.c.id == _auth.c.subject_id)
        ).outerjoin(
            _est, and_(_auth.c.subject_kind == "establishment", _est.c.id == _auth.c.subject_id)
        )
    )
    .where(_auth.c.dmp_id == bindparam("dmp_id"))
    .order_by(_auth.c.granted_at, _auth.c.subject_id)
)
_BLOCKS_LISTED = (
    select(t.blocks.c.professional_id, t.blocks.c.blocked_at, *_PRO_LISTED)
    .select_from(t.blocks.join(_pro, _pro.c.id == t.blocks.c.professional_id))
    .where(t.blocks.c.dmp_id == bindparam("dmp_id"))
    .order_by(t.blocks.c.blocked_at, t.blocks.c.professional_id)
)
_RECORD_BY_ID = select(t.records).where(t.records.c.dmp_id == bindparam("key"))
_RECORD_BY_INS = select(t.records).where(t.records.c.ins_index == bindparam("key"))
_RECORD_BY_ID_LOCKED = _RECORD_BY_ID.with_for_update()
_RECORD_BY_INS_LOCKED = _RECORD_BY_INS.with_for_update()
# The sets behind a DMP's facts in one round trip: (kind, subject kind, id) rows.
_FACT_SETS = union_all(
    select(
        literal_column("'authorization'").label("fact"),
        t.authorizations.c.subject_kind,
        t.authorizations.c.subject_id,
    ).where(t.authorizations.c.dmp_id == bindparam("dmp_id")),
    select(
        literal_column("'block'"), literal_column("'professional'"), t.blocks.c.professional_id
    ).where(t.blocks.c.dmp_id == bindparam("dmp_id")),
    select(
        literal_column("'representative'"),
        literal_column("'account'"),
        t.representatives.c.account_id,
    ).where(t.representatives.c.dmp_id == bindparam("dmp_id")),
    # Whether the professional who acts opened this DMP before (none bound for anyone else):
    # the first-access notice needs it on every read, in the same round trip.
    select(
        literal_column("'accessed'"),
        literal_column("'professional'"),
        t.accessors.c.professional_id,
    ).where(
        t.accessors.c.dmp_id == bindparam("dmp_id"),
        t.accessors.c.professional_id == bindparam("professional_id", type_=SqlUuid),
    ),
)
_FIRST_ACCESS = select(t.accessors).where(
    t.accessors.c.dmp_id == bindparam("dmp_id"),
    t.accessors.c.professional_id == bindparam("professional_id"),
)
# A document with what its author's label needs (no query per author).
_doc, _author_pro, _author_est = t.documents, _pro.alias("author_pro"), _est.alias("author_est")
_DOCUMENTS_WITH_AUTHORS = select(
    _doc,
    _author_pro.c.rpps.label("author_rpps"),
    _author_pro.c.given_name.label("author_given_name"),
    _author_pro.c.family_name.label("author_family_name"),
    _author_est.c.finess.label("author_finess"),
    _author_est.c.name.label("author_establishment_name"),
).select_from(
    _doc.outerjoin(_author_pro, _author_pro.c.id == _doc.c.author_professional_id).outerjoin(
        _author_est, _author_est.c.id == _doc.c.author_establishment_id
    )
)
# ... and with its contents (one row per content, a row of NULLs for a document without any):
# a read needs them next, and they never change once written.
_content = t.document_contents
_DOCUMENTS_WITH_CONTENTS = _DOCUMENTS_WITH_AUTHORS.add_columns(
    *(column.label(f"content_{column.name}") for column in _content.c)
).outerjoin(_content, and_(_content.c.dmp_id == _doc.c.dmp_id, _content.c.document_id == _doc.c.id))
_DOCUMENT = _DOCUMENTS_WITH_CONTENTS.where(
    _doc.c.dmp_id == bindparam("dmp_id"), _doc.c.id == bindparam("document_id")
).order_by(_content.c.position)
# Newest first; documents sent in one submission share their time and come by their own date.
_DOCUMENTS_OF = _DOCUMENTS_WITH_CONTENTS.where(_doc.c.dmp_id == bindparam("dmp_id")).order_by(
    _doc.c.submitted_at.desc(), _doc.c.creation_time.desc(), _doc.c.id, _content.c.position
)
_STORED_DOCUMENTS = select(_doc)
_MASTER_IDENTIFIER = select(_doc.c.id).where(
    _doc.c.dmp_id == bindparam("dmp_id"),
    _doc.c.master_identifier == bindparam("master_identifier"),
)
_CONTENTS_OF_RECORD = (
    select(_content)
    .where(_content.c.dmp_id == bindparam("dmp_id"))
    .order_by(_content.c.document_id, _content.c.position)
)
_CONTENTS_OF_DOCUMENT = (
    select(_content)
    .where(_content.c.dmp_id == bindparam("dmp_id"))
    .where(_content.c.document_id == bindparam("document_id"))
    .order_by(_content.c.position)
)


def _in_field_order(kind: type[Any], stmt: Any) -> None:
    """Check that ``stmt`` selects the fields of ``kind``, in their order, so that its rows
    build the object by position (``_Repository._built``). Binding a row's values by name costs
    a comparison of names per field and parameter: for a document's forty fields, more than
    running the query, and a consult builds every document of the DMP."""
    names = [field.name for field in fields(kind)]
    if list(stmt.selected_columns.keys()) != names:
        raise TypeError(f"the statement does not select the fields of {kind.__name__} in order")


# The hot paths' objects, built by position: every request loads a DMP, a consult its documents.
_in_field_order(StoredRecord, _RECORD_BY_ID)
_in_field_order(StoredDocument, _STORED_DOCUMENTS)
_in_field_order(AuthoredDocument, _DOCUMENTS_WITH_AUTHORS)
_in_field_order(StoredContent, _CONTENTS_OF_RECORD)
_AUTHORED = len(fields(AuthoredDocument))
if list(_DOCUMENTS_WITH_CONTENTS.selected_columns.keys())[_AUTHORED:] != [
    f"content_{field.name}" for field in fields(StoredContent)
]:
    raise TypeError("the contents do not follow their document in StoredContent's order")
# A head's columns are ChainHead's fields, by name and in order: every append (every read)
# builds its chain's head from the values alone, as cheaply as it read two of them by name.
_AUDIT_HEAD = select(*(t.audit_heads.c[f.name] for f in fields(ChainHead))).where(
    t.audit_heads.c.dmp_id == bindparam("dmp_id")
)
_AUDIT_HEAD_LOCKED = _AUDIT_HEAD.with_for_update()
_AUDIT_HEADS = select(t.audit_heads.c.dmp_id, t.audit_heads.c.seq, t.audit_heads.c.hash)
_AUDIT_HEADS_SINCE = _AUDIT_HEADS.where(t.audit_heads.c.signed_at >= bindparam("since"))
_AUDIT_INSERT = insert(t.audit_entries)
_AUDIT_NEW_HEAD = insert(t.audit_heads)
# SET from the parameters given: seq, hash, signed_at, signature.
_AUDIT_MOVE_HEAD = update(t.audit_heads).where(t.audit_heads.c.dmp_id == bindparam("chain"))
# PostgreSQL: the entry and the head's move in one statement (a data-modifying CTE). Every
# parameter is named explicitly (entry_*, head_*, chain): parameters named after columns would
# also be taken as values of the CTE's UPDATE.
_AUDIT_APPEND_AND_MOVE = (
    insert(t.audit_entries)
    .values({c.name: bindparam(f"entry_{c.name}", type_=c.type) for c in t.audit_entries.c})
    .add_cte(
        update(t.audit_heads)
        .where(t.audit_heads.c.dmp_id == bindparam("chain"))
        .values(
            seq=bindparam("head_seq"),
            hash=bindparam("head_hash"),
            signed_at=bindparam("head_signed_at", type_=t.UTCDateTime()),
            signature=bindparam("head_signature"),
        )
        .cte("moved_head")
    )
)


# The statements of every consult request, run through the driver on PostgreSQL (``hot``).
_TOKEN_HOLDER_KEYS = tuple(_TOKEN_HOLDER.selected_columns.keys())
_HOT_TOKEN_HOLDER = Hot(_TOKEN_HOLDER)
_HOT_RECORD_BY_ID, _HOT_RECORD_BY_ID_LOCKED = Hot(_RECORD_BY_ID), Hot(_RECORD_BY_ID_LOCKED)
_HOT_RECORD_BY_INS, _HOT_RECORD_BY_INS_LOCKED = Hot(_RECORD_BY_INS), Hot(_RECORD_BY_INS_LOCKED)
_HOT_FACT_SETS = Hot(_FACT_SETS)
_HOT_DOCUMENT, _HOT_DOCUMENTS_OF = Hot(_DOCUMENT), Hot(_DOCUMENTS_OF)
_HOT_CONTENTS_OF_RECORD = Hot(_CONTENTS_OF_RECORD)
_HOT_CONTENTS_OF_DOCUMENT = Hot(_CONTENTS_OF_DOCUMENT)
_HOT_AUDIT_HEAD, _HOT_AUDIT_HEAD_LOCKED = Hot(_AUDIT_HEAD), Hot(_AUDIT_HEAD_LOCKED)
_HOT_AUDIT_APPEND_AND_MOVE = Hot(_AUDIT_APPEND_AND_MOVE)
# What an ITI-65 feed writes, and its check of the producer's unique id.
_HOT_MASTER_IDENTIFIER = Hot(_MASTER_IDENTIFIER)
_HOT_ADD_DOCUMENT = HotInsert(t.documents)
_HOT_ADD_CONTENT = HotInsert(t.document_contents)
_HOT_ADD_MESSAGE = HotInsert(t.outbox)
HOT_STATEMENTS = tuple(v for v in list(globals().values()) if isinstance(v, Hot))
HOT_INSERTS = tuple(v for v in list(globals().values()) if isinstance(v, HotInsert))


@dataclass(frozen=True, slots=True)
class Shredding:
    """What the destruction of a DMP destroys: its documents' keys, the keys of the accounts
    that belong to no other DMP, and what its tombstone keeps (the blind index of its INS)."""

    ins_index: str
    document_ids: list[UUID]
    account_ids: list[UUID]


@dataclass(frozen=True, slots=True)
class TokenHolder:
    """Who an API token stands for: the token's validity, its professional, and the
    establishment it acts for (``professional.establishment_ids`` holds that one establishment
    when the professional belongs to it, and nothing else; ``attached_only_to_excluded`` is read
    over all their attachments)."""

    expires_at: datetime
    revoked_at: datetime | None
    professional: Professional
    establishment: Establishment | None


@dataclass(frozen=True, slots=True)
class HistoryFilter:
    """Which entries of a DMP's chain a page of its history holds: conditions of the SQL
    statement, so that a page reads at most its own rows, however long the chain."""

    before_seq: int | None = None  # older than this entry (the pages are stable)
    actions: frozenset[str] | None = None  # None: any
    modes: frozenset[str] | None = None
    outcome: str | None = None  # "allowed" | "denied"
    actor_id: str | None = None
    actor_kinds: frozenset[str] | None = None
    since: datetime | None = None  # at or after
    until: datetime | None = None  # before
    public_only: bool = False  # no secret entry
    # (actor id, actions): that actor's allowed entries of these actions are left out
    hidden: tuple[str, frozenset[str]] | None = None


def stored_or_none(kind: type[T], row: RowMap | None) -> T | None:
    """The domain object a row holds (the services never see rows), or None. The statement
    selects exactly the object's fields (by name), so that a column added to a table is not
    silently dropped."""
    return None if row is None else kind(**row)


class _Repository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _one(self, stmt: Any, params: dict[str, Any] | None = None) -> RowMap | None:
        return self.conn.execute(stmt, params).mappings().first()

    def _all(self, kind: type[T], stmt: Any, params: dict[str, Any] | None = None) -> list[T]:
        return [kind(**row) for row in self.conn.execute(stmt, params).mappings()]

    def _built(self, kind: type[T], stmt: Any, params: dict[str, Any] | None = None) -> list[T]:
        """``_all``, by position: ``stmt`` selects the fields in order (``_in_field_order``)."""
        if isinstance(stmt, Hot):
            return [kind(*row) for row in stmt.rows(self.conn, params or {})]
        return [kind(*row) for row in self.conn.execute(stmt, params)]

    def _first(self, kind: type[T], stmt: Any, params: dict[str, Any] | None = None) -> T | None:
        if isinstance(stmt, Hot):
            row = stmt.first(self.conn, params or {})
        else:
            row = self.conn.execute(stmt, params).first()
        return None if row is None else kind(*row)


class DirectoryRepository(_Repository):
    """Professionals, establishments and the API tokens bound to professionals."""

    def add_establishment(self, values: dict[str, Any]) -> None:
        """Register an establishment, with the key its name is searched by."""
        self.conn.execute(
            insert(t.establishments), {**values, "search_key": search_key(values["name"])}
        )

    def add_professional(self, values: dict[str, Any], establishment_ids: Iterable[UUID]) -> None:
        """Register a professional, with the key their names are searched by."""
        key = search_key(f"{values['given_name']} {values['family_name']}")
        self.conn.execute(insert(t.professionals), {**values, "search_key": key})
        self.link(values["id"], establishment_ids)

    def link(self, professional_id: UUID, establishment_ids: Iterable[UUID]) -> None:
        rows = [
            {"professional_id": professional_id, "establishment_id": e} for e in establishment_ids
        ]
        if rows:
            self.conn.execute(insert(t.professional_establishments), rows)

    def professional(self, professional_id: UUID) -> Professional | None:
        return self._professional(t.professionals.c.id == professional_id)

    def professional_by_rpps(self, rpps: str) -> Professional | None:
        return self._professional(t.professionals.c.rpps == rpps)

    def _professional(self, where: Any) -> Professional | None:
        row = self._one(_PROFESSIONAL.where(where))
        if row is None:
            return None
        links = self.conn.execute(
            select(t.professional_establishments.c.establishment_id).where(
                t.professional_establishments.c.professional_id == row["id"]
            )
        ).scalars()
        return Professional(
            id=row["id"],
            rpps=row["rpps"],
            family_name=row["family_name"],
            given_name=row["given_name"],
            profession=row["profession"],
            specialty=row["specialty"],
            occupational_health=row["occupational_health"],
            samu_regulator=row["samu_regulator"],
            establishment_ids=frozenset(links),
            active=row["active"],
            attached_only_to_excluded=bool(row["only_excluded"]),
        )

    def login_of(
        self, professional_id: UUID, *, for_update: bool = False
    ) -> ProfessionalLogin | None:
        """What the professional portal's own login needs of a professional: the password's
        hash, the authenticator app's sealed secret and last step, the failed tries."""
        p = t.professionals.c
        stmt = select(
            p.id,
            p.rpps,
            p.password_hash,
            p.totp_secret_enc,
            p.totp_last_step,
            p.failed_logins,
            p.next_login_at,
        ).where(p.id == professional_id)
        return stored_or_none(
            ProfessionalLogin, self._one(stmt.with_for_update() if for_update else stmt)
        )

    def update_professional(self, professional_id: UUID, **values: Any) -> None:
        self.conn.execute(
            update(t.professionals).where(t.professionals.c.id == professional_id).values(**values)
        )

    def professionals(self) -> list[Professional]:
        ids = self.conn.execute(select(t.professionals.c.id).order_by(t.professionals.c.rpps))
        return [p for i in ids.scalars() if (p := self.professional(i)) is not None]

    def establishment(self, establishment_id: UUID) -> Establishment | None:
        return self._establishment(t.establishments.c.id == establishment_id)

    def establishment_by_finess(self, finess: str) -> Establishment | None:
        return self._establishment(t.establishments.c.finess == finess)

    def _establishment(self, where: Any) -> Establishment | None:
        row = self._one(select(t.establishments).where(where))
        if row is None:
            return None
        return Establishment(row["id"], row["finess"], row["name"], row["kind"], row["excluded"])

    def establishments(self) -> list[Establishment]:
        rows = self.conn.execute(select(t.establishments).order_by(t.establishments.c.finess))
        return [Establishment(r.id, r.finess, r.name, r.kind, r.excluded) for r in rows]

    # --- looked up by a patient: bounded lists of what anyone may read of the directory ---------

    def professionals_named(self, words: Sequence[str], limit: int) -> list[ListedProfessional]:
        """Professionals with, for each of ``words`` (folded: domain.names.words), a given or
        family name starting with it; at most ``limit``, by family name."""
        where = _names_start_with(_pro.c.search_key, words)
        return self._all(ListedProfessional, _PROFESSIONALS_LISTED.where(where).limit(limit))

    def professionals_listed(
        self, *, rpps: str | None = None, ids: Sequence[UUID] = ()
    ) -> list[ListedProfessional]:
        """The professional of this RPPS, or these professionals, as listed to a patient."""
        where = _pro.c.rpps == rpps if rpps is not None else _pro.c.id.in_(ids)
        return self._all(ListedProfessional, _PROFESSIONALS_LISTED.where(where))

    def establishments_named(self, words: Sequence[str], limit: int) -> list[ListedEstablishment]:
        """Establishments whose name holds a word starting with each of ``words``."""
        where = _names_start_with(_est.c.search_key, words)
        return self._all(ListedEstablishment, _ESTABLISHMENTS_LISTED.where(where).limit(limit))

    def establishment_listed(self, finess: str) -> list[ListedEstablishment]:
        return self._all(ListedEstablishment, _ESTABLISHMENTS_LISTED.where(_est.c.finess == finess))

    def workplaces(self, professional_ids: Sequence[UUID]) -> dict[UUID, list[str]]:
        """The names of the establishments each of these professionals works for."""
        stmt = (
            select(_member.c.professional_id, _est.c.name)
            .select_from(_member.join(_est, _est.c.id == _member.c.establishment_id))
            .where(_member.c.professional_id.in_(professional_ids))
            .order_by(_est.c.name)
        )
        found: dict[UUID, list[str]] = {}
        for professional_id, name in self.conn.execute(stmt):
            found.setdefault(professional_id, []).append(name)
        return found

    def add_token(self, values: dict[str, Any]) -> None:
        self.conn.execute(insert(t.api_tokens), values)

    def token_holder(self, token_hash: str) -> TokenHolder | None:
        """The token by its hash with its professional and establishment, in one query (whether
        the professional is attached only to excluded organizations is an EXISTS inside it)."""
        found = _HOT_TOKEN_HOLDER.first(self.conn, {"token_hash": token_hash})
        if found is None:
            return None
        row = dict(zip(_TOKEN_HOLDER_KEYS, found, strict=True))
        establishment = None
        if row["est_id"] is not None:
            establishment = Establishment(
                row["est_id"],
                row["est_finess"],
                row["est_name"],
                row["est_kind"],
                row["est_excluded"],
            )
        professional = Professional(
            id=row["id"],
            rpps=row["rpps"],
            family_name=row["family_name"],
            given_name=row["given_name"],
            profession=row["profession"],
            specialty=row["specialty"],
            occupational_health=row["occupational_health"],
            samu_regulator=row["samu_regulator"],
            establishment_ids=frozenset({row["member_of"]} if row["member_of"] else ()),
            active=row["active"],
            attached_only_to_excluded=bool(row["only_excluded"]),
        )
        return TokenHolder(row["expires_at"], row["revoked_at"], professional, establishment)

    def named(self, professional_ids: Sequence[UUID]) -> dict[UUID, ListedProfessional]:
        """The names and professions of these professionals (as listed), in one statement."""
        if not professional_ids:
            return {}
        stmt = select(_pro.c.id, *_PRO_LISTED).where(_pro.c.id.in_(sorted(set(professional_ids))))
        return {found.id: found for found in self._all(ListedProfessional, stmt)}

    def establishment_names(
        self, ids: Sequence[UUID] = (), finess: Sequence[str] = ()
    ) -> dict[UUID | str, str]:
        """The names of these establishments, by id and by FINESS, in one statement."""
        if not ids and not finess:
            return {}
        stmt = select(_est.c.id, _est.c.finess, _est.c.name).where(
            or_(_est.c.id.in_(sorted(set(ids))), _est.c.finess.in_(sorted(set(finess))))
        )
        found: dict[UUID | str, str] = {}
        for row in self.conn.execute(stmt).mappings():
            found[row["id"]] = found[row["finess"]] = row["name"]
        return found

    def professional_email(self, professional_id: UUID) -> str | None:
        """The secure messaging address of a professional, for notices."""
        stmt = select(t.professionals.c.email).where(t.professionals.c.id == professional_id)
        email: str | None = self.conn.execute(stmt).scalar()
        return email

    def revoke_token(
        self, token_id: UUID, at: datetime, professional_id: UUID | None = None
    ) -> bool:
        """Revoke a token not yet revoked (with ``professional_id``: only if it is theirs)."""
        stmt = update(t.api_tokens).where(
            t.api_tokens.c.id == token_id, t.api_tokens.c.revoked_at.is_(None)
        )
        if professional_id is not None:
            stmt = stmt.where(t.api_tokens.c.professional_id == professional_id)
        return self.conn.execute(stmt.values(revoked_at=at)).rowcount > 0

    def tokens_of(self, professional_id: UUID, limit: int) -> list[ApiTokenListing]:
        """A professional's tokens, newest first, with the FINESS each acts for (never a hash)."""
        tok = t.api_tokens
        stmt = (
            select(
                tok.c.id,
                tok.c.label,
                tok.c.created_at,
                tok.c.expires_at,
                tok.c.revoked_at,
                _est.c.finess,
                _est.c.name.label("establishment_name"),
            )
            .select_from(tok.outerjoin(_est, _est.c.id == tok.c.establishment_id))
            .where(tok.c.professional_id == professional_id)
            .order_by(tok.c.created_at.desc(), tok.c.id)
            .limit(limit)
        )
        return self._all(ApiTokenListing, stmt)


class RecordRepository(_Repository):
    """DMP records, their accounts, consents, authorizations, blocks and tombstones."""

    def add_account(self, values: dict[str, Any]) -> None:
        self.conn.execute(insert(t.accounts), values)

    def account(self, account_id: UUID) -> Account | None:
        stmt = select(t.accounts).where(t.accounts.c.id == account_id)
        return stored_or_none(Account, self._one(stmt))

    def login_taken(self, login: str) -> bool:
        return self._one(select(t.accounts.c.id).where(t.accounts.c.login == login)) is not None

    def add(self, values: dict[str, Any]) -> None:
        self.conn.execute(insert(t.records), values)

    def get(self, dmp_id: UUID, *, for_update: bool = False) -> StoredRecord | None:
        stmt = _HOT_RECORD_BY_ID_LOCKED if for_update else _HOT_RECORD_BY_ID
        return self._first(StoredRecord, stmt, {"key": dmp_id})

    def by_ins(self, index: str, *, for_update: bool = False) -> StoredRecord | None:
        """The DMP of the INS whose blind index is ``index``."""
        stmt = _HOT_RECORD_BY_INS_LOCKED if for_update else _HOT_RECORD_BY_INS
        return self._first(StoredRecord, stmt, {"key": index})

    def any_indexed(self) -> bool:
        """Whether some DMP or tombstone already holds an INS blind index (then the index key
        must exist: a new one would not find them)."""
        records = select(t.records.c.dmp_id).where(t.records.c.ins_index.is_not(None)).limit(1)
        tombs = select(t.tombstones.c.id).where(t.tombstones.c.ins_index.is_not(None)).limit(1)
        found = self.conn.execute(select(records.exists() | tombs.exists())).scalar()
        return bool(found)

    def by_account(self, account_id: UUID) -> list[UUID]:
        own = select(t.records.c.dmp_id).where(t.records.c.patient_account_id == account_id)
        represented = select(t.representatives.c.dmp_id).where(
            t.representatives.c.account_id == account_id
        )
        return list(self.conn.execute(own.union(represented)).scalars())

    def update(self, dmp_id: UUID, **values: Any) -> None:
        self.conn.execute(update(t.records).where(t.records.c.dmp_id == dmp_id).values(**values))

    def facts(
        self, record: StoredRecord, *, patient_is_minor: bool, accessor: UUID | None = None
    ) -> tuple[RecordFacts, bool]:
        """The DMP's facts for the policy, and whether the professional ``accessor`` (if any)
        opened it before: one statement."""
        dmp_id = record.dmp_id
        sets: dict[tuple[str, str], set[UUID]] = {
            ("authorization", "professional"): set(),
            ("authorization", "establishment"): set(),
            ("block", "professional"): set(),
            ("representative", "account"): set(),
            ("accessed", "professional"): set(),
        }
        params = {"dmp_id": dmp_id, "professional_id": accessor}
        for fact, kind, subject in _HOT_FACT_SETS.rows(self.conn, params):
            sets[fact, kind].add(subject)
        accessed = bool(sets["accessed", "professional"])
        return RecordFacts(
            dmp_id=dmp_id,
            state=RecordState(record.state),
            patient_account_id=record.patient_account_id,
            representative_account_ids=frozenset(sets["representative", "account"]),
            patient_is_minor=patient_is_minor,
            medecin_traitant_id=record.medecin_traitant_id,
            authorized_professionals=frozenset(sets["authorization", "professional"]),
            authorized_establishments=frozenset(sets["authorization", "establishment"]),
            blocked_professionals=frozenset(sets["block", "professional"]),
            oppose_emergency=record.oppose_emergency,
            oppose_samu=record.oppose_samu,
        ), accessed

    def add_consent(self, values: dict[str, Any]) -> None:
        self.conn.execute(insert(t.consents), values)

    def consents(self, dmp_id: UUID) -> list[Consent]:
        stmt = select(t.consents).where(t.consents.c.dmp_id == dmp_id)
        return self._all(Consent, stmt.order_by(t.consents.c.collected_at))

    def authorizations(self, dmp_id: UUID) -> list[Authorization]:
        stmt = select(t.authorizations).where(t.authorizations.c.dmp_id == dmp_id)
        return self._all(Authorization, stmt.order_by(t.authorizations.c.granted_at))

    def authorize(
        self, dmp_id: UUID, kind: str, subject_id: UUID, source: str, at: datetime
    ) -> bool:
        exists = self._one(
            select(t.authorizations.c.source).where(
                t.authorizations.c.dmp_id == dmp_id,
                t.authorizations.c.subject_kind == kind,
                t.authorizations.c.subject_id == subject_id,
            )
        )
        if exists is not None:
            return False
        self.conn.execute(
            insert(t.authorizations).values(
                dmp_id=dmp_id,
                subject_kind=kind,
                subject_id=subject_id,
                source=source,
                granted_at=at,
            )
        )
        return True

    def authorizations_listed(self, dmp_id: UUID) -> list[ListedAuthorization]:
        """The DMP's authorizations, oldest first, each with what the patient reads of its
        subject: a professional's names, profession and RPPS, or an establishment's name, kind
        and FINESS (the other's columns are NULL)."""
        return self._all(ListedAuthorization, _AUTHORIZATIONS_LISTED, {"dmp_id": dmp_id})

    def blocks_listed(self, dmp_id: UUID) -> list[ListedBlock]:
        """The professionals the patient blocked, oldest block first, as listed to them."""
        return self._all(ListedBlock, _BLOCKS_LISTED, {"dmp_id": dmp_id})

    def revoke(self, dmp_id: UUID, kind: str, subject_id: UUID) -> bool:
        result = self.conn.execute(
            delete(t.authorizations).where(
                t.authorizations.c.dmp_id == dmp_id,
                t.authorizations.c.subject_kind == kind,
                t.authorizations.c.subject_id == subject_id,
            )
        )
        return result.rowcount > 0

    def blocked(self, dmp_id: UUID) -> list[Block]:
        return self._all(Block, select(t.blocks).where(t.blocks.c.dmp_id == dmp_id))

    def block(self, dmp_id: UUID, professional_id: UUID, at: datetime) -> bool:
        if self._one(
            select(t.blocks).where(
                t.blocks.c.dmp_id == dmp_id, t.blocks.c.professional_id == professional_id
            )
        ):
            return False
        self.conn.execute(
            insert(t.blocks).values(dmp_id=dmp_id, professional_id=professional_id, blocked_at=at)
        )
        return True

    def unblock(self, dmp_id: UUID, professional_id: UUID) -> bool:
        result = self.conn.execute(
            delete(t.blocks).where(
                t.blocks.c.dmp_id == dmp_id, t.blocks.c.professional_id == professional_id
            )
        )
        return result.rowcount > 0

    def add_representative(self, values: dict[str, Any]) -> None:
        self.conn.execute(insert(t.representatives), values)

    def representatives(self, dmp_id: UUID) -> list[Representative]:
        stmt = select(t.representatives).where(t.representatives.c.dmp_id == dmp_id)
        return self._all(Representative, stmt)

    def first_access(self, dmp_id: UUID, professional_id: UUID) -> FirstAccess | None:
        params = {"dmp_id": dmp_id, "professional_id": professional_id}
        return stored_or_none(FirstAccess, self._one(_FIRST_ACCESS, params))

    def add_accessor(self, dmp_id: UUID, professional_id: UUID, at: datetime) -> bool:
        """Record a professional's first access to a DMP; False when it is recorded already (two
        first reads at once: the second one waits for the first and then adds nothing)."""
        values = {"dmp_id": dmp_id, "professional_id": professional_id, "first_access_at": at}
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(t.accessors).values(values).on_conflict_do_nothing()
        return self.conn.execute(stmt.returning(t.accessors.c.dmp_id)).first() is not None

    def set_emergency_notice(self, dmp_id: UUID, professional_id: UUID, at: datetime) -> None:
        self.conn.execute(
            update(t.accessors)
            .where(t.accessors.c.dmp_id == dmp_id, t.accessors.c.professional_id == professional_id)
            .values(last_emergency_notice_at=at)
        )

    def closed_before(self, cutoff: datetime, limit: int = 500) -> list[UUID]:
        stmt = (
            select(t.records.c.dmp_id)
            .where(t.records.c.state == RecordState.CLOSED.value, t.records.c.closed_at < cutoff)
            .limit(limit)
        )
        return list(self.conn.execute(stmt).scalars())

    def shredding(self, dmp_id: UUID) -> Shredding | None:
        """What a destruction needs of a DMP: the blind index of its INS (for the tombstone),
        and the ids of the keys it destroys; None once the DMP is gone."""
        row = self._one(
            select(t.records.c.ins_index, t.records.c.patient_account_id).where(
                t.records.c.dmp_id == dmp_id
            )
        )
        if row is None:
            return None
        ids = self.conn.execute(select(t.documents.c.id).where(t.documents.c.dmp_id == dmp_id))
        accounts = [
            row["patient_account_id"],
            *(r.account_id for r in self.representatives(dmp_id)),
        ]
        alone = [a for a in accounts if set(self.by_account(a)) <= {dmp_id}]
        return Shredding(row["ins_index"], list(ids.scalars()), alone)

    def ids(self) -> list[UUID]:
        """Every DMP's id (the audit verification checks each one has its chain)."""
        return list(self.conn.execute(select(t.records.c.dmp_id)).scalars())

    def mark_destroying(self, dmp_id: UUID) -> None:
        """The first step of a destruction: from now on the DMP opens for no one."""
        self.update(dmp_id, state=DESTROYING)

    def being_destroyed(self) -> list[UUID]:
        """DMPs whose destruction was cut short (a crash between its steps)."""
        stmt = select(t.records.c.dmp_id).where(t.records.c.state == DESTROYING)
        return list(self.conn.execute(stmt).scalars())

    def key_owners(self, key_ids: Sequence[UUID]) -> set[UUID]:
        """Which of these key ids belong to a DMP, a document or an account still stored, or to
        a message that still holds its sealed addresses (not sent yet)."""
        records = select(t.records.c.dmp_id).where(t.records.c.dmp_id.in_(key_ids))
        documents = select(t.documents.c.id).where(t.documents.c.id.in_(key_ids))
        accounts = select(t.accounts.c.id).where(t.accounts.c.id.in_(key_ids))
        messages = select(t.outbox.c.id).where(
            t.outbox.c.id.in_(key_ids), t.outbox.c.contact_enc.is_not(None)
        )
        owners = union_all(records, documents, accounts, messages)
        return set(self.conn.execute(owners).scalars())

    def has_tombstone(self, dmp_id: UUID) -> bool:
        stmt = select(t.tombstones.c.id).where(t.tombstones.c.dmp_id == dmp_id).limit(1)
        return self._one(stmt) is not None

    def census(self) -> dict[str, int]:
        """How many DMPs, documents, contents and tombstones (what a backup reports)."""
        counts = {}
        for name, table in (
            ("records", t.records),
            ("documents", t.documents),
            ("contents", t.document_contents),
            ("tombstones", t.tombstones),
        ):
            counts[name] = self.conn.execute(select(func.count()).select_from(table)).scalar_one()
        return counts

    def add_tombstone(self, values: dict[str, Any]) -> None:
        self.conn.execute(insert(t.tombstones), values)

    def tombstone(self, index: str) -> Tombstone | None:
        """The latest tombstone of the INS whose blind index is ``index``."""
        stmt = select(t.tombstones).where(t.tombstones.c.ins_index == index)
        return stored_or_none(
            Tombstone, self._one(stmt.order_by(t.tombstones.c.destroyed_at.desc()))
        )

    def purge(self, dmp_id: UUID) -> None:
        """Delete every row of a DMP (total destruction), its audit chain included."""
        self.conn.execute(insert(t.audit_purges).values(dmp_id=dmp_id))
        for table in (
            t.audit_entries,
            t.audit_heads,
            t.document_contents,
            t.documents,
            t.accessors,
            t.authorizations,
            t.blocks,
            t.consents,
        ):
            self.conn.execute(delete(table).where(table.c.dmp_id == dmp_id))
        self.conn.execute(delete(t.outbox).where(t.outbox.c.dmp_id == dmp_id))
        accounts = [self.get(dmp_id).patient_account_id]  # type: ignore[union-attr]
        accounts += [r.account_id for r in self.representatives(dmp_id)]
        self.conn.execute(delete(t.representatives).where(t.representatives.c.dmp_id == dmp_id))
        self.conn.execute(delete(t.records).where(t.records.c.dmp_id == dmp_id))
        for account_id in accounts:
            if not self.by_account(account_id):
                self.conn.execute(delete(t.accounts).where(t.accounts.c.id == account_id))
        self.conn.execute(delete(t.audit_purges).where(t.audit_purges.c.dmp_id == dmp_id))


class AccountRepository(_Repository):
    """The accounts of patients and legal representatives as they log in: their web sessions and
    the one-time codes sent to them."""

    def by_login(self, login: str, *, for_update: bool = False) -> Account | None:
        stmt = select(t.accounts).where(t.accounts.c.login == login)
        return stored_or_none(Account, self._one(stmt.with_for_update() if for_update else stmt))

    def get(self, account_id: UUID, *, for_update: bool = False) -> Account | None:
        stmt = select(t.accounts).where(t.accounts.c.id == account_id)
        return stored_or_none(Account, self._one(stmt.with_for_update() if for_update else stmt))

    def update(self, account_id: UUID, **values: Any) -> None:
        self.conn.execute(update(t.accounts).where(t.accounts.c.id == account_id).values(**values))

    # --- web sessions -------------------------------------------------------------------------

    def add_session(self, values: dict[str, Any]) -> None:
        self.conn.execute(insert(t.web_sessions), values)

    def session(self, session_id: str, *, for_update: bool = False) -> StoredSession | None:
        stmt = select(t.web_sessions).where(t.web_sessions.c.id == session_id)
        return stored_or_none(
            StoredSession, self._one(stmt.with_for_update() if for_update else stmt)
        )

    def update_session(self, session_id: str, **values: Any) -> None:
        self.conn.execute(
            update(t.web_sessions).where(t.web_sessions.c.id == session_id).values(**values)
        )

    def delete_session(self, session_id: str) -> None:
        self.conn.execute(
            delete(t.one_time_codes).where(t.one_time_codes.c.session_id == session_id)
        )
        self.conn.execute(delete(t.web_sessions).where(t.web_sessions.c.id == session_id))

    def delete_sessions_of(self, account_id: UUID, *, keep: str | None = None) -> int:
        """End every session of an account (a password changed), but ``keep``."""
        stmt = delete(t.web_sessions).where(t.web_sessions.c.account_id == account_id)
        if keep is not None:
            stmt = stmt.where(t.web_sessions.c.id != keep)
        return self.conn.execute(stmt).rowcount

    def delete_sessions_of_professional(self, professional_id: UUID) -> int:
        """End every session of a professional (their password changed)."""
        stmt = delete(t.web_sessions).where(t.web_sessions.c.professional_id == professional_id)
        return self.conn.execute(stmt).rowcount

    def delete_sessions_seen_before(self, cutoff: datetime) -> int:
        old = select(t.web_sessions.c.id).where(t.web_sessions.c.last_seen_at < cutoff)
        self.conn.execute(delete(t.one_time_codes).where(t.one_time_codes.c.session_id.in_(old)))
        stmt = delete(t.web_sessions).where(t.web_sessions.c.last_seen_at < cutoff)
        return self.conn.execute(stmt).rowcount

    # --- one-time codes -----------------------------------------------------------------------

    def add_code(self, values: dict[str, Any]) -> None:
        self.conn.execute(insert(t.one_time_codes), values)

    def pending_code(self, session_id: str, purpose: str) -> OneTimeCode | None:
        """The code of this purpose this session waits for (one at most: a new one retires the
        previous), locked: its tries count."""
        stmt = (
            select(t.one_time_codes)
            .where(
                t.one_time_codes.c.session_id == session_id,
                t.one_time_codes.c.purpose == purpose,
                t.one_time_codes.c.used_at.is_(None),
            )
            .with_for_update()
        )
        return stored_or_none(OneTimeCode, self._one(stmt))

    def retire_codes(self, session_id: str, purpose: str, at: datetime) -> None:
        """A new code replaces the ones this session waited for: they can no longer be used
        (their rows stay, for the limit on sends per hour)."""
        self.conn.execute(
            update(t.one_time_codes)
            .where(
                t.one_time_codes.c.session_id == session_id,
                t.one_time_codes.c.purpose == purpose,
                t.one_time_codes.c.used_at.is_(None),
            )
            .values(used_at=at)
        )

    def update_code(self, code_id: UUID, **values: Any) -> None:
        self.conn.execute(
            update(t.one_time_codes).where(t.one_time_codes.c.id == code_id).values(**values)
        )

    def codes_sent_since(self, account_id: UUID, since: datetime) -> int:
        stmt = select(func.count()).where(
            t.one_time_codes.c.account_id == account_id,
            t.one_time_codes.c.code_hash.is_not(None),
            t.one_time_codes.c.created_at >= since,
        )
        sent: int = self.conn.execute(stmt).scalar_one()
        return sent

    def delete_codes_expired_before(self, cutoff: datetime) -> int:
        stmt = delete(t.one_time_codes).where(t.one_time_codes.c.expires_at < cutoff)
        return self.conn.execute(stmt).rowcount


WithContents = tuple[AuthoredDocument, list[StoredContent]]


def _with_contents(rows: Sequence[Sequence[Any]]) -> list[WithContents]:
    """Each document of the rows (one row per content, a document's rows together) with its
    contents."""
    found: list[WithContents] = []
    for row in rows:
        if not found or found[-1][0].id != row[1]:  # row[1]: the document's id
            found.append((AuthoredDocument(*row[:_AUTHORED]), []))
        if row[_AUTHORED] is not None:  # a content's dmp_id: NULL when the document has none
            found[-1][1].append(StoredContent(*row[_AUTHORED:]))
    return found


class DocumentRepository(_Repository):
    def add(self, values: dict[str, Any], contents: list[dict[str, Any]]) -> None:
        _HOT_ADD_DOCUMENT.run(self.conn, values)
        for content in contents:
            _HOT_ADD_CONTENT.run(self.conn, content)

    def get(
        self, dmp_id: UUID, document_id: UUID, *, for_update: bool = False
    ) -> StoredDocument | None:
        stmt = _STORED_DOCUMENTS.where(
            t.documents.c.dmp_id == dmp_id, t.documents.c.id == document_id
        )
        return self._first(StoredDocument, stmt.with_for_update() if for_update else stmt)

    def with_author(self, dmp_id: UUID, document_id: UUID) -> WithContents | None:
        """The document, with its author's RPPS, names and FINESS (``author_*``), and its
        contents in position order."""
        params = {"dmp_id": dmp_id, "document_id": document_id}
        found = _with_contents(_HOT_DOCUMENT.rows(self.conn, params))
        return found[0] if found else None

    def some(self, dmp_id: UUID, document_ids: Sequence[UUID]) -> list[StoredDocument]:
        """These documents of the DMP (those that still exist), in one statement."""
        if not document_ids:
            return []
        stmt = _STORED_DOCUMENTS.where(
            t.documents.c.dmp_id == dmp_id, t.documents.c.id.in_(sorted(set(document_ids)))
        )
        return self._built(StoredDocument, stmt)

    def master_identifier_taken(self, dmp_id: UUID, master_identifier: str) -> bool:
        params = {"dmp_id": dmp_id, "master_identifier": master_identifier}
        return _HOT_MASTER_IDENTIFIER.first(self.conn, params) is not None

    def of_record(self, dmp_id: UUID) -> list[WithContents]:
        """The DMP's documents, newest first, each with its author and its contents (as
        ``with_author``): one statement."""
        return _with_contents(_HOT_DOCUMENTS_OF.rows(self.conn, {"dmp_id": dmp_id}))

    def contents(
        self, dmp_id: UUID, document_ids: Sequence[UUID]
    ) -> dict[UUID, list[StoredContent]]:
        """The contents of these documents of the DMP, by document, in position order."""
        found: dict[UUID, list[StoredContent]] = {i: [] for i in document_ids}
        if len(found) == 1:
            stmt = _HOT_CONTENTS_OF_DOCUMENT
            params = {"dmp_id": dmp_id, "document_id": document_ids[0]}
        elif found:
            # Those of the whole DMP (a few dozen rows), filtered here: one statement the
            # database can prepare, rather than an IN list of a different length each time.
            stmt, params = _HOT_CONTENTS_OF_RECORD, {"dmp_id": dmp_id}
        else:
            return found
        for content in self._built(StoredContent, stmt, params):
            if (contents := found.get(content.document_id)) is not None:
                contents.append(content)
        return found

    def update(self, dmp_id: UUID, document_id: UUID, **values: Any) -> None:
        self.conn.execute(
            update(t.documents)
            .where(t.documents.c.dmp_id == dmp_id, t.documents.c.id == document_id)
            .values(**values)
        )

    def hidden_since_before(self, cutoff: datetime, *, unnoticed: bool) -> list[DocumentKey]:
        conditions = [
            t.documents.c.invisible_patient.is_(True),
            t.documents.c.hidden_since < cutoff,
        ]
        if unnoticed:
            conditions.append(t.documents.c.hidden_notice_at.is_(None))
        stmt = select(t.documents.c.dmp_id, t.documents.c.id).where(and_(*conditions))
        return self._all(DocumentKey, stmt.limit(1000))

    def destroy(self, dmp_id: UUID, document_ids: Sequence[UUID]) -> list[str]:
        """Physically delete documents; returns the blob keys to delete after commit."""
        keys = [c.blob_key for found in self.contents(dmp_id, document_ids).values() for c in found]
        self.conn.execute(
            delete(t.document_contents).where(
                t.document_contents.c.dmp_id == dmp_id,
                t.document_contents.c.document_id.in_(document_ids),
            )
        )
        self.conn.execute(
            delete(t.documents).where(
                t.documents.c.dmp_id == dmp_id, t.documents.c.id.in_(document_ids)
            )
        )
        return keys

    def owners(self, document_ids: Sequence[UUID]) -> dict[UUID, UUID]:
        """The DMP of each of these documents that is stored (by document id)."""
        if not document_ids:
            return {}
        stmt = select(t.documents.c.id, t.documents.c.dmp_id).where(
            t.documents.c.id.in_(document_ids)
        )
        return {row.id: row.dmp_id for row in self.conn.execute(stmt)}

    def blob_key_exists(self, dmp_id: UUID, blob_key: str) -> bool:
        """Whether a row names ``blob_key``; its DMP (the key's first part) routes the look-up."""
        stmt = select(t.document_contents.c.blob_key).where(
            t.document_contents.c.dmp_id == dmp_id, t.document_contents.c.blob_key == blob_key
        )
        return self._one(stmt) is not None


class AuditRepository(_Repository):
    def head(self, dmp_id: UUID, *, for_update: bool = False) -> ChainHead | None:
        stmt = _HOT_AUDIT_HEAD_LOCKED if for_update else _HOT_AUDIT_HEAD
        return self._first(ChainHead, stmt, {"dmp_id": dmp_id})

    def append(self, entry: dict[str, Any], head: dict[str, Any], *, new_chain: bool) -> None:
        if new_chain:
            self.conn.execute(_AUDIT_INSERT, entry)
            self.conn.execute(_AUDIT_NEW_HEAD, head)
        elif self.conn.dialect.name == "postgresql":
            params = {f"entry_{k}": v for k, v in entry.items()}
            params |= {f"head_{k}": v for k, v in head.items() if k != "dmp_id"}
            _HOT_AUDIT_APPEND_AND_MOVE.run(self.conn, {**params, "chain": head["dmp_id"]})
        else:
            self.conn.execute(_AUDIT_INSERT, entry)
            moved = {k: v for k, v in head.items() if k != "dmp_id"}
            self.conn.execute(_AUDIT_MOVE_HEAD, {**moved, "chain": head["dmp_id"]})

    def by_professional(self, professional_id: UUID, limit: int) -> list[ActivityEntry]:
        """What this professional did on DMPs (allowed or refused), newest first, at most
        ``limit`` entries: their own entries only, through the index on (actor id, time), never
        another actor's, never the system chain's. Only what the entry says in clear: no
        justification (sealed under the DMP's key), no target id."""
        c = t.audit_entries.c
        stmt = select(
            c.dmp_id,
            c.seq,
            c.at,
            c.profession,
            c.establishment,
            c.mode,
            c.action,
            c.target_kind,
            c.outcome,
            c.reason,
        ).where(
            c.actor_kind == "professional",
            c.actor_id == str(professional_id),
            c.dmp_id != _SYSTEM_CHAIN,
        )
        stmt = stmt.order_by(c.at.desc(), c.dmp_id, c.seq.desc()).limit(limit)
        return self._all(ActivityEntry, stmt)

    def chain(self, dmp_id: UUID) -> Generator[AuditEntry, None, None]:
        """The chain's entries in order, streamed: each built as it is read."""
        stmt = select(t.audit_entries).where(t.audit_entries.c.dmp_id == dmp_id)
        order = (t.audit_entries.c.seq, t.audit_entries.c.at)
        yield from self._stream(stmt.order_by(*order), kind=AuditEntry)

    def heads_signed_since(
        self, since: datetime | None
    ) -> Generator[tuple[UUID, int, str], None, None]:
        """The heads (chain id, seq, hash) signed at or after ``since``, or all of them: through
        the index on ``signed_at``, those of the last few minutes, streamed as plain tuples (a
        busy hour's few minutes are hundreds of thousands of heads, and the first checkpoint of
        a large install lists millions)."""
        stmt, params = (
            (_AUDIT_HEADS, None) if since is None else (_AUDIT_HEADS_SINCE, {"since": since})
        )
        yield from self._stream(stmt, params)

    def _stream(
        self, stmt: Any, params: dict[str, Any] | None = None, *, kind: type[D] | None = None
    ) -> Generator[Any, None, None]:
        """The rows as plain tuples, or each as a ``kind``, built as it is read: from its
        values in order, once the columns are found to be the fields by name and in order (by
        name, each row of a chain would cost as much again as verifying its hash)."""
        # Streamed for this statement only: ``Connection.execution_options`` would leave the
        # whole connection streaming, and a later INSERT in a server-side cursor.
        result = self.conn.execute(stmt, params, execution_options={"yield_per": 1000})
        try:
            if kind is not None and tuple(result.keys()) != tuple(f.name for f in fields(kind)):
                raise TypeError(f"the columns {list(result.keys())} are not the fields of {kind}")
            yield from result if kind is None else starmap(kind, result)
        finally:  # a reader that stops early (a verification at its first break) leaves rows
            result.close()

    def hash_at(self, dmp_id: UUID, seq: int) -> str | None:
        stmt = select(t.audit_entries.c.hash).where(
            t.audit_entries.c.dmp_id == dmp_id, t.audit_entries.c.seq == seq
        )
        row = self.conn.execute(stmt).first()
        return None if row is None else str(row.hash)

    def chains(self) -> list[UUID]:
        heads = select(t.audit_heads.c.dmp_id)
        entries = select(t.audit_entries.c.dmp_id).distinct()
        return sorted(self.conn.execute(heads.union(entries)).scalars(), key=str)

    def page(self, dmp_id: UUID, *, before_seq: int | None, limit: int) -> list[AuditEntry]:
        stmt = select(t.audit_entries).where(t.audit_entries.c.dmp_id == dmp_id)
        if before_seq is not None:
            stmt = stmt.where(t.audit_entries.c.seq < before_seq)
        stmt = stmt.order_by(t.audit_entries.c.seq.desc()).limit(limit)
        return self._all(AuditEntry, stmt)

    def history(self, dmp_id: UUID, wanted: HistoryFilter, limit: int) -> list[AuditEntry]:
        """The newest entries of the chain that ``wanted`` keeps, at most ``limit``, newest
        first: the filters are the statement's, the page is bounded by its LIMIT."""
        c = t.audit_entries.c
        stmt = select(t.audit_entries).where(c.dmp_id == dmp_id)
        for condition in _history_conditions(wanted):
            stmt = stmt.where(condition)
        stmt = stmt.order_by(c.seq.desc()).limit(limit)
        return self._all(AuditEntry, stmt)

    def actors(self, dmp_id: UUID, *, public_only: bool, limit: int) -> list[ChainActor]:
        """Who appears in the chain (kind, id, RPPS), each once: the history's choice of
        person."""
        c = t.audit_entries.c
        stmt = select(c.actor_kind, c.actor_id, c.actor_rpps).where(c.dmp_id == dmp_id)
        if public_only:
            stmt = stmt.where(c.secret.is_(False))
        stmt = stmt.distinct().order_by(c.actor_kind, c.actor_id).limit(limit)
        return self._all(ChainActor, stmt)

    def count(self, dmp_id: UUID) -> int:
        stmt = select(func.count()).where(t.audit_entries.c.dmp_id == dmp_id)
        return int(self.conn.execute(stmt).scalar_one())


def _history_conditions(wanted: HistoryFilter) -> list[ColumnElement[bool]]:
    c = t.audit_entries.c
    found: list[ColumnElement[bool]] = []
    if wanted.before_seq is not None:
        found.append(c.seq < wanted.before_seq)
    if wanted.actions is not None:
        found.append(c.action.in_(sorted(wanted.actions)))
    if wanted.modes is not None:
        found.append(c.mode.in_(sorted(wanted.modes)))
    if wanted.outcome is not None:
        found.append(c.outcome == wanted.outcome)
    if wanted.actor_id is not None:
        found.append(c.actor_id == wanted.actor_id)
    if wanted.actor_kinds is not None:
        found.append(c.actor_kind.in_(sorted(wanted.actor_kinds)))
    if wanted.since is not None:
        found.append(c.at >= wanted.since)
    if wanted.until is not None:
        found.append(c.at < wanted.until)
    if wanted.public_only:
        found.append(c.secret.is_(False))
    if wanted.hidden is not None:
        who, actions = wanted.hidden
        mine = and_(c.actor_id == who, c.outcome == "allowed", c.action.in_(sorted(actions)))
        found.append(or_(c.actor_id.is_(None), not_(mine)))
    return found


_outbox = t.outbox
_candidate = t.outbox.alias("candidate")  # the claim's sub-query, not correlated to its UPDATE
_PENDING, _SENDING = OutboxState.PENDING.value, OutboxState.SENDING.value
_CLAIMED = (_SENDING, OutboxState.UNCERTAIN.value)


class OutboxRepository(_Repository):
    """The queued notifications and their delivery. Each transition is one statement that
    checks the state it leaves, so that two senders never both move a message."""

    def add(self, values: dict[str, Any]) -> None:
        """Queued: pending, due at once."""
        defaults = {"state": _PENDING, "next_attempt_at": values["created_at"], "attempts": 0}
        _HOT_ADD_MESSAGE.run(self.conn, defaults | values)

    def claim(self, now: datetime, lease_until: datetime, claim: UUID) -> OutboxMessage | None:
        """The message due first, now ``sending`` under ``claim`` until ``lease_until`` (one
        attempt more), or None when none is due. PostgreSQL: the candidate row is locked, and
        skipped by concurrent claims (``SKIP LOCKED``); the outer condition checks its state again
        on the row itself. SQLite: the transaction holds the database's write lock."""
        due = (
            select(_candidate.c.id)
            .where(_candidate.c.state == _PENDING, _candidate.c.next_attempt_at <= now)
            .order_by(_candidate.c.next_attempt_at)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        stmt = (
            update(_outbox)
            .where(_outbox.c.id == due, _outbox.c.state == _PENDING)
            .values(
                state=_SENDING,
                claim=claim,
                lease_until=lease_until,
                attempts=_outbox.c.attempts + 1,
            )
            .returning(*_outbox.c)
        )
        return stored_or_none(OutboxMessage, self._one(stmt))

    def expire_leases(self, now: datetime, reason: str) -> list[OutboxMessage]:
        """The messages still ``sending`` after their lease (their sender died, or hung longer
        than any timeout allows), now ``uncertain``."""
        stmt = (
            update(_outbox)
            .where(_outbox.c.state == _SENDING, _outbox.c.lease_until < now)
            .values(state=OutboxState.UNCERTAIN.value, last_error=reason)
            .returning(*_outbox.c)
        )
        return self._all(OutboxMessage, stmt)

    def finish(
        self,
        outbox_id: UUID,
        claim: UUID,
        state: OutboxState,
        channels_done: str,
        *,
        at: datetime,
        reason: str | None = None,
    ) -> bool:
        """Record the outcome of a claim, if it is still the claim in force (``sending``, or
        found ``uncertain`` meanwhile by an expired lease): ``at`` is the time sent, or the next
        attempt's. A message sent drops its sealed addresses (their key goes next)."""
        values: dict[str, Any] = {"state": state.value, "channels_done": channels_done}
        values |= {"lease_until": None, "last_error": reason}
        if state is OutboxState.SENT:
            values |= {"sent_at": at, "contact_enc": None}
        elif state is OutboxState.PENDING:
            values["next_attempt_at"] = at
        stmt = update(_outbox).where(
            _outbox.c.id == outbox_id, _outbox.c.claim == claim, _outbox.c.state.in_(_CLAIMED)
        )
        return self.conn.execute(stmt.values(values)).rowcount == 1

    def count_by_state(self, states: Sequence[OutboxState]) -> dict[OutboxState, int]:
        stmt = (
            select(_outbox.c.state, func.count())
            .where(_outbox.c.state.in_([state.value for state in states]))
            .group_by(_outbox.c.state)
        )
        found: dict[str, int] = {row[0]: row[1] for row in self.conn.execute(stmt)}
        return {state: found.get(state.value, 0) for state in states}

    def for_recipient(self, recipient_id: UUID) -> list[OutboxMessage]:
        stmt = select(_outbox).where(_outbox.c.recipient_id == recipient_id)
        return self._all(OutboxMessage, stmt.order_by(_outbox.c.created_at))


class FactorRepository(_Repository):
    """The stronger login factors of an account: its passkeys, and the challenges a factor
    answers while it is enrolled or used (an authenticator app's own secret is on ``accounts``)."""

    # --- passkeys -----------------------------------------------------------------------------

    def add_passkey(self, values: dict[str, Any]) -> None:
        self.conn.execute(insert(t.passkeys), values)

    def passkeys_of(self, account_id: UUID) -> list[Passkey]:
        stmt = select(t.passkeys).where(t.passkeys.c.account_id == account_id)
        return self._all(Passkey, stmt.order_by(t.passkeys.c.created_at))

    def passkey_by_credential(self, credential_id: bytes) -> Passkey | None:
        """The passkey of this credential id, whoever's it is, locked: its counter moves."""
        stmt = select(t.passkeys).where(t.passkeys.c.credential_id == credential_id)
        return stored_or_none(Passkey, self._one(stmt.with_for_update()))

    def update_passkey(self, passkey_id: UUID, **values: Any) -> None:
        self.conn.execute(update(t.passkeys).where(t.passkeys.c.id == passkey_id).values(**values))

    def delete_passkey(self, account_id: UUID, passkey_id: UUID) -> bool:
        """Remove a passkey of this account (and only of this one)."""
        stmt = delete(t.passkeys).where(
            t.passkeys.c.account_id == account_id, t.passkeys.c.id == passkey_id
        )
        return self.conn.execute(stmt).rowcount > 0

    # --- challenges -----------------------------------------------------------------------------

    def replace_challenge(self, values: dict[str, Any]) -> None:
        """A new challenge of a session for a purpose replaces the one it had."""
        self.conn.execute(
            delete(t.factor_challenges).where(
                t.factor_challenges.c.session_id == values["session_id"],
                t.factor_challenges.c.purpose == values["purpose"],
            )
        )
        self.conn.execute(insert(t.factor_challenges), values)

    def pending_challenge(self, session_id: str, purpose: str) -> Challenge | None:
        """The challenge of this purpose the session waits on, not used yet, locked."""
        stmt = select(t.factor_challenges).where(
            t.factor_challenges.c.session_id == session_id,
            t.factor_challenges.c.purpose == purpose,
            t.factor_challenges.c.used_at.is_(None),
        )
        return stored_or_none(Challenge, self._one(stmt.with_for_update()))

    def update_challenge(self, challenge_id: UUID, **values: Any) -> None:
        self.conn.execute(
            update(t.factor_challenges)
            .where(t.factor_challenges.c.id == challenge_id)
            .values(**values)
        )

    def delete_challenges_expired_before(self, cutoff: datetime) -> int:
        stmt = delete(t.factor_challenges).where(t.factor_challenges.c.expires_at < cutoff)
        return self.conn.execute(stmt).rowcount

"""The directory the operator keeps: establishments, professionals, and their API tokens.

The directory mirrors the national registers (RPPS, FINESS): whoever the law keeps out of the DMP
is still registered, and told at once that they will never get in, and why."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn
from uuid import UUID, uuid4

from dmp import policy
from dmp.adapters.db.uow import UnitOfWork
from dmp.domain.directory import ListedEstablishment, ListedProfessional
from dmp.domain.identifiers import parse_finess, parse_rpps
from dmp.domain.inputs import MAX_NAME, check_text
from dmp.domain.model import (
    MEDECIN,
    Actor,
    Establishment,
    Professional,
    ProfessionalActor,
    SystemActor,
)
from dmp.domain.names import words
from dmp.errors import Conflict, DmpError, Forbidden, InvalidInput, NotFound, Unauthenticated
from dmp.policy import Decision
from dmp.services import audit
from dmp.services.context import Context

OPERATOR = SystemActor("operator")
TOKEN_PREFIX = "dmp_"  # noqa: S105 (a prefix, not a secret)


@dataclass(frozen=True, slots=True)
class NewProfessional:
    rpps: str
    family_name: str
    given_name: str
    profession: str
    specialty: str | None = None
    occupational_health: bool = False
    samu_regulator: bool = False
    email: str | None = None
    establishment_finess: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EstablishmentRegistration:
    establishment: Establishment
    acting_for: Decision  # whether its staff may ever act for it; the law's reason if not


@dataclass(frozen=True, slots=True)
class ProfessionalRegistration:
    professional: Professional
    credentials: Decision  # whether they may ever hold credentials; the law's reason if not


def add_establishment(ctx: Context, finess: str, name: str, kind: str) -> EstablishmentRegistration:
    """Register an establishment. One of an excluded kind (insurer, mutuelle, bank, employer,
    occupational health) is registered too, and the registration says that nobody acting for
    it will ever get in, with the law's reason, in the audit trail as well."""
    finess = parse_finess(finess)
    if not name.strip():
        raise InvalidInput("Le nom de l'établissement est obligatoire.")
    _label, excluded = ctx.valuesets.establishment_kind(kind)
    establishment = Establishment(uuid4(), finess, name.strip(), kind, excluded)
    acting_for = policy.may_act_for(establishment)
    with ctx.uow() as uow:
        if uow.directory.establishment_by_finess(finess):
            raise Conflict(f"Un établissement porte déjà le FINESS {finess}.")
        uow.directory.add_establishment(
            {
                "id": establishment.id,
                "finess": finess,
                "name": establishment.name,
                "kind": kind,
                "excluded": excluded,
                "created_at": ctx.now(),
            }
        )
        audit.append(
            uow,
            ctx.signer,
            ctx.now(),
            None,
            OPERATOR,
            audit.Event(
                "directory.establishment.add",
                True,
                kind if acting_for else acting_for.reason,
                "establishment",
                finess,
            ),
        )
        uow.commit()
    return EstablishmentRegistration(establishment, acting_for)


def add_professional(ctx: Context, new: NewProfessional) -> ProfessionalRegistration:
    """Register a professional, with the establishments they work for. An occupational physician,
    or one attached only to excluded organizations, is registered too (the directory mirrors the
    RPPS register), and the registration says that they will never receive credentials nor get
    in, with the law's reason, in the audit trail as well."""
    rpps = parse_rpps(new.rpps)
    ctx.valuesets.check_profession(new.profession)
    if not new.family_name.strip() or not new.given_name.strip():
        raise InvalidInput("Le nom et le prénom du professionnel sont obligatoires.")
    if new.samu_regulator and new.profession != "10":
        raise InvalidInput("Seul un médecin peut être régulateur du SAMU.")
    with ctx.uow() as uow:
        if uow.directory.professional_by_rpps(rpps):
            raise Conflict(f"Un professionnel porte déjà le RPPS {rpps}.")
        attachments = []
        for finess in new.establishment_finess:
            found = uow.directory.establishment_by_finess(parse_finess(finess))
            if found is None:
                raise NotFound(f"Établissement inconnu : {finess}")
            attachments.append(found)
        establishments = [attachment.id for attachment in attachments]
        professional = Professional(
            uuid4(),
            rpps,
            new.family_name.strip(),
            new.given_name.strip(),
            new.profession,
            new.specialty,
            new.occupational_health,
            new.samu_regulator,
            frozenset(establishments),
            attached_only_to_excluded=policy.acts_only_for_excluded(attachments),
        )
        credentials = policy.may_hold_credentials(professional, None)
        uow.directory.add_professional(
            {
                "id": professional.id,
                "rpps": rpps,
                "family_name": professional.family_name,
                "given_name": professional.given_name,
                "profession": new.profession,
                "specialty": new.specialty,
                "occupational_health": new.occupational_health,
                "samu_regulator": new.samu_regulator,
                "email": new.email,
                "active": True,
                "created_at": ctx.now(),
            },
            establishments,
        )
        audit.append(
            uow,
            ctx.signer,
            ctx.now(),
            None,
            OPERATOR,
            audit.Event(
                "directory.professional.add",
                True,
                new.profession if credentials else credentials.reason,
                "professional",
                rpps,
            ),
        )
        uow.commit()
    return ProfessionalRegistration(professional, credentials)


def professional_actor(
    ctx: Context, professional: Professional, establishment: Establishment | None = None
) -> ProfessionalActor:
    """The acting identity of a professional (for one of their establishments, or alone), with
    what the directory knows of their attachments: whether all of them are excluded."""
    if establishment is not None and establishment.id not in professional.establishment_ids:
        raise Forbidden("Ce professionnel n'exerce pas dans cet établissement.")
    return ProfessionalActor(
        professional_id=professional.id,
        rpps=professional.rpps,
        profession=professional.profession,
        occupational_health=professional.occupational_health,
        samu_regulator=professional.samu_regulator,
        establishment_id=establishment.id if establishment else None,
        establishment_excluded=establishment.excluded if establishment else False,
        establishment_finess=establishment.finess if establishment else None,
        attached_only_to_excluded=professional.attached_only_to_excluded,
        given_name=professional.given_name,
        family_name=professional.family_name,
        establishment_name=establishment.name if establishment else None,
        establishment_kind=establishment.kind if establishment else None,
    )


def find_professional(ctx: Context, rpps: str) -> Professional:
    with ctx.uow() as uow:
        found = uow.directory.professional_by_rpps(parse_rpps(rpps))
    if found is None:
        raise NotFound(f"Aucun professionnel avec le RPPS {rpps}.")
    return found


def find_establishment(ctx: Context, finess: str) -> Establishment:
    with ctx.uow() as uow:
        found = uow.directory.establishment_by_finess(parse_finess(finess))
    if found is None:
        raise NotFound(f"Aucun établissement avec le FINESS {finess}.")
    return found


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedToken:
    id: UUID
    token: str  # shown once
    expires_at: datetime


def issue_token(
    ctx: Context,
    rpps: str,
    *,
    finess: str | None = None,
    days: int = 90,
    label: str | None = None,
    by: Actor = OPERATOR,
) -> IssuedToken:
    """A bearer token bound to one professional (acting for one establishment, optionally).
    Only its hash is kept. An excluded actor never gets one. Malformed input is refused before
    anything is read; every other refusal (an unknown professional or establishment, the law's
    exclusion, a professional no longer practising or not working there) is audited with its
    exact reason before it is answered, with who asked (``by``: the operator, or the
    professional themselves from the portal)."""
    rpps = parse_rpps(rpps)
    finess = parse_finess(finess) if finess else None
    if not 1 <= days <= 366:
        raise InvalidInput("La durée de validité d'un jeton va de 1 à 366 jours.")
    now = ctx.now()
    with ctx.uow() as uow:
        professional = uow.directory.professional_by_rpps(rpps)
        if professional is None:
            message = f"Aucun professionnel avec le RPPS {rpps}."
            _refuse_token(ctx, uow, rpps, "unknown-professional", NotFound(message), by)
        establishment = uow.directory.establishment_by_finess(finess) if finess else None
        if finess and establishment is None:
            message = f"Aucun établissement avec le FINESS {finess}."
            _refuse_token(ctx, uow, rpps, "unknown-establishment", NotFound(message), by)
        decision = policy.may_hold_credentials(professional, establishment)
        if not decision:
            _refuse_token(ctx, uow, rpps, decision.reason, Forbidden(decision.message), by)
        _token_audit(ctx, uow, rpps, True, decision.reason, by)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        issued = IssuedToken(uuid4(), token, now + timedelta(days=days))
        uow.directory.add_token(
            {
                "id": issued.id,
                "token_hash": _hash_token(token),
                "professional_id": professional.id,
                "establishment_id": establishment.id if establishment else None,
                "label": label,
                "created_at": now,
                "expires_at": issued.expires_at,
                "revoked_at": None,
            }
        )
        uow.commit()
    return issued


def _token_audit(
    ctx: Context, uow: UnitOfWork, rpps: str, allowed: bool, reason: str, by: Actor
) -> None:
    event = audit.Event("directory.token.issue", allowed, reason, "professional", rpps)
    audit.append(uow, ctx.signer, ctx.now(), None, by, event)


def _refuse_token(
    ctx: Context, uow: UnitOfWork, rpps: str, reason: str, error: DmpError, by: Actor
) -> NoReturn:
    """A refused token issue is in the trail before it is answered: commit it, then raise."""
    _token_audit(ctx, uow, rpps, False, reason, by)
    uow.commit()
    raise error


def authenticate(ctx: Context, token: str) -> ProfessionalActor:
    """The professional a bearer token stands for; refused if unknown, expired, revoked, or if
    the professional may no longer hold credentials (excluded by law, inactive, no longer working
    for the token's establishment). Asked again on every request, from the directory as it is
    now: the last care establishment of a professional gone, or reclassified as excluded, and
    their tokens stop working at once. One query reads it all (see ``token_holder``)."""
    invalid = Unauthenticated("Jeton d'accès invalide, expiré ou révoqué.")
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise invalid
    with ctx.reader() as uow:
        holder = uow.directory.token_holder(_hash_token(token))
    if holder is None or holder.revoked_at is not None or holder.expires_at <= ctx.now():
        raise invalid
    professional, establishment = holder.professional, holder.establishment
    if not policy.may_hold_credentials(professional, establishment):
        raise invalid
    return professional_actor(ctx, professional, establishment)


def revoke_token(ctx: Context, token_id: UUID) -> None:
    with ctx.uow() as uow:
        if not uow.directory.revoke_token(token_id, ctx.now()):
            raise NotFound("Jeton inconnu ou déjà révoqué.")
        audit.append(
            uow,
            ctx.signer,
            ctx.now(),
            None,
            OPERATOR,
            audit.Event("directory.token.revoke", True, "revoked", "token", token_id),
        )
        uow.commit()


def list_professionals(ctx: Context) -> list[Professional]:
    with ctx.uow() as uow:
        return uow.directory.professionals()


# --- the directory as a patient searches it ------------------------------------------------------

SEARCH_LIMIT = 20  # of each kind, at once: beyond, the patient is asked to say more of the name
SEARCH_WORDS = 5  # words of a name looked for; more add nothing but cost
_SPACES = re.compile(r"\s+")
_CORSICA = frozenset("ABab")  # a FINESS of Corsica starts with 2A or 2B


@dataclass(frozen=True, slots=True)
class Listed:
    """A professional or an establishment as a patient reads them in a list: the name, what
    they are (a profession and a specialty, or a kind of establishment, in French), their
    number in the national register (RPPS, FINESS), and where a professional works."""

    kind: str  # "professional" | "establishment"
    id: UUID
    name: str
    what: str
    identifier: str
    workplaces: tuple[str, ...] = ()
    medecin: bool = False
    active: bool = True


@dataclass(frozen=True, slots=True)
class Found:
    """What a search found, at most SEARCH_LIMIT of each kind (``more``: there were more)."""

    professionals: list[Listed]
    establishments: list[Listed]
    more: bool


@dataclass(frozen=True, slots=True)
class _Query:
    rpps: str | None = None
    finess: str | None = None
    words: tuple[str, ...] = ()


def search(ctx: Context, text: str) -> Found:
    """Professionals and establishments found by a name (given or family names, or an
    establishment's name: each word typed begins one of the name's words, accents and case
    ignored), by an RPPS or by a FINESS. Everyone registered is found, those the law keeps out
    of the DMP included: the directory mirrors the national registers, and whoever tries to
    authorize them is told why they cannot (``policy.grant``). Reads the directory only: no DMP,
    nothing to audit."""
    query = _query(text)
    with ctx.reader() as uow:
        directory = uow.directory
        if query.rpps is not None:
            professionals, establishments = directory.professionals_listed(rpps=query.rpps), []
        elif query.finess is not None:
            professionals, establishments = [], directory.establishment_listed(query.finess)
        else:
            professionals = directory.professionals_named(query.words, SEARCH_LIMIT + 1)
            establishments = directory.establishments_named(query.words, SEARCH_LIMIT + 1)
        more = max(len(professionals), len(establishments)) > SEARCH_LIMIT
        professionals, establishments = professionals[:SEARCH_LIMIT], establishments[:SEARCH_LIMIT]
        workplaces = directory.workplaces([found.id for found in professionals])
    return Found(
        [listed_professional(ctx, p, workplaces.get(p.id, ())) for p in professionals],
        [listed_establishment(ctx, e) for e in establishments],
        more,
    )


def _query(text: str) -> _Query:
    """A name, an RPPS or a FINESS, as typed. What is made of digits (of any script: a name
    has none), spaces aside, is a number of the registers, read in ASCII digits only
    (domain.identifiers): « ١٠٠… » is refused with its reason rather than searched as a name."""
    typed = check_text(text, "Recherche", code="search", max_length=2 * MAX_NAME)
    compact = _SPACES.sub("", typed)
    if _is_number(compact):
        if len(compact) == 11:
            return _Query(rpps=parse_rpps(compact))
        if len(compact) == 9:
            return _Query(finess=parse_finess(compact))
        raise InvalidInput(
            "Un numéro RPPS compte 11 chiffres, un numéro FINESS 9 caractères.", code="search"
        )
    found = tuple(words(typed))
    if sum(len(word) for word in found) < 2:
        raise InvalidInput(
            "Tapez au moins deux lettres du nom, ou un numéro RPPS ou FINESS.", code="search"
        )
    return _Query(words=found[:SEARCH_WORDS])


def _is_number(compact: str) -> bool:
    digits = [c for c in compact if unicodedata.category(c) == "Nd"]
    return bool(digits) and all(c in _CORSICA or unicodedata.category(c) == "Nd" for c in compact)


def listed_professional(
    ctx: Context, professional: ListedProfessional, workplaces: Sequence[str] = ()
) -> Listed:
    """A professional as listed to a patient, in French."""
    what = ctx.valuesets.professions.get(professional.profession, professional.profession)
    if professional.specialty:
        what += f", {professional.specialty}"
    if professional.occupational_health:
        what += " (santé au travail)"
    return Listed(
        "professional",
        professional.id,
        f"{professional.given_name} {professional.family_name}",
        what,
        professional.rpps,
        tuple(workplaces),
        medecin=professional.profession == MEDECIN,
        active=professional.active,
    )


def listed_establishment(ctx: Context, establishment: ListedEstablishment) -> Listed:
    """An establishment as listed to a patient, in French."""
    kind = establishment.kind
    label, _excluded = ctx.valuesets.establishment_kinds.get(kind, (kind, False))
    return Listed(
        "establishment", establishment.id, establishment.name, label, establishment.finess
    )

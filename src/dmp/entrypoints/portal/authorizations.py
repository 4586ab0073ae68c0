"""Who may enter the DMP, as the patient (or a legal representative) decides it: the list of
authorizations, blocks, the médecin traitant and the oppositions to the emergency accesses; the
directory search, to authorize someone; and each change, a form posted with its CSRF token that
calls one service and comes back to the list with a confirmation. The session decides the DMP:
no form names one. A refusal is the policy's, told by the services (see ``errors.py``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from dmp.domain.model import PatientActor, RepresentativeActor
from dmp.entrypoints.portal import web
from dmp.entrypoints.portal.web import context_of, field, page, redirect
from dmp.errors import InvalidInput
from dmp.services import authorizations, directory

router = APIRouter(include_in_schema=False)
HOME = "/autorisations"
Holder = PatientActor | RepresentativeActor

# What the list says after each change (``?fait=``): only these sentences, never the URL's text.
DONE = {
    "autorisation": "Autorisation enregistrée.",
    "retrait": "Autorisation retirée.",
    "blocage": (
        "Professionnel bloqué : il ne peut plus accéder au DMP, par aucun moyen, même en "
        "urgence. Son autorisation est retirée et, s'il était le médecin traitant, il ne l'est "
        "plus."
    ),
    "deblocage": (
        "Professionnel débloqué. Il n'est pas autorisé pour autant : autorisez-le si vous le "
        "souhaitez."
    ),
    "medecin-traitant": (
        "Médecin traitant enregistré. Un message le confirme ; le médecin remplacé, s'il y en "
        "avait un, est prévenu."
    ),
    "urgence-opposee": (
        "Opposition enregistrée : aucun professionnel ne pourra consulter le DMP en urgence "
        "(bris de glace)."
    ),
    "urgence-permise": "L'accès en urgence (bris de glace) est de nouveau possible.",
    "samu-oppose": (
        "Opposition enregistrée : les médecins régulateurs du SAMU (centre 15) ne pourront pas "
        "consulter le DMP."
    ),
    "samu-permis": "L'accès par le SAMU (centre 15) est de nouveau possible.",
}
# How each authorization was given (services.authorizations.Granted.source).
SOURCES = {
    "patient": "Autorisation donnée en ligne",
    "declared": "Déclarée par le professionnel lors d'une consultation",
    "creator": "A créé le DMP",
    "reactivation": "A réactivé le DMP",
}
Done = Annotated[str | None, Query(alias="fait", max_length=40)]
Searched = Annotated[str | None, Query(alias="q")]


@router.get(HOME)
async def choices_page(request: Request, fait: Done = None) -> Response:
    actor = web.signed_in(request).actor()
    ctx = context_of(request)
    choices = await run_in_threadpool(authorizations.access_choices, ctx, actor, actor.dmp_id)
    done = DONE.get(fait or "")
    return page(request, "authorizations/index.html", choices=choices, done=done, sources=SOURCES)


@router.get(f"{HOME}/rechercher")
async def search_page(request: Request, q: Searched = None) -> Response:
    web.signed_in(request)
    if not q:
        return page(request, "authorizations/search.html", q="", found=None)
    try:
        found = await run_in_threadpool(directory.search, context_of(request), q)
    except InvalidInput as refused:
        return page(
            request,
            "authorizations/search.html",
            status=400,
            error=refused.message,
            q=q,
            found=None,
        )
    return page(request, "authorizations/search.html", q=q, found=found)


# --- the changes: parse, call one service with the session's DMP, come back to the list ---------


@router.post(f"{HOME}/autoriser")
async def authorize(request: Request) -> Response:
    actor, data = await _posted(request)
    kind, subject = field(data, "type", max_length=20), _id(data)
    return await _apply(
        request, "autorisation", authorizations.authorize_listed, actor, kind, subject
    )


@router.post(f"{HOME}/retirer")
async def revoke(request: Request) -> Response:
    actor, data = await _posted(request)
    kind, subject = field(data, "type", max_length=20), _id(data)
    return await _apply(request, "retrait", authorizations.revoke, actor, kind, subject)


@router.post(f"{HOME}/bloquer")
async def block(request: Request) -> Response:
    actor, data = await _posted(request)
    return await _apply(request, "blocage", authorizations.block, actor, _id(data))


@router.post(f"{HOME}/debloquer")
async def unblock(request: Request) -> Response:
    actor, data = await _posted(request)
    return await _apply(request, "deblocage", authorizations.unblock, actor, _id(data))


@router.post(f"{HOME}/medecin-traitant")
async def designate(request: Request) -> Response:
    actor, data = await _posted(request)
    designate_one = authorizations.designate_medecin_traitant
    return await _apply(request, "medecin-traitant", designate_one, actor, _id(data))


@router.post(f"{HOME}/acces-urgence")
async def emergency(request: Request) -> Response:
    actor, data = await _posted(request)
    opposed = _opposed(data)
    done = "urgence-opposee" if opposed else "urgence-permise"
    return await _apply(request, done, authorizations.set_oppositions, actor, emergency=opposed)


@router.post(f"{HOME}/acces-samu")
async def samu(request: Request) -> Response:
    actor, data = await _posted(request)
    opposed = _opposed(data)
    done = "samu-oppose" if opposed else "samu-permis"
    return await _apply(request, done, authorizations.set_oppositions, actor, samu=opposed)


async def _posted(request: Request) -> tuple[Holder, FormData]:
    """Who acts (the signed-in session's holder or representative), and the form they posted
    with its CSRF token."""
    session = web.signed_in(request)
    data = await web.form(request)
    return session.actor(), data


async def _apply(
    request: Request,
    done: str,
    service: Callable[..., object],
    actor: Holder,
    *args: object,
    **options: bool,
) -> Response:
    """Call the service on the session's DMP; back to the list, which says it is done."""
    ctx = context_of(request)
    await run_in_threadpool(service, ctx, actor, actor.dmp_id, *args, **options)
    return redirect(f"{HOME}?fait={done}")


def _id(data: FormData) -> UUID:
    try:
        return UUID(field(data, "id", max_length=36))
    except ValueError:
        raise InvalidInput(
            "Ce professionnel ou cet établissement est inconnu de l'annuaire.", code="form"
        ) from None


def _opposed(data: FormData) -> bool:
    answer = field(data, "opposition", max_length=3)
    if answer not in ("oui", "non"):
        raise InvalidInput("Répondez par oui ou par non.", code="form")
    return answer == "oui"

"""What the professional portal's pages share beyond the patient portal's foundations
(``portal.web``: the session, the CSRF token, the forms): the templates (the pro ones first,
then the portal's, whose macros they reuse), and the acting professional of a page."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import UUID

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool

from dmp.domain.french import day_fr, moment_fr
from dmp.domain.model import ProfessionalActor
from dmp.entrypoints.portal import web as portal_web
from dmp.entrypoints.portal.documents import document_id
from dmp.entrypoints.portal.web import context_of, session_of
from dmp.services import pro_login
from dmp.services.sessions import SignInRequired, WebSession

HERE = Path(__file__).parent
templates = Jinja2Templates(
    env=Environment(
        loader=ChoiceLoader(
            [FileSystemLoader(HERE / "templates"), FileSystemLoader(portal_web.HERE / "templates")]
        ),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
    )
)
# What a page says after a form led to it (``?fait=…``).
DONE = {
    "ajoute": "Le document est ajouté au DMP.",
    "remplace": "La nouvelle version remplace la précédente.",
    "archiver": "Le document est archivé.",
    "desarchiver": "Le document n'est plus archivé.",
    "supprimer": (
        "Le document est supprimé : plus personne ne le voit (il reste dans l'historique)."
    ),
    "reveler": "Le document est maintenant visible du patient.",
    "ferme": "Le DMP est fermé. Le patient en est informé.",
    "reactive": "Le DMP est réactivé, avec toutes ses données. Le patient en est informé.",
    "medecin-traitant": "Vous êtes désormais le médecin traitant de ce patient.",
}
templates.env.globals["quote"] = quote
templates.env.filters["day_fr"] = day_fr
templates.env.filters["moment_fr"] = moment_fr


def page(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """A page of the professional portal, with what its layout needs."""
    session = session_of(request)
    values.setdefault("error", None)
    values.setdefault("me", None)
    response: HTMLResponse = templates.TemplateResponse(
        request,
        template,
        {
            "session": session,
            "csrf": session.csrf if session is not None else "",
            "demo": context_of(request).settings.demo,
            "path": request.url.path,
            **values,
        },
        status_code=status,
    )
    return response


async def professional(request: Request) -> ProfessionalActor:
    """The professional the page acts as, asked of the directory again (ADR 6); to the login
    page otherwise."""
    return await run_in_threadpool(pro_login.actor, context_of(request), session_of(request))


async def signed_in_page(request: Request, template: str, **values: Any) -> HTMLResponse:
    """A page of a signed-in professional, with their name and establishment in the header."""
    actor = await professional(request)
    return page(request, template, me=actor, **values)


def pro_session(request: Request) -> WebSession:
    """The session of a page whose professional was just asked for (``professional``)."""
    session = session_of(request)
    if session is None:
        raise SignInRequired()
    return session


def dmp_ref(text: str) -> UUID:
    """A DMP named by a path: a malformed id names none (the nil UUID, which no DMP has), so
    that the door refuses it as any missing DMP, and writes it."""
    return document_id(text)


def done(text: str | None) -> str | None:
    """The message of ``?fait=…``, if it is one of ours."""
    return DONE.get(text or "")

"""The home page (the portal's door, and the API's address for integrators) and the patient's
overview of their DMP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dmp.entrypoints.portal import web
from dmp.entrypoints.portal.web import context_of, page, redirect
from dmp.services import overview

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(request: Request) -> Response:
    session = web.session_of(request)
    if session is not None and session.signed_in:
        return redirect("/tableau-de-bord")
    return page(request, "home.html")


DONE = {"ferme": "Votre DMP est fermé. Vous êtes prévenu(e) par message."}


@router.get("/tableau-de-bord")
async def dashboard(
    request: Request, fait: Annotated[str | None, Query(max_length=20)] = None
) -> Response:
    session = web.signed_in(request)
    ctx, actor = context_of(request), session.actor()
    seen = await run_in_threadpool(overview.overview, ctx, actor, actor.dmp_id)
    return page(request, "dashboard.html", seen=seen, done=DONE.get(fait or ""))

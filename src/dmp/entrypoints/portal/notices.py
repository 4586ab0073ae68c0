"""The notices the patient chooses to receive (SPEC §5): which ones, and by e-mail or SMS. The
rules (which are required, what a choice means when a message leaves) are the services'."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dmp.entrypoints.portal import web
from dmp.entrypoints.portal.web import context_of, page, redirect
from dmp.services import notices

router = APIRouter(include_in_schema=False)
MAX_CHOICES = 64  # a kind × a channel each: the form has fewer than that


@router.get("/notifications")
async def notices_page(request: Request, enregistre: str | None = None) -> Response:
    session = web.signed_in(request)
    actor = session.actor()
    view = await run_in_threadpool(notices.read_notices, context_of(request), actor, actor.dmp_id)
    return page(request, "notices.html", view=view, saved=enregistre == "1")


@router.post("/notifications")
async def notices_post(request: Request) -> Response:
    session = web.signed_in(request)
    data = await web.form(request, max_fields=MAX_CHOICES)
    wanted: dict[str, set[str]] = {}
    for name, value in data.multi_items():
        if name != "csrf" and isinstance(value, str):
            wanted.setdefault(name[:64], set()).add(value[:16])
    actor = session.actor()
    await run_in_threadpool(
        notices.choose_notices, context_of(request), actor, actor.dmp_id, wanted
    )
    return redirect("/notifications?enregistre=1")

"""The end of a DMP, at the patient's request (SPEC §2): closing it (``/fermeture``: a reason,
what closure means, a fresh code) and destroying it whole (``/destruction``: an unmistakable
warning, the export offered first, a fresh code). The rules — who may, and the fresh code a
holder needs — are the policy's (``policy.close_record``, ``policy.destroy``), asked by the use
cases; a missing code comes back as ``step-up-required`` and the portal asks for one, then
returns here (``errors``)."""

from __future__ import annotations

import unicodedata

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dmp.entrypoints.portal import web
from dmp.entrypoints.portal.web import context_of, field, page, redirect
from dmp.services import login, overview, records, sessions

router = APIRouter(include_in_schema=False)
CLOSE, DESTROY, DESTROYED = "/fermeture", "/destruction", "/destruction/effectuee"


async def _close_form(request: Request, status: int = 200, error: str | None = None) -> Response:
    session = web.signed_in(request)
    ctx, actor = context_of(request), session.actor()
    seen = await run_in_threadpool(overview.overview, ctx, actor, actor.dmp_id)
    fresh = login.fresh_step_up_now(ctx, session)
    return page(request, "closing.html", status=status, error=error, seen=seen, fresh=fresh)


@router.get(CLOSE)
async def close_form(request: Request) -> Response:
    return await _close_form(request)


@router.post(CLOSE)
async def close(request: Request) -> Response:
    actor = web.signed_in(request).actor()
    data = await web.form(request)
    reason = field(data, "motif", required=False)
    if not reason.strip():
        return await _close_form(request, 400, "Indiquez le motif de la fermeture.")
    if data.get("compris") != "oui":
        return await _close_form(request, 400, "Cochez la case qui confirme votre choix.")
    await run_in_threadpool(records.close_record, context_of(request), actor, actor.dmp_id, reason)
    return redirect("/tableau-de-bord?fait=ferme")


@router.get(DESTROY)
async def destroy_form(request: Request) -> Response:
    session = web.signed_in(request)
    fresh = login.fresh_step_up_now(context_of(request), session)
    return page(request, "destruction.html", fresh=fresh)


@router.post(DESTROY)
async def destroy(request: Request) -> Response:
    session = web.signed_in(request)
    actor = session.actor()
    data = await web.form(request)
    typed = field(data, "mot", required=False, max_length=40)
    if data.get("definitif") != "oui" or _folded(typed) != "detruire":
        fresh = login.fresh_step_up_now(context_of(request), session)
        error = "Cochez la case et recopiez le mot DÉTRUIRE pour confirmer."
        return page(request, "destruction.html", status=400, error=error, fresh=fresh)
    ctx = context_of(request)
    await run_in_threadpool(records.destroy_record, ctx, actor, actor.dmp_id)
    # The DMP is gone, and with it (the last one) the account: this session ends here.
    await run_in_threadpool(sessions.end, ctx, request.cookies.get(web.COOKIE))
    web.forget(request)
    return redirect(DESTROYED)


def _folded(word: str) -> str:
    """« DÉTRUIRE » as typed on any keyboard: case and accents aside."""
    decomposed = unicodedata.normalize("NFKD", word.strip().casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@router.get(DESTROYED)
async def destroyed(request: Request) -> Response:
    return page(request, "destroyed.html")

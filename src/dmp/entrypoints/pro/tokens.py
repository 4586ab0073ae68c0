"""The professional's API tokens, for their own software (SPEC §6.1: bearer tokens bound to a
professional): create one with a name (shown once, on the answer's page only), list them,
revoke one."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dmp.domain.model import ProfessionalActor
from dmp.entrypoints.portal import web
from dmp.entrypoints.portal.documents import document_id
from dmp.entrypoints.portal.web import context_of, field, redirect
from dmp.entrypoints.pro.web import page, professional
from dmp.errors import InvalidInput
from dmp.services import pro_tokens
from dmp.services.directory import IssuedToken

router = APIRouter(include_in_schema=False)


async def _page(
    request: Request,
    actor: ProfessionalActor,
    *,
    issued: IssuedToken | None = None,
    label: str = "",
    status: int = 200,
    error: str | None = None,
    revoked: bool = False,
) -> Response:
    ctx = context_of(request)
    tokens = await run_in_threadpool(pro_tokens.tokens_of, ctx, actor)
    values = {"tokens": tokens, "issued": issued, "label": label, "revoked": revoked}
    response = page(
        request, "pro/tokens.html", status=status, me=actor, error=error, now=ctx.now(), **values
    )
    if issued is not None:  # the token is on this page only: no cache keeps it
        response.headers["cache-control"] = "no-store"
    return response


@router.get("/jetons")
async def list_tokens(request: Request, revoque: str | None = None) -> Response:
    actor = await professional(request)
    return await _page(request, actor, revoked=revoque == "1")


@router.post("/jetons")
async def create(request: Request) -> Response:
    actor = await professional(request)
    data = await web.form(request)
    label = field(data, "nom", required=False, max_length=200)
    ctx = context_of(request)
    try:
        issued = await run_in_threadpool(pro_tokens.create_token, ctx, actor, label)
    except InvalidInput as refused:
        return await _page(request, actor, label=label, status=400, error=refused.message)
    return await _page(request, actor, issued=issued, label=label)


@router.post("/jetons/{ref}/revoquer")
async def revoke(request: Request, ref: str) -> Response:
    actor = await professional(request)
    await web.form(request)
    token_id: UUID = document_id(ref)  # a malformed id names no token (the nil UUID)
    await run_in_threadpool(pro_tokens.revoke_own_token, context_of(request), actor, token_id)
    return redirect("/pro/jetons?revoque=1")

"""The demo's messages, at ``/demo/messages``: in demo mode only (``dmp demo``), the latest
messages the demo "sent" — the one-time codes included, since the demo's people are synthetic
and no message leaves the machine (ADR 9). Elsewhere the page does not exist (404)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dmp.entrypoints.portal.web import context_of, page
from dmp.services.notifications import demo_messages

router = APIRouter(include_in_schema=False)
SHOWN = 30


@router.get("/demo/messages")
async def messages(request: Request) -> Response:
    sent = await run_in_threadpool(demo_messages, context_of(request), SHOWN)
    return page(request, "demo_messages.html", sent=sent)

"""« Mon activité »: the professional's own recent accesses, across DMPs, as the patient reads
them in their history (``services.activity``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dmp.entrypoints.portal.web import context_of
from dmp.entrypoints.pro.web import page, professional
from dmp.services import activity

router = APIRouter(include_in_schema=False)


@router.get("/activite")
async def my_activity(request: Request) -> Response:
    actor = await professional(request)
    done = await run_in_threadpool(activity.my_activity, context_of(request), actor)
    return page(request, "pro/activity.html", me=actor, entries=done, limit=activity.LIMIT)

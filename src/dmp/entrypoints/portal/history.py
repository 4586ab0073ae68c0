"""The access history (SPEC §5): « qui a accédé à votre DMP, quand et pour quoi faire »,
filtered by person, kind and dates, a page at a time. The filters are a GET form: a filtered
page can be bookmarked, reloaded, and its pages followed."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dmp.domain import inputs
from dmp.entrypoints.portal import web
from dmp.entrypoints.portal.web import context_of, page
from dmp.errors import InvalidInput
from dmp.services import history
from dmp.services.history import HistoryQuery

router = APIRouter(include_in_schema=False)
_DAY = re.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}")
Text = Annotated[str | None, Query(max_length=64)]


def _day(text: str | None, label: str) -> date | None:
    """A day as a date field sends it (AAAA-MM-JJ); nothing for an empty field."""
    if not text:
        return None
    try:
        if _DAY.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise InvalidInput(f"La date « {label} » est invalide : écrivez-la AAAA-MM-JJ.", code="form")


def _before(text: str | None) -> int | None:
    if not text:
        return None
    found = inputs.ascii_int(text)
    if found is None:
        raise InvalidInput("Cette page de l'historique n'existe pas.", code="form")
    return found


@router.get("/historique")
async def history_page(
    request: Request,
    qui: Text = None,
    kind: Annotated[str | None, Query(alias="type", max_length=32)] = None,
    du: Text = None,
    au: Text = None,
    vues: Text = None,
    avant: Text = None,
) -> Response:
    session = web.signed_in(request)
    actor = session.actor()
    query = HistoryQuery(
        who=qui or None,
        kind=kind or None,
        since=_day(du, "du"),
        until=_day(au, "au"),
        own_views=vues == "1",
    )
    view = await run_in_threadpool(
        history.history_view,
        context_of(request),
        actor,
        actor.dmp_id,
        query,
        before_seq=_before(avant),
    )
    chosen = {"qui": qui, "type": kind, "du": du, "au": au, "vues": vues}
    kept = {name: value for name, value in chosen.items() if value}
    older = None
    if view.page.next_before is not None:
        older = "/historique?" + urlencode({**kept, "avant": view.page.next_before})
    newest = ("/historique?" + urlencode(kept)) if avant else None
    return page(
        request, "history.html", view=view, query=query, chosen=chosen, older=older, newest=newest
    )

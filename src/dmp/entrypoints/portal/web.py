"""What every page of the portal shares: the session of the browser (a cookie holding a random
token, the session itself on the server), the CSRF token of its forms, the templates, the
answers (a page, a redirection). No rule here: the services decide."""

from __future__ import annotations

import logging
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dmp.domain.french import day_fr, moment_fr
from dmp.errors import DmpError, InvalidInput
from dmp.services import sessions
from dmp.services.context import Context
from dmp.services.sessions import Opened, SignInRequired, WebSession

HERE = Path(__file__).parent
log = logging.getLogger("dmp.portal")
COOKIE = "dmp_session"
MAX_FIELD = 4000  # a form field: free text (a reason, a comment) fits; more is not meant
MAX_CREDENTIAL = 20_000  # a passkey device's answer, in JSON: some hundred bytes, an RSA key more
# Autoescaped: every value a page shows is text, never markup (a title, a name, a reason).
templates = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
    )
)
templates.env.globals["quote"] = quote
templates.env.filters["day_fr"] = day_fr
templates.env.filters["moment_fr"] = moment_fr


def context_of(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


# --- the session, as the middleware found it ----------------------------------------------------


class PortalSessions:
    """Loads the browser's session before a page's handler runs, and writes the cookie after
    it when the handler opened or renewed a session, or ended it. Only for the portal's pages:
    the API has no cookie."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_page(scope["path"]):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        ctx: Context = scope["app"].state.ctx
        try:
            state["web_session"] = await run_in_threadpool(sessions.current, ctx, _token(scope))
        except DmpError as error:  # e.g. the database does not answer: a page says so
            log.error("dmp error %s on %s %s", error.code, scope["method"], scope["path"])
            state["web_session"] = None
            answer = page(Request(scope), "error.html", status=error.status, message=error.message)
            await answer(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = _cookie(ctx, state)
                if cookie is not None:
                    message["headers"] = [*message.get("headers", []), cookie]
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def _is_page(path: str) -> bool:
    return not (path.startswith(("/fhir", "/static/")) or path == "/openapi.json")


def _token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:
                return None
            morsel = jar.get(COOKIE)
            return morsel.value if morsel is not None else None
    return None


def _cookie(ctx: Context, state: dict[str, Any]) -> tuple[bytes, bytes] | None:
    secure = "; Secure" if ctx.settings.cookie_secure else ""
    if "new_token" in state:
        value = f"{COOKIE}={state['new_token']}; Path=/; HttpOnly; SameSite=Strict{secure}"
    elif state.get("clear_cookie"):
        value = f"{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{secure}"
    else:
        return None
    return (b"set-cookie", value.encode("latin-1"))


def session_of(request: Request) -> WebSession | None:
    found: WebSession | None = request.state.web_session
    return found


def use(request: Request, opened: Opened) -> WebSession:
    """The browser takes this session (a new one, or the one a login renewed)."""
    request.state.new_token = opened.token
    request.state.web_session = opened.session
    return opened.session


def forget(request: Request) -> None:
    request.state.clear_cookie = True
    request.state.web_session = None


async def any_session(request: Request) -> WebSession:
    """The browser's session, anonymous or not; a new anonymous one if it has none."""
    found = session_of(request)
    if found is None:
        found = use(request, await run_in_threadpool(sessions.open_session, context_of(request)))
    return found


def signed_in(request: Request) -> WebSession:
    """The signed-in session of the page's visitor; to the login page otherwise."""
    found = session_of(request)
    if found is None or not found.signed_in:
        raise SignInRequired()
    return found


# --- forms --------------------------------------------------------------------------------------


async def form(request: Request, **limits: int) -> FormData:
    """The posted form, accepted only with the session's CSRF token."""
    data = await request.form(**limits)
    token = data.get("csrf")
    sessions.check_csrf(session_of(request), token if isinstance(token, str) else None)
    return data


def field(data: FormData, name: str, *, required: bool = True, max_length: int = MAX_FIELD) -> str:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise InvalidInput(f"Le champ « {name} » est obligatoire.", code="form")
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"Le champ « {name} » doit être un texte.", code="form")
    if len(value) > max_length:
        raise InvalidInput(f"Le champ « {name} » est trop long.", code="form")
    return value


# --- answers ------------------------------------------------------------------------------------


def page(request: Request, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
    """A page of the portal, with what the layout needs (the session, the CSRF token)."""
    session = session_of(request)
    values.setdefault("error", None)
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


def quoted(text: str) -> str:
    """A path, as a query parameter's value."""
    return quote(text, safe="")


def redirect(url: str) -> Response:
    """After a form: the next page by GET (303), so that reloading does not post again."""
    return RedirectResponse(url, status_code=303)


class _Static(StaticFiles):
    """The portal's own styles and scripts: no health data, cached for a day."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["cache-control"] = "public, max-age=86400"
        return response


def install(app: FastAPI) -> None:
    app.mount("/static", _Static(directory=HERE / "static"), name="static")
    app.add_middleware(PortalSessions)

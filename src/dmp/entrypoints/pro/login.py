"""Logging in to the professional portal: through the identity provider (OpenID Connect,
authorization code with PKCE), or with RPPS, password and an authenticator app's code (enrolled
at the first login); then the establishment to act for; and logging out."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from dmp.entrypoints.portal import CSP, web
from dmp.entrypoints.portal.security import qr_code
from dmp.entrypoints.portal.web import context_of, field, redirect
from dmp.entrypoints.pro.web import page
from dmp.errors import InvalidInput
from dmp.services import pro_login, sessions
from dmp.services.pro_login import ProLoginFailed, ProviderFailed
from dmp.services.sessions import PRO_CODE, PRO_ENROL, PRO_PLACE, Opened

router = APIRouter(include_in_schema=False)
# The login at the provider comes back by a cross-site navigation, which a SameSite=Strict
# cookie does not follow: the session of that login travels in a cookie of its own, Lax, sent to
# the return address only, and gone once it is used.
FLOW_COOKIE = "dmp_psc"
FLOW_PATH = "/pro/connexion/psc/retour"
Param = Annotated[str | None, Query(max_length=2000)]


def _login_page(request: Request, status: int = 200, error: str | None = None) -> Response:
    ctx = context_of(request)
    response = page(
        request,
        "pro/login.html",
        status=status,
        error=error,
        provider=pro_login.provider_enabled(ctx),
    )
    origins = pro_login.provider_origins(ctx)
    if origins:  # the button's form is redirected to the provider: let the browser follow
        allowed = " ".join(["'self'", *origins]).encode()
        policy = CSP.replace(b"form-action 'self'", b"form-action " + allowed)
        response.headers["content-security-policy"] = policy.decode()
    return response


@router.get("/connexion")
async def login_form(request: Request) -> Response:
    await web.any_session(request)
    return _login_page(request)


@router.post("/connexion")
async def login_post(request: Request) -> Response:
    session = await web.any_session(request)
    data = await web.form(request)
    rpps, password = field(data, "rpps", max_length=20), field(data, "mot_de_passe")
    try:
        found = await run_in_threadpool(
            pro_login.begin, context_of(request), session, rpps, password
        )
    except ProLoginFailed as failed:
        return _login_page(request, 401, failed.message)
    return redirect(
        "/pro/connexion/application" if found.stage == PRO_ENROL else "/pro/connexion/code"
    )


@router.get("/connexion/code")
async def code_form(request: Request) -> Response:
    session = web.session_of(request)
    if session is None or session.stage != PRO_CODE:
        return redirect("/pro/connexion")
    return page(request, "pro/code.html")


@router.post("/connexion/code")
async def code_post(request: Request) -> Response:
    session = await web.any_session(request)
    data = await web.form(request)
    code = field(data, "code", max_length=12)
    try:
        opened = await run_in_threadpool(pro_login.finish, context_of(request), session, code)
    except ProLoginFailed as failed:
        return page(request, "pro/code.html", status=401, error=failed.message)
    return _signed_in(request, opened)


@router.get("/connexion/application")
async def enrol_form(request: Request, error: str | None = None) -> Response:
    session = web.session_of(request)
    if session is None or session.stage != PRO_ENROL:
        return redirect("/pro/connexion")
    return await _enrol_page(request, session)


async def _enrol_page(
    request: Request, session: sessions.WebSession, status: int = 200, error: str | None = None
) -> Response:
    enrolment = await run_in_threadpool(pro_login.enrolment, context_of(request), session)
    values = {"enrolment": enrolment, "qr": qr_code(enrolment.uri), "error": error}
    return page(request, "pro/enrol.html", status=status, **values)


@router.post("/connexion/application")
async def enrol_post(request: Request) -> Response:
    session = await web.any_session(request)
    data = await web.form(request)
    code = field(data, "code", max_length=12)
    try:
        opened = await run_in_threadpool(
            pro_login.confirm_enrolment, context_of(request), session, code
        )
    except ProLoginFailed as failed:
        refreshed = web.session_of(request)
        if refreshed is None or refreshed.stage != PRO_ENROL:
            return _login_page(request, 401, failed.message)
        return await _enrol_page(request, refreshed, 400, failed.message)
    return _signed_in(request, opened)


def _signed_in(request: Request, opened: Opened) -> Response:
    web.use(request, opened)
    if opened.session.stage == PRO_PLACE:
        return redirect("/pro/structure")
    return redirect("/pro")


@router.get("/structure")
async def place_form(request: Request) -> Response:
    session = web.session_of(request)
    if session is None or session.stage != PRO_PLACE:
        return redirect("/pro")
    places = await run_in_threadpool(pro_login.places, context_of(request), session)
    return page(request, "pro/place.html", places=places)


@router.post("/structure")
async def place_post(request: Request) -> Response:
    session = await web.any_session(request)
    data = await web.form(request)
    chosen = field(data, "etablissement", max_length=40)
    try:
        establishment = None if chosen == "aucun" else UUID(chosen)
    except ValueError:
        raise InvalidInput("Choisissez l'un de vos établissements.", code="form") from None
    await run_in_threadpool(pro_login.choose_place, context_of(request), session, establishment)
    return redirect("/pro")


# --- the identity provider ---------------------------------------------------------------------


@router.post("/connexion/psc")
async def provider_start(request: Request) -> Response:
    """To the provider, with a session of this login's own (its token in the Lax cookie)."""
    await web.any_session(request)
    await web.form(request)
    ctx = context_of(request)
    flow = await run_in_threadpool(sessions.open_session, ctx)
    url = await run_in_threadpool(pro_login.start_provider, ctx, flow.session)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        FLOW_COOKIE,
        flow.token,
        max_age=int(pro_login.OIDC_LIFETIME.total_seconds()),
        path=FLOW_PATH,
        secure=ctx.settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/connexion/psc/retour")
async def provider_return(
    request: Request, code: Param = None, state: Param = None, error: Param = None
) -> Response:
    ctx = context_of(request)
    flow = await run_in_threadpool(sessions.current, ctx, request.cookies.get(FLOW_COOKIE))
    try:
        if error or not code or not state:
            raise ProviderFailed()
        opened = await run_in_threadpool(pro_login.finish_provider, ctx, flow, code, state)
    except ProviderFailed as failed:
        response = _login_page(request, 401, failed.message)
    else:
        response = _signed_in(request, opened)
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH)
    return response


@router.post("/deconnexion")
async def logout(request: Request) -> Response:
    await web.form(request)
    await run_in_threadpool(sessions.end, context_of(request), request.cookies.get(web.COOKIE))
    web.forget(request)
    return redirect("/pro/connexion?deconnecte=1")

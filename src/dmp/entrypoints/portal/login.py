"""Logging in (identifier, password, then a one-time code), the first password, a forgotten
password, the choice of a DMP (a legal representative of several minors), the fresh code asked
before what cannot be undone, and logging out."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from dmp.entrypoints.portal import web
from dmp.entrypoints.portal.web import MAX_CREDENTIAL, context_of, field, page, redirect
from dmp.errors import DmpError, InvalidInput
from dmp.services import login, passkeys, sessions
from dmp.services.login import Done
from dmp.services.sessions import CHOOSE, CODE, NEW_PASSWORD

router = APIRouter(include_in_schema=False)
Next = Annotated[str | None, Query(alias="suite", max_length=200)]
CHANNEL_LABELS = {"sms": "par SMS", "email": "par courriel", "totp": "avec votre application"}


def _safe_next(target: str | None) -> str:
    """Only a path of this site: never send a visitor elsewhere after logging in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/tableau-de-bord"


@router.get("/connexion")
async def login_form(request: Request, suite: Next = None) -> Response:
    await web.any_session(request)
    return page(request, "login.html", suite=_safe_next(suite))


@router.post("/connexion")
async def login_post(request: Request) -> Response:
    session = await web.any_session(request)
    data = await web.form(request)
    identifier, password = field(data, "identifiant", max_length=64), field(data, "mot_de_passe")
    channel = field(data, "canal", max_length=8)
    await run_in_threadpool(
        login.begin, context_of(request), session, identifier, password, channel
    )
    target = _safe_next(field(data, "suite", required=False, max_length=200))
    return redirect(f"/connexion/code?canal={channel}&suite={web.quoted(target)}")


@router.get("/connexion/code")
async def code_form(request: Request, suite: Next = None, canal: str = "sms") -> Response:
    session = web.session_of(request)
    if session is None or session.stage != CODE:
        return redirect("/connexion")
    method = canal if canal in (*CHANNEL_LABELS, "passkey") else "sms"
    channel = CHANNEL_LABELS.get(method, "")
    return page(request, "code.html", suite=_safe_next(suite), channel=channel, method=method)


@router.post("/connexion/code")
async def code_post(request: Request) -> Response:
    session = await web.any_session(request)
    data = await web.form(request)
    code = field(data, "code", max_length=12)
    target = _safe_next(field(data, "suite", required=False, max_length=200))
    try:
        done = await run_in_threadpool(login.finish, context_of(request), session, code)
    except login.LoginFailed as failed:
        return page(request, "login.html", status=401, error=failed.message, suite=target)
    return _signed_in(request, done, target)


def _signed_in(request: Request, done: Done, target: str) -> Response:
    """The login's second step passed: the new session, and where it goes next."""
    web.use(request, done.opened)
    if done.stage == NEW_PASSWORD:
        return redirect("/connexion/nouveau-mot-de-passe")
    if done.stage == CHOOSE:
        return redirect("/choisir-dmp")
    return redirect(target)


@router.post("/connexion/cle/options")
async def passkey_options(request: Request) -> Response:
    """The question for the device (JSON, for the page's script): the same for everyone."""
    session = await web.any_session(request)
    await web.form(request)
    try:
        options = await run_in_threadpool(passkeys.login_options, context_of(request), session)
    except login.LoginFailed as failed:
        return JSONResponse({"message": failed.message}, failed.status)
    return Response(options, media_type="application/json")


@router.post("/connexion/cle")
async def passkey_post(request: Request) -> Response:
    """The device's answer, as the login's second step."""
    session = await web.any_session(request)
    data = await web.form(request)
    credential = field(data, "credential", max_length=MAX_CREDENTIAL)
    target = _safe_next(field(data, "suite", required=False, max_length=200))
    try:
        done = await run_in_threadpool(
            passkeys.finish_login, context_of(request), session, credential
        )
    except login.LoginFailed as failed:
        return page(request, "login.html", status=401, error=failed.message, suite=target)
    return _signed_in(request, done, target)


@router.get("/connexion/nouveau-mot-de-passe")
async def new_password_form(request: Request) -> Response:
    session = web.session_of(request)
    if session is None or session.stage != NEW_PASSWORD:
        return redirect("/connexion")
    return page(request, "new_password.html")


@router.post("/connexion/nouveau-mot-de-passe")
async def new_password_post(request: Request) -> Response:
    session = await web.any_session(request)
    data = await web.form(request)
    password, confirm = field(data, "mot_de_passe"), field(data, "confirmation")
    try:
        done = await run_in_threadpool(
            login.set_password, context_of(request), session, password, confirm
        )
    except InvalidInput as refused:
        return page(request, "new_password.html", status=400, error=refused.message)
    web.use(request, done.opened)
    return redirect("/choisir-dmp" if done.stage == CHOOSE else "/tableau-de-bord")


@router.get("/choisir-dmp")
async def choose_form(request: Request) -> Response:
    session = web.session_of(request)
    if session is None or session.account_id is None or session.stage not in (CHOOSE, "signed-in"):
        return redirect("/connexion")
    ctx = context_of(request)
    choices = await run_in_threadpool(login.dmps_of, ctx, session)
    return page(request, "choose.html", choices=choices)


@router.post("/choisir-dmp")
async def choose_post(request: Request) -> Response:
    session = await web.any_session(request)
    data = await web.form(request)
    try:
        dmp_id = UUID(field(data, "dmp", max_length=36))
    except ValueError:
        raise InvalidInput("Choisissez un des dossiers proposés.", code="form") from None
    await run_in_threadpool(login.choose, context_of(request), session, dmp_id)
    return redirect("/tableau-de-bord")


@router.post("/deconnexion")
async def logout(request: Request) -> Response:
    await web.form(request)
    token = request.cookies.get(web.COOKIE)
    await run_in_threadpool(sessions.end, context_of(request), token)
    web.forget(request)
    return redirect("/connexion?deconnecte=1")


# --- a forgotten password -----------------------------------------------------------------------


@router.get("/mot-de-passe-oublie")
async def reset_form(request: Request) -> Response:
    await web.any_session(request)
    return page(request, "reset.html")


@router.post("/mot-de-passe-oublie")
async def reset_post(request: Request) -> Response:
    session = await web.any_session(request)
    data = await web.form(request)
    identifier = field(data, "identifiant", max_length=64)
    channel = field(data, "canal", max_length=8)
    await run_in_threadpool(login.request_reset, context_of(request), session, identifier, channel)
    return redirect("/mot-de-passe-oublie/code")


@router.get("/mot-de-passe-oublie/code")
async def reset_code_form(request: Request) -> Response:
    await web.any_session(request)
    return page(request, "reset_code.html")


@router.post("/mot-de-passe-oublie/code")
async def reset_code_post(request: Request) -> Response:
    session = await web.any_session(request)
    data = await web.form(request)
    code, password = field(data, "code", max_length=12), field(data, "mot_de_passe")
    confirm = field(data, "confirmation")
    try:
        await run_in_threadpool(
            login.finish_reset, context_of(request), session, code, password, confirm
        )
    except DmpError as refused:
        return page(request, "reset_code.html", status=refused.status, error=refused.message)
    return redirect("/connexion?nouveau=1")


# --- a fresh code ---------------------------------------------------------------------------------


@router.get("/confirmer")
async def step_up_form(request: Request, suite: Next = None, envoye: str | None = None) -> Response:
    web.signed_in(request)
    return page(request, "step_up.html", suite=_safe_next(suite), sent=envoye)


@router.post("/confirmer/envoi")
async def step_up_send(request: Request) -> Response:
    session = web.signed_in(request)
    data = await web.form(request)
    channel = field(data, "canal", max_length=8)
    target = _safe_next(field(data, "suite", required=False, max_length=200))
    await run_in_threadpool(login.send_step_up, context_of(request), session, channel)
    return redirect(f"/confirmer?envoye={channel}&suite={web.quoted(target)}")


@router.post("/confirmer")
async def step_up_post(request: Request) -> Response:
    session = web.signed_in(request)
    data = await web.form(request)
    code = field(data, "code", max_length=12)
    target = _safe_next(field(data, "suite", required=False, max_length=200))
    try:
        await run_in_threadpool(login.check_step_up, context_of(request), session, code)
    except login.CodeFailed as failed:
        values = {"error": failed.message, "suite": target, "sent": None}
        return page(request, "step_up.html", status=401, **values)
    return redirect(target)

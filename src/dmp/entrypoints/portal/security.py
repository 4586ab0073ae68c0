"""The security of the login, at ``/compte/securite``: an authenticator app and passkeys, the
stronger factors a patient may add to the one-time codes (SPEC §5). Each change asks for a
fresh code first (``/confirmer``), comes back here, and is told to the patient."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import segno
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from dmp.entrypoints.portal import web
from dmp.entrypoints.portal.web import MAX_CREDENTIAL, context_of, field, page, redirect
from dmp.errors import DmpError
from dmp.services import authenticator, passkeys
from dmp.services.factors import factors_of
from dmp.services.sessions import StepUpRequired

router = APIRouter(include_in_schema=False)
HOME = "/compte/securite"
APP = f"{HOME}/application"
DONE = {
    "application-ajoutee": "L'application d'authentification est associée à votre compte.",
    "application-retiree": "L'application d'authentification est retirée de votre compte.",
    "cle-ajoutee": "La clé d'accès est enregistrée.",
    "cle-retiree": "La clé d'accès est retirée de votre compte.",
}
Done = Annotated[str | None, Query(alias="fait", max_length=40)]


def _step_up(back_to: str) -> Response:
    """A fresh code first, then back here."""
    return redirect(f"/confirmer?suite={web.quoted(back_to)}")


def qr_code(uri: str) -> str:
    """The QR code of an app's secret, drawn here as SVG (nothing is fetched from elsewhere),
    as a ``data:`` address for an image."""
    code = segno.make(uri, error="m", micro=False)
    data_uri: str = code.svg_data_uri(scale=5, border=4, dark="#000", light="#fff")
    return data_uri


async def _security_page(
    request: Request, *, status: int = 200, done: str | None = None, error: str | None = None
) -> Response:
    session = web.signed_in(request)
    factors = await run_in_threadpool(factors_of, context_of(request), session)
    return page(request, "security.html", status=status, factors=factors, done=done, error=error)


@router.get(HOME)
async def security(request: Request, fait: Done = None) -> Response:
    return await _security_page(request, done=DONE.get(fait or ""))


# --- the authenticator app ----------------------------------------------------------------------


async def _app_page(request: Request, *, status: int = 200, error: str | None = None) -> Response:
    session = web.signed_in(request)
    try:
        enrolment = await run_in_threadpool(authenticator.start, context_of(request), session)
    except StepUpRequired:
        return _step_up(APP)
    qr = qr_code(enrolment.uri)
    values = {"enrolment": enrolment, "qr": qr, "error": error}
    return page(request, "security_app.html", status=status, **values)


@router.get(APP)
async def app_form(request: Request) -> Response:
    return await _app_page(request)


@router.post(APP)
async def app_confirm(request: Request) -> Response:
    session = web.signed_in(request)
    data = await web.form(request)
    code = field(data, "code", max_length=12)
    try:
        await run_in_threadpool(authenticator.confirm, context_of(request), session, code)
    except StepUpRequired:
        return _step_up(APP)
    except authenticator.AppCodeFailed as failed:
        return await _app_page(request, status=failed.status, error=failed.message)
    return redirect(f"{HOME}?fait=application-ajoutee")


@router.post(f"{APP}/retrait")
async def app_remove(request: Request) -> Response:
    session = web.signed_in(request)
    await web.form(request)
    try:
        await run_in_threadpool(authenticator.remove, context_of(request), session)
    except StepUpRequired:
        return _step_up(HOME)
    return redirect(f"{HOME}?fait=application-retiree")


# --- passkeys -------------------------------------------------------------------------------------


@router.post(f"{HOME}/cles/options")
async def passkey_options(request: Request) -> Response:
    """The options of a new passkey, for the page's script (JSON, errors included)."""
    session = web.signed_in(request)
    data = await web.form(request)
    name = field(data, "nom", required=False, max_length=200)
    try:
        options = await run_in_threadpool(
            passkeys.registration_options, context_of(request), session, name
        )
    except StepUpRequired:
        return JSONResponse({"location": f"/confirmer?suite={web.quoted(HOME)}"}, 403)
    except DmpError as refused:
        return JSONResponse({"message": refused.message}, refused.status)
    return Response(options, media_type="application/json")


@router.post(f"{HOME}/cles")
async def passkey_register(request: Request) -> Response:
    session = web.signed_in(request)
    data = await web.form(request)
    name = field(data, "nom", max_length=200)
    credential = field(data, "credential", max_length=MAX_CREDENTIAL)
    try:
        await run_in_threadpool(passkeys.register, context_of(request), session, name, credential)
    except StepUpRequired:
        return _step_up(HOME)
    except DmpError as refused:
        return await _security_page(request, status=refused.status, error=refused.message)
    return redirect(f"{HOME}?fait=cle-ajoutee")


@router.post(f"{HOME}/cles/{{passkey_id}}/retrait")
async def passkey_remove(request: Request, passkey_id: UUID) -> Response:
    session = web.signed_in(request)
    await web.form(request)
    try:
        await run_in_threadpool(passkeys.remove, context_of(request), session, passkey_id)
    except StepUpRequired:
        return _step_up(HOME)
    return redirect(f"{HOME}?fait=cle-retiree")

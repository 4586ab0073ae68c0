"""The patient's account, at ``/compte``: the login identifier, the phone and the e-mail address
the codes go to (added, changed — confirmed by a code sent to the new one — or removed), the
password. Each change asks for a fresh code first (``/confirmer``, then back here); the rules,
the trace and the notices are the use cases' (``services.profile``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dmp.entrypoints.portal import web
from dmp.entrypoints.portal.web import context_of, field, page, redirect
from dmp.errors import DmpError
from dmp.services import login, profile
from dmp.services.sessions import StepUpRequired

router = APIRouter(include_in_schema=False)
HOME = "/compte"
CODE = f"{HOME}/coordonnees/code"
CHANNELS = {"courriel": profile.EMAIL, "telephone": profile.SMS}
DONE = {
    "code-envoye": "Un code vous a été envoyé à la nouvelle coordonnée.",
    "email": "Votre nouvelle adresse électronique est enregistrée.",
    "sms": "Votre nouveau numéro de mobile est enregistré.",
    "retrait": "La coordonnée est retirée de votre compte.",
    "mot-de-passe": "Votre mot de passe est changé. Vos autres sessions sont fermées.",
}
Done = Annotated[str | None, Query(alias="fait", max_length=40)]


async def _account_page(
    request: Request, *, status: int = 200, done: str | None = None, error: str | None = None
) -> Response:
    session = web.signed_in(request)
    account = await run_in_threadpool(profile.account_of, context_of(request), session)
    return page(request, "account.html", status=status, account=account, done=done, error=error)


def _step_up() -> Response:
    """A fresh code first, then back to the account's page (the refusal is in the history)."""
    return redirect(f"/confirmer?suite={web.quoted(HOME)}")


@router.get(HOME)
async def account(request: Request, fait: Done = None) -> Response:
    return await _account_page(request, done=DONE.get(fait or ""))


def _channel(value: str) -> str:
    return CHANNELS.get(value, value)


@router.post(f"{HOME}/coordonnees")
async def ask_contact(request: Request) -> Response:
    """A new phone or e-mail address: a code is sent to it."""
    session = web.signed_in(request)
    data = await web.form(request)
    channel = _channel(field(data, "canal", max_length=16))
    address = field(data, "adresse", max_length=254)
    try:
        await run_in_threadpool(profile.ask_contact, context_of(request), session, channel, address)
    except StepUpRequired:
        return _step_up()
    except DmpError as refused:
        return await _account_page(request, status=refused.status, error=refused.message)
    return redirect(CODE)


@router.get(CODE)
async def contact_code_form(request: Request) -> Response:
    session = web.signed_in(request)
    account = await run_in_threadpool(profile.account_of, context_of(request), session)
    if account.pending is None:
        return redirect(HOME)
    return page(request, "contact_code.html", account=account)


@router.post(CODE)
async def contact_code(request: Request) -> Response:
    session = web.signed_in(request)
    data = await web.form(request)
    code = field(data, "code", max_length=12)
    ctx = context_of(request)
    try:
        channel = await run_in_threadpool(profile.confirm_contact, ctx, session, code)
    except StepUpRequired:
        return _step_up()
    except login.CodeFailed as failed:
        account = await run_in_threadpool(profile.account_of, ctx, session)
        values = {"account": account, "error": failed.message}
        return page(request, "contact_code.html", status=failed.status, **values)
    return redirect(f"{HOME}?fait={channel}")


@router.post(f"{HOME}/coordonnees/retrait")
async def remove_contact(request: Request) -> Response:
    session = web.signed_in(request)
    data = await web.form(request)
    channel = _channel(field(data, "canal", max_length=16))
    try:
        await run_in_threadpool(profile.remove_contact, context_of(request), session, channel)
    except StepUpRequired:
        return _step_up()
    except DmpError as refused:
        return await _account_page(request, status=refused.status, error=refused.message)
    return redirect(f"{HOME}?fait=retrait")


@router.post(f"{HOME}/mot-de-passe")
async def change_password(request: Request) -> Response:
    session = web.signed_in(request)
    data = await web.form(request)
    current, new = field(data, "actuel"), field(data, "mot_de_passe")
    confirm = field(data, "confirmation")
    try:
        opened = await run_in_threadpool(
            profile.change_password, context_of(request), session, current, new, confirm
        )
    except StepUpRequired:
        return _step_up()
    except DmpError as refused:
        return await _account_page(request, status=refused.status, error=refused.message)
    web.use(request, opened)
    return redirect(f"{HOME}?fait=mot-de-passe")

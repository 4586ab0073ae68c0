"""An authenticator app (TOTP, RFC 6238) as the second factor of the login, for whoever wants
one rather than a code by SMS or e-mail: a phone that is not reachable, an SMS that can be
diverted (SIM swap), a mailbox that someone else reads.

Enrolling takes a fresh code first (a session left open must not be enough), then a new secret
shown once, as a QR code and as text, kept by the server only while it waits, sealed under the
account's key and bound to the session; it becomes the account's when a first code of the app
proves the app holds it, and that code's time step is then spent (``totp_last_step``). The login
checks the app's codes (``services.login``): each time step once, one step of drift either way.
"""

from __future__ import annotations

import hmac
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import uuid4

import pyotp

from dmp.adapters.db.uow import UnitOfWork
from dmp.adapters.fieldcipher import FieldCipher
from dmp.domain.accounts import Account, Challenge
from dmp.errors import Conflict, DmpError, InvalidInput
from dmp.services.context import Context
from dmp.services.factors import (
    APP_ADDED,
    APP_REMOVED,
    account_cipher,
    open_doors,
    record_change,
    require_fresh,
)
from dmp.services.sessions import SignInRequired, WebSession

ISSUER = "DMP"  # what the app shows above the codes, with the login identifier
ENROLMENT = "app-enrol"
ENROLMENT_LIFETIME = timedelta(minutes=10)  # to install an app and scan, unhurried
ENROLMENT_TRIES = 5
_SIX_DIGITS = re.compile("[0-9]{6}")


class AppCodeFailed(DmpError):
    code = "app-code"
    status = 400
    message = (
        "Ce code ne correspond pas : saisissez le code que l'application affiche maintenant. "
        "Après 5 essais, recommencez l'ajout de l'application."
    )


@dataclass(frozen=True, slots=True)
class Enrolment:
    """The secret to give the app: as text, and as the ``otpauth://`` address a QR code holds."""

    secret: str
    uri: str

    @property
    def grouped(self) -> str:
        """The secret in groups of four, to type without losing one's place."""
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


def _alive(pending: Challenge | None, now: datetime) -> bool:
    return pending is not None and now <= pending.expires_at and pending.attempts < ENROLMENT_TRIES


def _secret(cipher: FieldCipher, pending: Challenge) -> str:
    """The secret an enrolment waits with (an app's challenge always holds one)."""
    assert pending.secret_enc is not None
    return cipher.open("totp", pending.id, pending.secret_enc)


def start(ctx: Context, session: WebSession) -> Enrolment:
    """The secret this session is enrolling (a new one, or the one shown a moment ago, so that
    reloading the page does not change the QR code being scanned)."""
    require_fresh(ctx, session)
    actor, now = session.actor(), ctx.now()
    cipher = account_cipher(ctx, actor.account_id)
    with ctx.uow() as uow:
        account = _account(uow, session)
        if account.totp_secret_enc is not None:
            raise Conflict(
                "Une application d'authentification est déjà associée à votre compte : "
                "retirez-la d'abord pour en associer une autre."
            )
        pending = uow.factors.pending_challenge(session.id, ENROLMENT)
        if pending is not None and _alive(pending, now):
            secret = _secret(cipher, pending)
        else:
            secret, challenge_id = pyotp.random_base32(), uuid4()
            uow.factors.replace_challenge(
                {
                    "id": challenge_id,
                    "session_id": session.id,
                    "account_id": actor.account_id,
                    "purpose": ENROLMENT,
                    "challenge": None,
                    "secret_enc": cipher.seal("totp", challenge_id, secret),
                    "created_at": now,
                    "expires_at": now + ENROLMENT_LIFETIME,
                    "attempts": 0,
                    "used_at": None,
                }
            )
            uow.commit()
    uri = pyotp.TOTP(secret).provisioning_uri(name=account.login, issuer_name=ISSUER)
    return Enrolment(secret, uri)


def confirm(ctx: Context, session: WebSession, code: str) -> None:
    """The first code of the app: the secret it proves becomes the account's, sealed under the
    account's key. Written to the history, and the patient is told."""
    require_fresh(ctx, session)
    actor, now = session.actor(), ctx.now()
    cipher = account_cipher(ctx, actor.account_id)
    with ctx.uow() as uow:
        doors = open_doors(ctx, uow, session, APP_ADDED, ("account", actor.account_id))
        pending = uow.factors.pending_challenge(session.id, ENROLMENT)
        if pending is None or not _alive(pending, now):
            raise AppCodeFailed(
                "Cet ajout a expiré, ou 5 codes faux l'ont arrêté : scannez le nouveau QR code "
                "ci-dessous, puis saisissez le code affiché."
            )
        secret = _secret(cipher, pending)
        step = matching_step(secret, code, now)
        if step is None:
            uow.factors.update_challenge(pending.id, attempts=pending.attempts + 1)
            uow.commit()
            raise AppCodeFailed()
        account = _account(uow, session, lock=True)
        if account.totp_secret_enc is not None:
            raise Conflict("Une application d'authentification est déjà associée à votre compte.")
        last = account.totp_last_step
        uow.factors.update_challenge(pending.id, used_at=now)
        uow.accounts.update(
            actor.account_id,
            totp_secret_enc=cipher.seal("totp", "account", secret),
            totp_last_step=step if last is None else max(last, step),
        )
        record_change(uow, doors, actor.account_id, now)
        uow.commit()


def remove(ctx: Context, session: WebSession) -> None:
    """The app no longer logs in: the codes by SMS or e-mail remain."""
    require_fresh(ctx, session)
    actor, now = session.actor(), ctx.now()
    with ctx.uow() as uow:
        doors = open_doors(ctx, uow, session, APP_REMOVED, ("account", actor.account_id))
        account = _account(uow, session, lock=True)
        if account.totp_secret_enc is None:
            raise InvalidInput(
                "Aucune application d'authentification n'est associée à votre compte.",
                code="app-enrolment",
            )
        uow.accounts.update(actor.account_id, totp_secret_enc=None)
        record_change(uow, doors, actor.account_id, now)
        uow.commit()


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code ``code`` is (now, or one step before or after: a phone's clock
    drifts), or None."""
    code = code.strip()
    if not _SIX_DIGITS.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    step = math.floor(now.timestamp() / totp.interval)
    for candidate in (step, step - 1, step + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def _account(uow: UnitOfWork, session: WebSession, *, lock: bool = False) -> Account:
    account = uow.accounts.get(session.actor().account_id, for_update=lock)
    if account is None:
        raise SignInRequired()
    return account

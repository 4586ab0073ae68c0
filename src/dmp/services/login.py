"""Logging in to the patient portal, as the seed describes it: identifier + password + a
one-time code sent by SMS or e-mail at every login (SPEC §5), or a code of an authenticator app
for whoever enrolled one, or a passkey (``services.passkeys``). See
docs/adr/0005-one-time-codes-and-sessions.md.

Nothing a person is told reveals whether an account exists or which factor failed: after the
identifier and the password, the code page comes whatever they were (no code is sent when they
were wrong, and no code can then succeed), and every failure reads the same. Failed passwords
slow the account down, then lock it for a while. Codes are 6 random digits, valid 5 minutes,
used once, tried 5 times at most, sent 10 times an hour at most; only a salted hash is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import pyotp
from argon2.exceptions import InvalidHashError, VerificationError

from dmp import policy
from dmp.adapters.db.uow import UnitOfWork
from dmp.adapters.fieldcipher import FieldCipher
from dmp.domain.accounts import Account, OneTimeCode
from dmp.domain.model import PatientActor, RepresentativeActor
from dmp.errors import DmpError, InvalidInput, NotificationUnavailable
from dmp.services import gate, notifications
from dmp.services.accounts import contacts_of
from dmp.services.context import Context
from dmp.services.gate import Reading
from dmp.services.sessions import (
    CHOOSE,
    CODE,
    NEW_PASSWORD,
    SIGNED_IN,
    Opened,
    SignInRequired,
    StepUpRequired,
    WebSession,
    new_session,
)

CODE_MINUTES = 5
CODE_LIFETIME = timedelta(minutes=CODE_MINUTES)
CODE_TRIES = 5
SENDS_PER_HOUR = 10
SLOW_DOWN_AFTER = 3  # failed passwords before each new try must wait (1 s, 2 s, 4 s…)
LOCK_AFTER = 10  # failed passwords before the account is locked for LOCK_FOR
LOCK_FOR = timedelta(minutes=30)
MIN_PASSWORD, MAX_PASSWORD = 12, 128
CHANNELS = ("sms", "email", "totp")
# At login the second factor may also be a passkey: then no code is sent (services.passkeys).
LOGIN_CHANNELS = (*CHANNELS, "passkey")
TEMPLATES = {
    "login": "login_code",
    "step-up": "confirmation_code",
    "reset": "password_reset_code",
    "contact": "contact_confirmation_code",
}
_SIX_DIGITS = re.compile("[0-9]{6}")
log = logging.getLogger("dmp.login")
# The hash checked when the identifier names no account: the same work either way.
_DECOY_PASSWORD = secrets.token_urlsafe(16)


class LoginFailed(DmpError):
    """Every failure of a login reads the same: which part was wrong is not said."""

    code = "login"
    status = 401
    message = (
        "Identifiant, mot de passe ou code incorrect, ou code expiré. Recommencez la "
        "connexion depuis le début."
    )


class CodeFailed(DmpError):
    code = "code"
    status = 401
    message = "Code incorrect ou expiré. Demandez un nouveau code."


@dataclass(frozen=True, slots=True)
class Done:
    """Where a login stands once a step succeeded, with the session's new token."""

    opened: Opened

    @property
    def stage(self) -> str:
        return self.opened.session.stage


# --- step 1: identifier and password ------------------------------------------------------------


def begin(ctx: Context, session: WebSession, login: str, password: str, channel: str) -> None:
    """Check the identifier and the password; send a code on the channel chosen (or the other
    one registered). The session moves to the code stage in every case."""
    if channel not in LOGIN_CHANNELS:
        raise InvalidInput("Choisissez comment recevoir votre code : SMS ou courriel.")
    now = ctx.now()
    with ctx.uow() as uow:
        account = uow.accounts.by_login(_normal(login), for_update=True)
        candidate = _password_holds(ctx, uow, account, password, now)
        uow.accounts.update_session(session.id, stage=CODE, candidate_id=candidate, account_id=None)
        send = prepare_code(ctx, uow, session.id, candidate, "login", channel, now)
        uow.commit()
    if send is not None:
        _quietly(send)


def _quietly(send: Callable[[], None]) -> None:
    """Send a login or reset code; a channel down is logged, not told: telling it would tell
    that the identifiers were right (no code is sent otherwise). The person asks again."""
    try:
        send()
    except NotificationUnavailable:
        log.warning("a one-time code could not be sent: its channel is unavailable")


def _normal(login: str) -> str:
    return (login or "").strip().upper()[:32]


def _password_holds(
    ctx: Context, uow: UnitOfWork, account: Account | None, password: str, now: datetime
) -> UUID | None:
    """The account, if the password is its own and it may try now; None otherwise. The same
    Argon2 work is done in every case, so that timing tells nothing either."""
    waiting_until = account.next_login_at if account is not None else None
    if account is None or (waiting_until is not None and now < waiting_until):
        password_matches(ctx, _decoy_hash(ctx), password)
        return None
    if not password_matches(ctx, account.password_hash, password[:MAX_PASSWORD]):
        _failed_password(ctx, uow, account, now)
        return None
    if ctx.password_hasher.check_needs_rehash(account.password_hash):
        uow.accounts.update(account.id, password_hash=ctx.password_hasher.hash(password))
    return account.id


_decoys: dict[int, str] = {}


def _decoy_hash(ctx: Context) -> str:
    key = id(ctx.password_hasher)
    if key not in _decoys:
        _decoys[key] = ctx.password_hasher.hash(_DECOY_PASSWORD)
    return _decoys[key]


def password_matches(ctx: Context, hashed: str, password: str) -> bool:
    try:
        return ctx.password_hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _failed_password(ctx: Context, uow: UnitOfWork, account: Account, now: datetime) -> None:
    failures = account.failed_logins + 1
    wait = None
    if failures >= LOCK_AFTER:
        wait = LOCK_FOR
    elif failures >= SLOW_DOWN_AFTER:
        wait = timedelta(seconds=2 ** (failures - SLOW_DOWN_AFTER))
    uow.accounts.update(
        account.id, failed_logins=failures, next_login_at=now + wait if wait else None
    )
    _trace(ctx, uow, account, "portal.sign-in", "wrong-password")


# --- the codes -----------------------------------------------------------------------------------


def prepare_code(
    ctx: Context,
    uow: UnitOfWork,
    session_id: str,
    account_id: UUID | None,
    purpose: str,
    channel: str,
    now: datetime,
    address: str | None = None,
) -> Callable[[], None] | None:
    """Record the code of this step (a decoy, with no code, when there is no account to send it
    to); return what sends it once the transaction is committed."""
    uow.accounts.retire_codes(session_id, purpose, now)
    code_id = uuid4()
    row: dict[str, object] = {
        "id": code_id,
        "session_id": session_id,
        "account_id": account_id,
        "purpose": purpose,
        "channel": channel,
        "code_hash": None,
        "address_enc": None,
        "created_at": now,
        "expires_at": now + CODE_LIFETIME,
        "attempts": 0,
        "used_at": None,
    }
    target = _target(ctx, uow, account_id, channel, address, now)
    if target is None:
        uow.accounts.add_code(row)
        return None
    chosen, to = target
    code = f"{secrets.randbelow(10**6):06d}"
    row |= {"channel": chosen, "code_hash": _code_hash(code_id, code)}
    if address is not None and account_id is not None:  # a new address, waiting for its code
        row["address_enc"] = _cipher(ctx, account_id).seal("contact-address", code_id, address)
    uow.accounts.add_code(row)
    if chosen == "totp":
        return None

    def send() -> None:
        notifications.send_now(
            ctx, chosen, to, TEMPLATES[purpose], code=code, minutes=str(CODE_MINUTES)
        )

    return send


def _target(
    ctx: Context,
    uow: UnitOfWork,
    account_id: UUID | None,
    channel: str,
    address: str | None,
    now: datetime,
) -> tuple[str, str] | None:
    """Where the code goes: the channel asked for if the account has it, else its other one;
    an authenticator app needs nothing sent. None: nothing to send (no account, the sends of
    the last hour are spent, or a passkey answers instead of a code)."""
    if account_id is None or channel == "passkey":
        return None
    if codes_spent(uow, account_id, now):
        return None
    if address is not None:
        return channel, address
    account = uow.accounts.get(account_id)
    assert account is not None
    if channel == "totp":
        return ("totp", "") if account.totp_secret_enc is not None else None
    contacts = contacts_of(ctx, account)
    registered = {"sms": contacts.phone, "email": contacts.email}
    offered = ctx.notifier.channels
    for option in (channel, "email" if channel == "sms" else "sms"):
        found = registered.get(option)
        if found and option in offered:
            return option, found
    return None


def codes_spent(uow: UnitOfWork, account_id: UUID, now: datetime) -> bool:
    """The account was sent as many codes as an hour allows."""
    return uow.accounts.codes_sent_since(account_id, now - timedelta(hours=1)) >= SENDS_PER_HOUR


def _code_hash(code_id: UUID, code: str) -> str:
    return hashlib.sha256(f"{code_id}:{code}".encode()).hexdigest()


def check_code(
    ctx: Context, uow: UnitOfWork, session_id: str, purpose: str, code: str, now: datetime
) -> OneTimeCode | None:
    """The code, used now, if ``code`` is its code; None otherwise (a try is counted)."""
    pending = uow.accounts.pending_code(session_id, purpose)
    if pending is None:
        return None
    alive = pending.used_at is None and now <= pending.expires_at and pending.attempts < CODE_TRIES
    right = alive and _matches(ctx, uow, pending, (code or "").strip(), now)
    if not right:
        uow.accounts.update_code(pending.id, attempts=pending.attempts + 1)
        return None
    uow.accounts.update_code(pending.id, used_at=now)
    return pending


def _matches(ctx: Context, uow: UnitOfWork, pending: OneTimeCode, code: str, now: datetime) -> bool:
    if not _SIX_DIGITS.fullmatch(code):
        return False
    if pending.code_hash is None:
        return False
    if pending.channel == "totp":
        account_id = pending.account_id
        return account_id is not None and _totp_matches(ctx, uow, account_id, code, now)
    return hmac.compare_digest(pending.code_hash, _code_hash(pending.id, code))


def _totp_matches(
    ctx: Context, uow: UnitOfWork, account_id: UUID, code: str, now: datetime
) -> bool:
    """A code of the authenticator app, each time step usable once (one step of clock drift
    either way is allowed)."""
    account = uow.accounts.get(account_id, for_update=True)
    if account is None or account.totp_secret_enc is None:
        return False
    secret = _cipher(ctx, account_id).open("totp", "account", account.totp_secret_enc)
    totp = pyotp.TOTP(secret)
    step = math.floor(now.timestamp() / totp.interval)
    for candidate in (step, step - 1, step + 1):
        used = account.totp_last_step
        fresh = used is None or candidate > used
        if fresh and hmac.compare_digest(totp.generate_otp(candidate), code):
            uow.accounts.update(account_id, totp_last_step=candidate)
            return True
    return False


def _cipher(ctx: Context, account_id: UUID) -> FieldCipher:
    return FieldCipher(account_id, ctx.keys.get(account_id))


# --- step 2: the code -----------------------------------------------------------------------------


def finish(ctx: Context, session: WebSession, code: str) -> Done:
    """Check the code of this login (sent, or of the authenticator app)."""

    def proof(uow: UnitOfWork, account: Account | None, now: datetime) -> bool:
        return check_code(ctx, uow, session.id, "login", code, now) is not None

    return finish_with(ctx, session, proof, "wrong-code")


# Whether the second factor holds for the account whose identifiers were given (None when they
# were wrong: it must fail then, after the same work).
Proof = Callable[[UnitOfWork, Account | None, datetime], bool]


def finish_with(ctx: Context, session: WebSession, proof: Proof, failure: str) -> Done:
    """The second step of this login, as ``proof`` checks it (a code, or a passkey). On success
    the session is replaced by a new one (a new token), signed in, or waiting for a new
    password or the choice of a DMP; a failure is traced as ``failure`` in the account's DMPs,
    and reads as every other."""
    if session.stage != CODE:
        raise LoginFailed()
    now = ctx.now()
    with ctx.uow() as uow:
        account = uow.accounts.get(session.candidate_id) if session.candidate_id else None
        if not proof(uow, account, now) or account is None:
            if account is not None:
                _trace(ctx, uow, account, "portal.sign-in", failure)
            uow.commit()
            raise LoginFailed()
        uow.accounts.update(account.id, failed_logins=0, next_login_at=None)
        done = _signed_in(ctx, uow, session, account, now)
        uow.commit()
    return done


def _signed_in(
    ctx: Context, uow: UnitOfWork, session: WebSession, account: Account, now: datetime
) -> Done:
    """Replace the session by a new one for this account (no session fixation)."""
    dmps = uow.records.by_account(account.id)
    if not dmps:
        raise LoginFailed()  # the account's DMPs were destroyed
    stage, dmp_id = SIGNED_IN, dmps[0] if len(dmps) == 1 else None
    if account.must_change_password:
        stage = NEW_PASSWORD
    elif dmp_id is None:
        stage = CHOOSE
    uow.accounts.delete_session(session.id)
    opened = new_session(
        ctx,
        uow,
        stage=stage,
        account_id=account.id,
        dmp_id=dmp_id,
        signed_in_at=now,
        # The login's code does not count as fresh: what cannot be undone (closing, destroying,
        # changing a channel or the password) asks a code of its own, right before it.
        step_up_at=None,
    )
    if stage == SIGNED_IN and dmp_id is not None:
        _enter(ctx, uow, opened.session, dmp_id)
    return Done(opened)


@dataclass(frozen=True, slots=True)
class Choice:
    dmp_id: UUID
    name: str  # the patient's given names and family name


def dmps_of(ctx: Context, session: WebSession) -> list[Choice]:
    """The DMPs this account may act on (a legal representative may have several), with the
    patient's name, each opened through the door."""
    if session.account_id is None:
        raise SignInRequired()
    account_id = session.account_id
    with ctx.uow() as uow:
        account = uow.accounts.get(account_id)
        assert account is not None
        choices = []
        for dmp_id in uow.records.by_account(account_id):
            reading = Reading(_actor(account, dmp_id))
            door = gate.enter(ctx, uow, reading, "portal.sign-in", dmp_id, policy.sign_in)
            identity = door.loaded.identity
            choices.append(Choice(dmp_id, f"{identity.given_names} {identity.family_name}"))
        return sorted(choices, key=lambda c: c.name)


def choose(ctx: Context, session: WebSession, dmp_id: UUID) -> None:
    """A legal representative of several minors chooses whose DMP to manage."""
    if session.account_id is None or session.stage not in (CHOOSE, SIGNED_IN):
        raise SignInRequired()
    with ctx.uow() as uow:
        if dmp_id not in uow.records.by_account(session.account_id):
            raise gate.hidden()
        uow.accounts.update_session(session.id, stage=SIGNED_IN, dmp_id=dmp_id)
        _enter(ctx, uow, _with(session, stage=SIGNED_IN, dmp_id=dmp_id), dmp_id)
        uow.commit()


def _with(session: WebSession, **changes: object) -> WebSession:
    return replace(session, **changes)  # type: ignore[arg-type]


def _enter(ctx: Context, uow: UnitOfWork, session: WebSession, dmp_id: UUID) -> None:
    """The connection, in the DMP's history (the minor's own connections are secret)."""
    door = gate.enter(ctx, uow, Reading(session.actor()), "portal.sign-in", dmp_id, policy.sign_in)
    door.record(secret=policy.connection_is_secret(door.access))


def _trace(ctx: Context, uow: UnitOfWork, account: Account, action: str, reason: str) -> None:
    """A failed login, in the history of each DMP of the account."""
    for dmp_id in uow.records.by_account(account.id):
        actor = _actor(account, dmp_id)
        secret = policy.connection_is_secret
        gate.trace(ctx, uow, Reading(actor), action, dmp_id, reason, secret)


def _actor(account: Account, dmp_id: UUID) -> PatientActor | RepresentativeActor:
    if account.kind == "representative":
        return RepresentativeActor(account.id, dmp_id)
    return PatientActor(account.id, dmp_id)


# --- passwords -------------------------------------------------------------------------------


def check_password(password: str, login: str | None = None) -> str:
    """A password long enough to resist guessing, and not the identifier."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(
            f"Le mot de passe doit compter de {MIN_PASSWORD} à {MAX_PASSWORD} caractères.",
            code="password",
        )
    if login and _normal(password) == _normal(login):
        raise InvalidInput("Le mot de passe ne peut pas être votre identifiant.", code="password")
    if any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in password):
        raise InvalidInput("Le mot de passe contient un caractère invalide.", code="password")
    return password


def set_password(ctx: Context, session: WebSession, password: str, confirm: str) -> Done:
    """The new password: at the first login (the temporary one replaced), or later with a
    fresh code. Every other session of the account ends."""
    if session.account_id is None or session.stage not in (NEW_PASSWORD, SIGNED_IN):
        raise SignInRequired()
    if session.stage == SIGNED_IN and not fresh_step_up_now(ctx, session):
        raise StepUpRequired()
    if password != confirm:
        raise InvalidInput("Les deux mots de passe ne sont pas identiques.", code="password")
    now = ctx.now()
    with ctx.uow() as uow:
        account = uow.accounts.get(session.account_id, for_update=True)
        assert account is not None
        check_password(password, account.login)
        if password_matches(ctx, account.password_hash, password):
            raise InvalidInput("Choisissez un mot de passe différent de l'actuel.", code="password")
        uow.accounts.update(
            account.id,
            password_hash=ctx.password_hasher.hash(password),
            must_change_password=False,
            password_changed_at=now,
            failed_logins=0,
            next_login_at=None,
        )
        uow.accounts.delete_sessions_of(account.id)
        done = _signed_in(ctx, uow, session, _refreshed(uow, account.id), now)
        uow.commit()
    return done


def _refreshed(uow: UnitOfWork, account_id: UUID) -> Account:
    account = uow.accounts.get(account_id)
    assert account is not None
    return account


# --- a fresh code before what cannot be undone -----------------------------------------------


def fresh_step_up_now(ctx: Context, session: WebSession) -> bool:
    return policy.fresh_step_up(session.actor(), ctx.now(), step_up_window(ctx))


def step_up_window(ctx: Context) -> timedelta:
    return timedelta(seconds=ctx.settings.step_up_max_age_seconds)


def send_step_up(ctx: Context, session: WebSession, channel: str) -> None:
    """Send a fresh code, to confirm closing the DMP, destroying, or changing a contact or the
    password."""
    if not session.signed_in or session.account_id is None:
        raise SignInRequired()
    if channel not in CHANNELS:
        raise InvalidInput("Choisissez comment recevoir votre code : SMS ou courriel.")
    now = ctx.now()
    with ctx.uow() as uow:
        send = prepare_code(ctx, uow, session.id, session.account_id, "step-up", channel, now)
        uow.commit()
    if send is not None:
        send()


def check_step_up(ctx: Context, session: WebSession, code: str) -> None:
    if not session.signed_in:
        raise SignInRequired()
    now = ctx.now()
    with ctx.uow() as uow:
        used = check_code(ctx, uow, session.id, "step-up", code, now)
        if used is None:
            uow.commit()
            raise CodeFailed()
        uow.accounts.update_session(session.id, step_up_at=now)
        uow.commit()


# --- a forgotten password ------------------------------------------------------------------------


def request_reset(ctx: Context, session: WebSession, login: str, channel: str) -> None:
    """Send a code to choose a new password, if the identifier names an account; the answer is
    the same either way."""
    if channel not in ("sms", "email"):
        raise InvalidInput("Choisissez comment recevoir votre code : SMS ou courriel.")
    now = ctx.now()
    with ctx.uow() as uow:
        account = uow.accounts.by_login(_normal(login))
        account_id = account.id if account is not None else None
        uow.accounts.update_session(session.id, candidate_id=account_id)
        send = prepare_code(ctx, uow, session.id, account_id, "reset", channel, now)
        uow.commit()
    if send is not None:
        _quietly(send)


def finish_reset(ctx: Context, session: WebSession, code: str, password: str, confirm: str) -> None:
    """The code received, and the new password: every session of the account ends (log in
    again with it)."""
    if password != confirm:
        raise InvalidInput("Les deux mots de passe ne sont pas identiques.", code="password")
    now = ctx.now()
    with ctx.uow() as uow:
        used = check_code(ctx, uow, session.id, "reset", code, now)
        account = uow.accounts.get(session.candidate_id) if session.candidate_id else None
        if used is None or account is None:
            uow.commit()
            raise CodeFailed()
        check_password(password, account.login)
        uow.accounts.update(
            account.id,
            password_hash=ctx.password_hasher.hash(password),
            must_change_password=False,
            password_changed_at=now,
            failed_logins=0,
            next_login_at=None,
        )
        uow.accounts.delete_sessions_of(account.id)
        uow.commit()

"""Web sessions of the portals, kept on the server (SPEC §7).

A browser holds a random token in a cookie; the database keeps only its SHA-256, so a copy of
the database opens no session. A session is anonymous until its login is complete, then signed
in to one account and one DMP. It ends after 15 minutes without a request, 12 hours after its
login whatever happens, at logout, and when the account's password changes. Its token is
replaced at login (no session fixation). Each session has its own CSRF token, checked on every
form.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from dmp.adapters.db.uow import UnitOfWork
from dmp.domain.accounts import StoredSession
from dmp.domain.model import PatientActor, RepresentativeActor
from dmp.errors import DmpError, Forbidden
from dmp.services.context import Context

IDLE = timedelta(minutes=15)
ABSOLUTE = timedelta(hours=12)
# A session seen less than this long ago is not written again: a page view costs no write.
TOUCH_EVERY = timedelta(seconds=60)

ANONYMOUS, CODE, NEW_PASSWORD, CHOOSE, SIGNED_IN = (
    "anonymous",
    "code",
    "new-password",
    "choose",
    "signed-in",
)
# A professional's session (the professional portal, ``services.pro_login``): the password was
# right and the authenticator app's code is awaited, or the app is being enrolled; the
# establishment to act for is to choose; signed in.
PRO_CODE, PRO_ENROL, PRO_PLACE, PRO_SIGNED_IN = ("pro-code", "pro-enrol", "pro-place", "pro")


class CsrfRefused(DmpError):
    code = "csrf"
    status = 403
    message = (
        "Le formulaire a expiré ou ne vient pas de cette page : rechargez la page et recommencez."
    )


class SignInRequired(DmpError):
    code = "sign-in"
    status = 401
    message = "Votre session a expiré : connectez-vous à nouveau."


class StepUpRequired(Forbidden):
    """What cannot be undone, or locks the patient out, asked without a fresh one-time code:
    the portal asks for one, then comes back."""

    code = "step-up"
    message = "Pour cette action, confirmez d'abord avec un nouveau code."


@dataclass(frozen=True, slots=True)
class WebSession:
    """What the server knows of a browser: never the token itself."""

    id: str  # the SHA-256 of the token
    stage: str
    csrf: str
    account_id: UUID | None
    dmp_id: UUID | None
    candidate_id: UUID | None
    created_at: datetime
    last_seen_at: datetime
    signed_in_at: datetime | None
    step_up_at: datetime | None
    account_kind: str | None = None
    professional_id: UUID | None = None
    establishment_id: UUID | None = None
    pro_state: str | None = None  # JSON: what the professional's login or access holds

    @property
    def pro_signed_in(self) -> bool:
        """A professional's session, its login complete (the establishment chosen)."""
        return self.stage == PRO_SIGNED_IN and self.professional_id is not None

    @property
    def signed_in(self) -> bool:
        return self.stage == SIGNED_IN and self.account_id is not None and self.dmp_id is not None

    def actor(self) -> PatientActor | RepresentativeActor:
        """Who acts on the DMP: its holder, or one of its legal representatives."""
        if not self.signed_in or self.account_id is None or self.dmp_id is None:
            raise SignInRequired()
        if self.account_kind == "representative":
            return RepresentativeActor(self.account_id, self.dmp_id, self.step_up_at)
        return PatientActor(self.account_id, self.dmp_id, self.step_up_at)


@dataclass(frozen=True, slots=True)
class Opened:
    """A session just opened or renewed: the token goes in the cookie, once."""

    token: str
    session: WebSession


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _session(stored: StoredSession, kind: str | None) -> WebSession:
    return WebSession(
        id=stored.id,
        stage=stored.stage,
        csrf=stored.csrf,
        account_id=stored.account_id,
        dmp_id=stored.dmp_id,
        candidate_id=stored.candidate_id,
        created_at=stored.created_at,
        last_seen_at=stored.last_seen_at,
        signed_in_at=stored.signed_in_at,
        step_up_at=stored.step_up_at,
        account_kind=kind,
        professional_id=stored.professional_id,
        establishment_id=stored.establishment_id,
        pro_state=stored.pro_state,
    )


def open_session(ctx: Context) -> Opened:
    """A new anonymous session (the login form needs one for its CSRF token)."""
    with ctx.uow() as uow:
        opened = new_session(ctx, uow, stage=ANONYMOUS)
        uow.commit()
    return opened


def new_session(ctx: Context, uow: UnitOfWork, *, stage: str, **values: object) -> Opened:
    token = secrets.token_urlsafe(32)
    now = ctx.now()
    row = {
        "id": hash_token(token),
        "stage": stage,
        "csrf": secrets.token_urlsafe(32),
        "account_id": None,
        "dmp_id": None,
        "candidate_id": None,
        "created_at": now,
        "last_seen_at": now,
        "signed_in_at": None,
        "step_up_at": None,
        "professional_id": None,
        "establishment_id": None,
        "pro_state": None,
        **values,
    }
    uow.accounts.add_session(row)
    stored = StoredSession(**row)  # type: ignore[arg-type]
    return Opened(token, _session(stored, _kind(uow, stored.account_id)))


def _kind(uow: UnitOfWork, account_id: UUID | None) -> str | None:
    if account_id is None:
        return None
    account = uow.accounts.get(account_id)
    return None if account is None else account.kind


def expired(session: WebSession | StoredSession, now: datetime) -> bool:
    """15 minutes without a request, or 12 hours after the login (or the session's start)."""
    start = session.signed_in_at or session.created_at
    return now - session.last_seen_at > IDLE or now - start > ABSOLUTE


def current(ctx: Context, token: str | None) -> WebSession | None:
    """The session of this cookie, if it is still alive (and it is seen, now)."""
    if not token or len(token) > 100:
        return None
    now = ctx.now()
    with ctx.uow() as uow:
        stored = uow.accounts.session(hash_token(token))
        if stored is None:
            return None
        if expired(stored, now):
            uow.accounts.delete_session(stored.id)
            uow.commit()
            return None
        if now - stored.last_seen_at >= TOUCH_EVERY:
            uow.accounts.update_session(stored.id, last_seen_at=now)
            uow.commit()
        return _session(stored, _kind(uow, stored.account_id))


def check_csrf(session: WebSession | None, presented: str | None) -> None:
    """A form is accepted only with its session's token (compared in constant time)."""
    if session is None or not presented or not hmac.compare_digest(session.csrf, presented):
        raise CsrfRefused()


def end(ctx: Context, token: str | None) -> None:
    """Logout: the session is gone from the server, whatever the browser keeps."""
    if not token:
        return
    with ctx.uow() as uow:
        uow.accounts.delete_session(hash_token(token))
        uow.commit()


def sweep(ctx: Context) -> int:
    """Remove the sessions no one can use any more, and the codes and challenges past their
    time."""
    now = ctx.now()
    with ctx.uow() as uow:
        removed = uow.accounts.delete_sessions_seen_before(now - IDLE)
        uow.accounts.delete_codes_expired_before(now - timedelta(hours=1))
        uow.factors.delete_challenges_expired_before(now - timedelta(hours=1))
        uow.commit()
    return removed

"""The accounts of patients and legal representatives as they are stored, and what logging in
keeps beside them: web sessions, one-time codes, passkeys, the challenges of a factor. Pure
values, as the repositories read them: the services use their attributes, never rows.

Each holds every column of its table (``adapters.db.tables``), with its type: sealed values as
bytes, moments as aware UTC datetimes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class Account:
    """An account that logs in to the patient portal: the holder's, or a legal representative's.
    Its contact channels and its authenticator app's secret are sealed under its own key."""

    id: UUID
    login: str
    password_hash: str  # Argon2id
    must_change_password: bool  # the temporary password of the hand-out is still the one
    kind: str  # "patient" | "representative"
    email_enc: bytes | None
    phone_enc: bytes | None
    notify_email: bool
    notify_sms: bool
    created_at: datetime
    failed_logins: int
    next_login_at: datetime | None  # no password is tried before then (slowed down, or locked)
    password_changed_at: datetime | None
    totp_secret_enc: bytes | None  # None: no authenticator app enrolled
    totp_last_step: int | None  # the app's last time step used: a code counts once
    notices: str | None  # JSON: notice → the channels chosen; None: every one


@dataclass(frozen=True, slots=True)
class StoredSession:
    """A browser's session on a portal, as the server keeps it: ``id`` is the SHA-256 of the
    cookie's token, never the token itself."""

    id: str
    stage: str  # how far the login went (services.sessions)
    csrf: str
    account_id: UUID | None
    dmp_id: UUID | None  # the DMP acted on (a legal representative may have several)
    candidate_id: UUID | None  # during the login: the account whose identifiers were given
    created_at: datetime
    last_seen_at: datetime
    signed_in_at: datetime | None
    step_up_at: datetime | None  # the last fresh one-time code
    professional_id: UUID | None  # a professional's session (the professional portal)
    establishment_id: UUID | None
    pro_state: str | None  # JSON: what a professional's login or access holds between pages


@dataclass(frozen=True, slots=True)
class OneTimeCode:
    """A code sent by e-mail or SMS (or awaited from an authenticator app), bound to a session:
    only its salted hash is kept."""

    id: UUID
    session_id: str
    account_id: UUID | None
    purpose: str  # "login" | "step-up" | "reset" | "contact"
    channel: str  # "email" | "sms" | "totp" (an authenticator app) | "passkey" (no code)
    code_hash: str | None  # None: no code was sent (the identifiers were wrong)
    address_enc: bytes | None  # a contact channel being confirmed, sealed
    created_at: datetime
    expires_at: datetime
    attempts: int
    used_at: datetime | None


@dataclass(frozen=True, slots=True)
class Passkey:
    """A passkey (WebAuthn) of an account: its public key only, and its signature counter,
    which must only go up."""

    id: UUID
    account_id: UUID
    credential_id: bytes
    public_key: bytes  # COSE, as the authenticator gave it
    sign_count: int
    name_enc: bytes  # the name the person gave it, sealed
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class Challenge:
    """What a login factor must answer, bound to one session and used once: a WebAuthn
    challenge, or an authenticator app's new secret until a first code confirms it."""

    id: UUID
    session_id: str
    account_id: UUID | None
    purpose: str  # "app-enrol" | "passkey-enrol" | "passkey-login"
    challenge: bytes | None  # the random bytes the authenticator signs (WebAuthn)
    secret_enc: bytes | None  # an app's secret being enrolled, sealed
    created_at: datetime
    expires_at: datetime
    attempts: int
    used_at: datetime | None

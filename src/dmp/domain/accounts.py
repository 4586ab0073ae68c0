"""The accounts of patients and legal representatives as they are stored. Pure values, as the
repositories read them: the services use their attributes, never rows.

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

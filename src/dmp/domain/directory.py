"""What the directory tells beyond a ``Professional`` or an ``Establishment`` (domain.model):
what a patient reads of them in a list, what the professional portal's own login needs, and a
professional's API tokens as their page lists them. Pure: values as they are stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class ListedProfessional:
    """A professional as anyone may read them in the directory: who, what, which RPPS."""

    id: UUID
    rpps: str
    given_name: str
    family_name: str
    profession: str  # TRE_G15 code
    specialty: str | None
    occupational_health: bool
    active: bool


@dataclass(frozen=True, slots=True)
class ListedEstablishment:
    """An establishment as anyone may read it in the directory: its name, kind and FINESS."""

    id: UUID
    finess: str
    name: str
    kind: str  # a code of the establishment_kinds value set


@dataclass(frozen=True, slots=True)
class ProfessionalLogin:
    """What the professional portal's own login needs of a professional: the password's hash,
    the authenticator app's sealed secret and last time step, the failed tries."""

    id: UUID
    rpps: str
    password_hash: str | None
    totp_secret_enc: bytes | None  # sealed under the professional's key
    totp_last_step: int | None  # a code counts once
    failed_logins: int
    next_login_at: datetime | None  # no try before


@dataclass(frozen=True, slots=True)
class ApiTokenListing:
    """One of a professional's API tokens as their page lists it: never the token, never its
    hash; the establishment it acts for, if any."""

    id: UUID
    label: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    finess: str | None
    establishment_name: str | None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now

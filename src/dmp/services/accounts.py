"""Patient and representative accounts: login identifiers, temporary passwords, contact channels.

The contact channels are sealed under a key of the account's own, in the key store (id = the
account's id): an account may act for several DMPs (a parent for two children), so no DMP's key
would do. That key goes with the account, when the last DMP it belongs to is destroyed.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from dmp.adapters.db.uow import UnitOfWork
from dmp.adapters.fieldcipher import FieldCipher
from dmp.adapters.keystore import KeyDestroyed
from dmp.domain.accounts import Account
from dmp.domain.model import ContactChannels
from dmp.errors import ConfigurationError, InvalidInput
from dmp.services.context import Context

# No 0/O, 1/I/L: the identifier is read aloud and copied from paper.
_LOGIN_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_PASSWORD_ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789"  # noqa: S105 (an alphabet)
_EMAIL = re.compile(r"^(?=.{3,254}$)[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_PHONE = re.compile("[+][0-9]{8,15}")  # E.164, ASCII digits


@dataclass(frozen=True, slots=True)
class Credentials:
    """Shown once, on the hand-out given to the patient; only a hash of the password is kept."""

    account_id: UUID
    login: str
    temporary_password: str


def check_contacts(contacts: ContactChannels) -> ContactChannels:
    email = (contacts.email or "").strip() or None
    phone = re.sub(r"[\s.-]", "", contacts.phone or "") or None
    if phone and phone.startswith("0") and len(phone) == 10:
        phone = "+33" + phone[1:]
    if email is None and phone is None:
        raise InvalidInput(
            "Un courriel ou un numéro de téléphone mobile est nécessaire pour envoyer les codes "
            "de connexion.",
            code="contact",
        )
    if email is not None and not _EMAIL.match(email):
        raise InvalidInput(f"Adresse électronique invalide : {email}", code="contact")
    if phone is not None and not _PHONE.fullmatch(phone):
        raise InvalidInput(f"Numéro de téléphone invalide : {phone}", code="contact")
    return ContactChannels(email, phone)


def _new_login(uow: UnitOfWork) -> str:
    while True:
        login = "".join(secrets.choice(_LOGIN_ALPHABET) for _ in range(10))
        if not uow.records.login_taken(login):
            return login


def open_account(
    ctx: Context,
    uow: UnitOfWork,
    kind: str,
    contacts: ContactChannels,
    now: datetime,
    keys_made: list[UUID],
) -> Credentials:
    """Create an account with a fresh login and a temporary password to change at first login,
    its contact channels sealed under its new key. The key's id is added to ``keys_made``: the
    key store is not in the transaction, the caller destroys the key if the transaction fails."""
    password = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(12))
    credentials = Credentials(uuid4(), _new_login(uow), password)
    cipher = FieldCipher(credentials.account_id, ctx.keys.create(credentials.account_id))
    keys_made.append(credentials.account_id)
    uow.records.add_account(
        {
            "id": credentials.account_id,
            "login": credentials.login,
            "password_hash": ctx.password_hasher.hash(password),
            "must_change_password": True,
            "kind": kind,
            "email_enc": cipher.seal_optional("email", "account", contacts.email),
            "phone_enc": cipher.seal_optional("phone", "account", contacts.phone),
            "notify_email": True,
            "notify_sms": True,
            "created_at": now,
        }
    )
    return credentials


def contacts_of(ctx: Context, account: Account) -> ContactChannels:
    """The account's contact channels, opened with its key; none once that key is destroyed
    (the account goes with its last DMP)."""
    try:
        cipher = FieldCipher(account.id, ctx.keys.get(account.id))
    except KeyDestroyed:
        return ContactChannels()
    return ContactChannels(
        cipher.open_optional("email", "account", account.email_enc),
        cipher.open_optional("phone", "account", account.phone_enc),
    )


# The demo's patient whose login ``dmp demo`` prints (synthetic data only).
DEMO_PASSWORD = "patient-de-demo"  # noqa: S105 (the demo's, printed on purpose)


def reset_demo_password(ctx: Context, login: str) -> bool:
    """Demo mode only: give this account the demo's known password (no change asked at the
    first login), so that the login ``dmp demo`` prints works every time it starts. False when
    no account has this login any more (its DMP destroyed in the demo)."""
    if not ctx.settings.demo:
        raise ConfigurationError("Le mot de passe de démonstration n'existe qu'en mode démo.")
    with ctx.uow() as uow:
        account = uow.accounts.by_login(login, for_update=True)
        if account is None:
            return False
        uow.accounts.update(
            account.id,
            password_hash=ctx.password_hasher.hash(DEMO_PASSWORD),
            must_change_password=False,
            failed_logins=0,
            next_login_at=None,
        )
        uow.commit()
    return True

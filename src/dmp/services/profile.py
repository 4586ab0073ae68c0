"""The patient's account, as the page ``/compte`` shows and changes it (SPEC §5: "change contact
channels and password"): the login identifier, the phone and the e-mail address the one-time
codes go to, the password.

Each change asks for a fresh one-time code first (``policy.change_login_factors``, asked by the
door of each DMP the account signs in to, which writes the refusal to the history): a session
left open must not be enough to plant an address of one's own, nor to lock the patient out. A
new address is confirmed by a code sent to it (the code machinery of ``services.login``: 6
digits, only a hash kept, 5 minutes, 5 tries, used once, bound to the session), the address
waiting sealed under the account's key beside the code's hash. Every change, and every
refusal, is written to the history of each DMP of the account; the patient is told on the
channels they keep, and the address replaced or removed is told too (if it was not them, that
address is where they will read it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from dmp import policy
from dmp.adapters.db.uow import UnitOfWork
from dmp.adapters.fieldcipher import FieldCipher
from dmp.domain import accounts
from dmp.domain.model import ContactChannels
from dmp.errors import DmpError, InvalidInput
from dmp.services import login, sessions
from dmp.services.accounts import check_contacts, contacts_of
from dmp.services.common import french_date, notify, notify_address
from dmp.services.context import Context
from dmp.services.factors import open_doors
from dmp.services.gate import Door
from dmp.services.sessions import Opened, SignInRequired, WebSession

EMAIL, SMS = "email", "sms"
CONTACT_PURPOSE = "contact"
# What the history says of each change (data/history.yaml).
SET = {EMAIL: "contact.email-set", SMS: "contact.phone-set"}
REMOVE = {EMAIL: "contact.email-remove", SMS: "contact.phone-remove"}
PASSWORD_CHANGE = "account.password"  # noqa: S105 (an action, not a secret)
_COLUMN = {EMAIL: "email_enc", SMS: "phone_enc"}
_FIELD = {EMAIL: "email", SMS: "phone"}
# How the notice says it (messages.yaml, ``contact_changed``).
_ADDED = {EMAIL: "une adresse électronique a été ajoutée", SMS: "un numéro de mobile a été ajouté"}
_REPLACED = {
    EMAIL: "votre adresse électronique a été changée",
    SMS: "votre numéro de mobile a été changé",
}
_REMOVED = {
    EMAIL: "votre adresse électronique a été retirée",
    SMS: "votre numéro de mobile a été retiré",
}


class TooManyCodes(DmpError):
    code = "too-many-codes"
    status = 429
    message = "Trop de codes ont été envoyés dans l'heure : réessayez plus tard."


class CurrentPasswordWrong(DmpError):
    code = "current-password"
    status = 400
    message = "Le mot de passe actuel n'est pas le bon."


@dataclass(frozen=True, slots=True)
class Account:
    """What the account page shows: the login, the channels (masked), what waits for a code."""

    login: str
    email: str | None
    phone: str | None
    fresh: bool  # a change may be made now, without a new code first
    pending: str | None  # the channel whose new address waits for its code


def mask_email(address: str) -> str:
    """« a•••e@example.org »: enough to recognize one's address, not to read it over a
    shoulder."""
    local, _, domain = address.partition("@")
    shown = local[0] + "•••" + local[-1] if len(local) > 2 else local[0] + "•••"
    return f"{shown}@{domain}"


def mask_phone(number: str) -> str:
    """« +33 6 •• •• •• 78 » for a French mobile; else the first three and last two digits."""
    if number.startswith("+33") and len(number) == 12:
        return f"+33 {number[3]} •• •• •• {number[-2:]}"
    return number[:3] + "•" * max(len(number) - 5, 1) + number[-2:]


def account_of(ctx: Context, session: WebSession) -> Account:
    """The signed-in account, as its page shows it."""
    actor = session.actor()
    with ctx.reader() as uow:
        account = uow.accounts.get(actor.account_id)
        if account is None:
            raise SignInRequired()
        pending = uow.accounts.pending_code(session.id, CONTACT_PURPOSE)
    contacts = contacts_of(ctx, account)
    waiting = pending.channel if pending is not None and pending.expires_at > ctx.now() else None
    return Account(
        login=account.login,
        email=mask_email(contacts.email) if contacts.email else None,
        phone=mask_phone(contacts.phone) if contacts.phone else None,
        fresh=login.fresh_step_up_now(ctx, session),
        pending=waiting,
    )


def _checked(channel: str, address: str) -> str:
    """The address, as the accounts keep it (a French number as +33…), or a clear refusal."""
    if channel not in (EMAIL, SMS):
        raise InvalidInput("Choisissez une adresse électronique ou un numéro de mobile.")
    if not (address or "").strip():
        raise InvalidInput("Saisissez la nouvelle coordonnée.", code="contact")
    given = ContactChannels(email=address) if channel == EMAIL else ContactChannels(phone=address)
    checked = check_contacts(given)
    found = checked.email if channel == EMAIL else checked.phone
    assert found is not None
    return found


def ask_contact(ctx: Context, session: WebSession, channel: str, address: str) -> None:
    """Send a code to the new address (a phone number or an e-mail address, added or replacing
    the one registered). Nothing changes until that code comes back (``confirm_contact``)."""
    new = _checked(channel, address)
    if channel not in ctx.notifier.channels:
        raise InvalidInput(
            "Ce service n'envoie pas de " + ("SMS" if channel == SMS else "courriel") + " : "
            "choisissez l'autre moyen.",
            code="contact",
        )
    actor, now = session.actor(), ctx.now()
    with ctx.uow() as uow:
        open_doors(ctx, uow, session, SET[channel], ("account", actor.account_id))
        account = _account(uow, actor.account_id, lock=True)
        if getattr(contacts_of(ctx, account), _FIELD[channel]) == new:
            raise InvalidInput("C'est déjà la coordonnée enregistrée.", code="contact")
        if login.codes_spent(uow, actor.account_id, now):
            raise TooManyCodes()
        send = login.prepare_code(
            ctx, uow, session.id, actor.account_id, CONTACT_PURPOSE, channel, now, address=new
        )
        uow.commit()
    assert send is not None
    send()


def confirm_contact(ctx: Context, session: WebSession, code: str) -> str:
    """The code sent to the new address: it becomes the account's. A wrong or expired code is
    written to the history, and the address stays as it was. Returns the channel changed."""
    actor, now = session.actor(), ctx.now()
    with ctx.uow() as uow:
        pending = uow.accounts.pending_code(session.id, CONTACT_PURPOSE)
        channel = pending.channel if pending is not None else EMAIL
        doors = open_doors(ctx, uow, session, SET[channel], ("account", actor.account_id))
        used = login.check_code(ctx, uow, session.id, CONTACT_PURPOSE, code, now)
        if used is None or used.address_enc is None:
            _refused(doors, "wrong-code")
            uow.commit()
            raise login.CodeFailed()
        new = _cipher(ctx, actor.account_id).open("contact-address", used.id, used.address_enc)
        account = _account(uow, actor.account_id, lock=True)
        old = getattr(contacts_of(ctx, account), _FIELD[channel])
        _store(ctx, uow, account, channel, new)
        change = (_REPLACED if old else _ADDED)[channel]
        _recorded(ctx, uow, doors, actor.account_id, now, change, old_address=(channel, old))
        uow.commit()
    return channel


def remove_contact(ctx: Context, session: WebSession, channel: str) -> None:
    """Remove the phone or the e-mail address, as long as the other one remains: the codes of
    the login must go somewhere."""
    if channel not in (EMAIL, SMS):
        raise InvalidInput("Choisissez une adresse électronique ou un numéro de mobile.")
    actor, now = session.actor(), ctx.now()
    with ctx.uow() as uow:
        doors = open_doors(ctx, uow, session, REMOVE[channel], ("account", actor.account_id))
        account = _account(uow, actor.account_id, lock=True)
        contacts = contacts_of(ctx, account)
        old = getattr(contacts, _FIELD[channel])
        other = contacts.phone if channel == EMAIL else contacts.email
        if old is None:
            raise InvalidInput("Cette coordonnée n'est pas enregistrée.", code="contact")
        if other is None:
            raise InvalidInput(
                "Gardez au moins une coordonnée : les codes de connexion y sont envoyés. "
                "Ajoutez-en d'abord une autre.",
                code="contact",
            )
        _store(ctx, uow, account, channel, None)
        _recorded(
            ctx, uow, doors, actor.account_id, now, _REMOVED[channel], old_address=(channel, old)
        )
        uow.commit()


def change_password(
    ctx: Context, session: WebSession, current: str, password: str, confirm: str
) -> Opened:
    """A new password, the current one given: every session of the account ends, this one is
    renewed (a new token). A wrong current password is written to the history."""
    if password != confirm:
        raise InvalidInput("Les deux mots de passe ne sont pas identiques.", code="password")
    actor, now = session.actor(), ctx.now()
    with ctx.uow() as uow:
        doors = open_doors(ctx, uow, session, PASSWORD_CHANGE, ("account", actor.account_id))
        account = _account(uow, actor.account_id, lock=True)
        if not login.password_matches(ctx, account.password_hash, current):
            _refused(doors, "wrong-password")
            uow.commit()
            raise CurrentPasswordWrong()
        login.check_password(password, account.login)
        if password == current:
            raise InvalidInput("Choisissez un mot de passe différent de l'actuel.", code="password")
        uow.accounts.update(
            actor.account_id,
            password_hash=ctx.password_hasher.hash(password),
            must_change_password=False,
            password_changed_at=now,
        )
        uow.accounts.delete_sessions_of(actor.account_id)  # this one too: renewed below
        opened = sessions.new_session(
            ctx,
            uow,
            stage=sessions.SIGNED_IN,
            account_id=actor.account_id,
            dmp_id=actor.dmp_id,
            signed_in_at=session.signed_in_at,
            step_up_at=session.step_up_at,
        )
        for door in doors:
            door.record(secret=_secret(door))
        notify(
            uow,
            now,
            doors[0].dmp_id,
            "account",
            actor.account_id,
            "password_changed",
            date=french_date(now),
        )
        uow.commit()
    return opened


# --- shared ---------------------------------------------------------------------------------------


def _account(uow: UnitOfWork, account_id: UUID, *, lock: bool = False) -> accounts.Account:
    account = uow.accounts.get(account_id, for_update=lock)
    if account is None:
        raise SignInRequired()
    return account


def _cipher(ctx: Context, account_id: UUID) -> FieldCipher:
    return FieldCipher(account_id, ctx.keys.get(account_id))


def _store(
    ctx: Context, uow: UnitOfWork, account: accounts.Account, channel: str, value: str | None
) -> None:
    sealed = _cipher(ctx, account.id).seal_optional(_FIELD[channel], "account", value)
    uow.accounts.update(account.id, **{_COLUMN[channel]: sealed})


def _secret(door: Door) -> bool:
    return policy.connection_is_secret(door.access)


def _refused(doors: list[Door], reason: str) -> None:
    """A refusal of the change (a wrong code, a wrong password), in each DMP's history."""
    for door in doors:
        door.record(reason, secret=_secret(door))


def _recorded(
    ctx: Context,
    uow: UnitOfWork,
    doors: list[Door],
    account_id: UUID,
    now: datetime,
    change: str,
    *,
    old_address: tuple[str, str | None],
) -> None:
    """The change in each DMP's history; the notice to the account (on the channels it keeps)
    and to the address replaced or removed, if any."""
    for door in doors:
        door.record(secret=_secret(door))
    when, dmp_id = french_date(now), doors[0].dmp_id
    notify(uow, now, dmp_id, "account", account_id, "contact_changed", change=change, date=when)
    channel, old = old_address
    if old:
        gone = ContactChannels(email=old) if channel == EMAIL else ContactChannels(phone=old)
        notify_address(ctx, uow, now, dmp_id, gone, "contact_changed", change=change, date=when)

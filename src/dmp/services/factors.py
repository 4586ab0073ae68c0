"""The stronger ways of logging in that a patient may add to the one-time codes (SPEC §5): an
authenticator app, passkeys. What their use cases share: the fresh code asked first, the trace
of every change in the history of each DMP the account signs in to, the notice to the patient,
and what the security page shows. See docs/adr/0005-one-time-codes-and-sessions.md.

A factor belongs to an account, and an account may act for several DMPs (a parent of two
minors): its changes are written to each of their histories, since each can be entered with it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from dmp import policy
from dmp.adapters.db.uow import UnitOfWork
from dmp.adapters.fieldcipher import FieldCipher
from dmp.services import gate
from dmp.services.common import french_date, notify
from dmp.services.context import Context
from dmp.services.gate import Door, Reading
from dmp.services.login import step_up_window
from dmp.services.sessions import SignInRequired, StepUpRequired, WebSession

# What the history says of each change, and how the notice names the factor.
APP_ADDED, APP_REMOVED = "factor.app-add", "factor.app-remove"
PASSKEY_ADDED, PASSKEY_REMOVED = "factor.passkey-add", "factor.passkey-remove"
_NOTICES = {
    APP_ADDED: ("login_factor_added", "Une application d'authentification"),
    APP_REMOVED: ("login_factor_removed", "Une application d'authentification"),
    PASSKEY_ADDED: ("login_factor_added", "Une clé d'accès"),
    PASSKEY_REMOVED: ("login_factor_removed", "Une clé d'accès"),
}


def account_cipher(ctx: Context, account_id: UUID) -> FieldCipher:
    """What seals an account's factors: the account's own key, as its contact channels."""
    return FieldCipher(account_id, ctx.keys.get(account_id))


def require_fresh(ctx: Context, session: WebSession) -> None:
    """Send the person to enter a fresh code first. Nothing was tried yet, so nothing is traced;
    the door asks the policy again when the change is made."""
    if not session.signed_in:
        raise SignInRequired()
    if not policy.fresh_step_up(session.actor(), ctx.now(), step_up_window(ctx)):
        raise StepUpRequired()


def open_doors(
    ctx: Context, uow: UnitOfWork, session: WebSession, action: str, target: tuple[str, object]
) -> list[Door]:
    """Each DMP the account signs in to (the session's first), opened for this change of its
    login factors: a refusal is written, committed and raised before anything changes."""
    actor = session.actor()
    now, window = ctx.now(), step_up_window(ctx)
    others = [d for d in uow.records.by_account(actor.account_id) if d != actor.dmp_id]
    doors = []
    for dmp_id in [actor.dmp_id, *others]:
        doors.append(
            gate.enter(
                ctx,
                uow,
                Reading(replace(actor, dmp_id=dmp_id)),
                action,
                dmp_id,
                lambda access: policy.change_login_factors(access, now, window),
                target=target,
            )
        )
    return doors


def record_change(uow: UnitOfWork, doors: list[Door], account_id: UUID, now: datetime) -> None:
    """The change, in each DMP's history (a minor's own changes, as their connections, kept
    from the parents), and the notice to the patient: if it was not them, they learn it."""
    for door in doors:
        door.record(secret=policy.connection_is_secret(door.access))
    first = doors[0]
    template, factor = _NOTICES[first.action]
    when = french_date(now)
    notify(uow, now, first.dmp_id, "account", account_id, template, factor=factor, date=when)


# --- what the security page shows ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Passkey:
    id: UUID
    name: str
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True, slots=True)
class Factors:
    """The account's factors, and whether a change may be made without a new code now."""

    app: bool
    passkeys: list[Passkey]
    fresh: bool


def factors_of(ctx: Context, session: WebSession) -> Factors:
    """The authenticator app (enrolled or not) and the passkeys of the signed-in account."""
    actor = session.actor()
    fresh = policy.fresh_step_up(actor, ctx.now(), step_up_window(ctx))
    with ctx.reader() as uow:
        account = uow.accounts.get(actor.account_id)
        if account is None:
            raise SignInRequired()
        stored = uow.factors.passkeys_of(actor.account_id)
    cipher = account_cipher(ctx, actor.account_id)
    passkeys = [
        Passkey(
            key.id,
            cipher.open("passkey-name", key.id, key.name_enc),
            key.created_at,
            key.last_used_at,
        )
        for key in stored
    ]
    return Factors(account.totp_secret_enc is not None, passkeys, fresh)

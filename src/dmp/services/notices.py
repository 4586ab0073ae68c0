"""The notices the patient chooses to receive, and by which channel (SPEC §5): the table of
``data/notices.yaml``, the choices kept on the account (``accounts.notices``, JSON: kind → the
channels chosen), the page's two use cases through the door, and the rule the delivery follows
(``channels_for``).

Some notices are required (docs/adr/0009-notification-delivery.md): the patient picks their
channels, never none; and should the channels chosen be gone when one is sent (a phone number
removed), it goes to every channel registered. Nothing the law requires is lost to a choice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from uuid import UUID

import yaml

from dmp import policy
from dmp.adapters.db.uow import UnitOfWork
from dmp.adapters.notify.base import EMAIL, SMS
from dmp.domain.accounts import Account
from dmp.domain.model import Actor, ContactChannels
from dmp.errors import ConfigurationError, InvalidInput
from dmp.services import gate
from dmp.services.accounts import contacts_of
from dmp.services.context import Context
from dmp.services.gate import Reading

CHANNELS = (EMAIL, SMS)


@dataclass(frozen=True, slots=True)
class NoticeKind:
    key: str
    label: str
    templates: frozenset[str]
    required: bool = False
    why: str = ""


@dataclass(frozen=True, slots=True)
class NoticeTable:
    channels: dict[str, str]  # channel → its French name
    kinds: dict[str, NoticeKind]
    always: frozenset[str]
    professionals: frozenset[str]

    def kind_of(self, template: str) -> NoticeKind | None:
        return next((k for k in self.kinds.values() if template in k.templates), None)


@cache
def notice_table() -> NoticeTable:
    """The table, loaded once and checked against the message templates."""
    text = resources.files("dmp.data").joinpath("notices.yaml").read_text("utf-8")
    try:
        raw = yaml.safe_load(text)
        table = NoticeTable(
            channels=dict(raw["channels"]),
            kinds={
                key: NoticeKind(
                    key,
                    v["label"],
                    frozenset(v["templates"]),
                    bool(v.get("required", False)),
                    v.get("why", ""),
                )
                for key, v in raw["kinds"].items()
            },
            always=frozenset(raw["always"]),
            professionals=frozenset(raw["professionals"]),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigurationError(f"notices.yaml is malformed: {exc!r}") from exc
    check(table)
    return table


def check(table: NoticeTable) -> None:
    """Every queued template is in exactly one place; every required kind says why."""
    from dmp.services.notifications import templates  # the messages import this module

    queued = {name for name, t in templates().items() if not t.immediate}
    places = [*(k.templates for k in table.kinds.values()), table.always, table.professionals]
    listed = [name for place in places for name in place]
    problems = []
    if sorted(listed) != sorted(queued):
        problems.append(f"templates {sorted(set(listed) ^ queued)} not listed exactly once")
    if set(table.channels) != set(CHANNELS):
        problems.append(f"channels {sorted(table.channels)}")
    problems += [
        f"{k.key}: a required notice says why"
        for k in table.kinds.values()
        if k.required and not k.why
    ]
    if problems:
        raise ConfigurationError("notices.yaml: " + "; ".join(problems))


# --- the choices, as the account keeps them -----------------------------------------------------


def chosen(account: Account) -> dict[str, set[str]]:
    """kind → the channels chosen; a kind never chosen goes by every channel."""
    table = notice_table()
    stored: dict[str, list[str]] = json.loads(account.notices) if account.notices else {}
    return {
        key: set(stored[key]) & set(CHANNELS) if key in stored else set(CHANNELS)
        for key in table.kinds
    }


def channels_for(account: Account, template: str, registered: set[str]) -> set[str]:
    """The channels a message of ``template`` goes by, to this account, as its choices stand
    now. A required notice never goes by none: its channels chosen, else every registered one."""
    kind = notice_table().kind_of(template)
    switched_on = {c for c, on in ((EMAIL, account.notify_email), (SMS, account.notify_sms)) if on}
    if kind is None:  # sent whatever the choices (the creation), by the channels switched on
        return switched_on & registered
    wanted = chosen(account)[kind.key] & registered
    if kind.required:
        return wanted or registered
    return wanted & switched_on


def keep_chosen(account: Account, template: str, contact: ContactChannels) -> ContactChannels:
    """The contact channels a last message (the DMP destroyed, its account gone with it) may
    carry: those the account chose, while it was there to choose."""
    registered = {c for c, a in ((EMAIL, contact.email), (SMS, contact.phone)) if a}
    wanted = channels_for(account, template, registered)
    return ContactChannels(
        contact.email if EMAIL in wanted else None, contact.phone if SMS in wanted else None
    )


# --- the page -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NoticeChoice:
    kind: NoticeKind
    channels: dict[str, bool]  # registered channel → chosen


@dataclass(frozen=True, slots=True)
class NoticeView:
    """The choices of the DMP's holder (their account receives its notices), for the page."""

    choices: list[NoticeChoice]
    channels: list[tuple[str, str]]  # the channels registered: (key, French name)
    patient_name: str


def read_notices(ctx: Context, actor: Actor, dmp_id: UUID) -> NoticeView:
    """The notices of this DMP and the channels they go by (one audit entry)."""
    with ctx.uow() as uow:
        door = gate.enter(ctx, uow, Reading(actor), "notices.read", dmp_id, policy.choose_notices)
        account = _account(uow, door.loaded.record.patient_account_id)
        view = _view(
            ctx, account, door.loaded.identity.given_names, door.loaded.identity.family_name
        )
        door.record()
        uow.commit()
    return view


def choose_notices(
    ctx: Context, actor: Actor, dmp_id: UUID, wanted: Mapping[str, set[str]]
) -> None:
    """Keep the notices chosen (kind → channels; a kind not given is wanted by no channel),
    with its audit entry. A required notice needs at least one channel registered."""
    table = notice_table()
    with ctx.uow() as uow:
        door = gate.enter(
            ctx, uow, Reading(actor), "notices.set", dmp_id, policy.choose_notices, lock=True
        )
        account = _account(uow, door.loaded.record.patient_account_id)
        registered = _registered(ctx, account)
        previous = chosen(account)
        kept = {}
        for key, kind in table.kinds.items():
            picked = set(wanted.get(key, set()))
            if picked - set(CHANNELS):
                raise InvalidInput("Ce moyen d'envoi n'existe pas.", code="notices")
            if kind.required and not picked & registered:
                raise InvalidInput(
                    f"« {kind.label} » : ce message est obligatoire, choisissez au moins un "
                    "moyen de le recevoir.",
                    code="notices",
                )
            # A channel not registered keeps its choice, for the day it is.
            kept[key] = sorted((picked & registered) | (previous[key] - registered))
        uow.accounts.update(
            account.id,
            notices=json.dumps(kept),
            notify_email=any(EMAIL in c for c in kept.values()),
            notify_sms=any(SMS in c for c in kept.values()),
        )
        door.record(target=("account", account.id))
        uow.commit()


def _account(uow: UnitOfWork, account_id: UUID) -> Account:
    account = uow.records.account(account_id)
    if account is None:
        raise gate.hidden()
    return account


def _registered(ctx: Context, account: Account) -> set[str]:
    contacts = contacts_of(ctx, account)
    return {c for c, a in ((EMAIL, contacts.email), (SMS, contacts.phone)) if a}


def _view(ctx: Context, account: Account, given: str, family: str) -> NoticeView:
    table, registered = notice_table(), _registered(ctx, account)
    picked = chosen(account)
    channels = [(c, table.channels[c]) for c in CHANNELS if c in registered]
    choices = [
        NoticeChoice(kind, {c: c in picked[key] for c, _ in channels})
        for key, kind in table.kinds.items()
    ]
    return NoticeView(choices, channels, f"{given} {family}")

"""Deliver the outbox: every queued message is sent, or retried, or reported — and none is ever
sent twice (docs/adr/0009-notification-delivery.md).

Each message is claimed in a transaction of its own (``sending``, under a lease), sent with no
transaction open, and its outcome recorded in another: sent; back to ``pending`` with its next
attempt time after a failure that surely delivered nothing (exponential backoff); ``failed``
after the last attempt; ``uncertain`` when the send may have happened unconfirmed. A message
still ``sending`` after its lease was being sent by a process that died: it may have left, so it
becomes ``uncertain`` too — reported to the operator, never sent again (at most once).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from dmp.adapters.notify.base import DeliveryFailed, DeliveryUncertain, Message
from dmp.domain.model import OutboxState
from dmp.domain.trail import OutboxMessage
from dmp.services.context import Context
from dmp.services.notifications import addresses, render

# A send is a handful of network operations per channel, each bounded by the timeout: a claim
# held this many timeouts means its sender is gone. (Too short a lease only reports a slow send
# as uncertain early; it never makes a message leave twice.)
LEASE_TIMEOUTS = 30
RETRY_CAP = timedelta(hours=1)
INTERRUPTED = "envoi interrompu, son issue est inconnue : non renvoyé"
_WAITING = (OutboxState.PENDING, OutboxState.FAILED, OutboxState.UNCERTAIN)


@dataclass(frozen=True, slots=True)
class Problem:
    """A message the operator must look at: its id is the e-mail's Message-ID and the SMS
    gateway's reference, to look for in their logs."""

    id: UUID
    state: OutboxState
    template: str
    attempts: int
    reason: str
    channels_done: str

    def line(self) -> str:
        what = "ÉCHEC" if self.state is OutboxState.FAILED else "INCERTAIN"
        done = f" ; déjà envoyé par : {self.channels_done}" if self.channels_done else ""
        return (
            f"{what} — message {self.id} ({self.template}, {self.attempts} essai(s)) : "
            f"{self.reason}{done}"
        )


@dataclass
class DeliveryReport:
    enabled: bool = True
    sent: int = 0
    retrying: int = 0
    unconfigured: int = 0  # sends skipped by messages sent: their channel has no sender
    problems: list[Problem] = field(default_factory=list)  # failed or uncertain in this run
    waiting: dict[OutboxState, int] = field(default_factory=dict)  # in the outbox, after it

    def lines(self) -> list[str]:
        pending = self.waiting.get(OutboxState.PENDING, 0)
        if not self.enabled:
            return [
                f"Notifications désactivées (DMP_NOTIFICATIONS=off) : {pending} en attente, "
                "rien n'est envoyé."
            ]
        failed = sum(p.state is OutboxState.FAILED for p in self.problems)
        return [
            f"Notifications envoyées : {self.sent}",
            f"Notifications à réessayer plus tard (envoi impossible) : {self.retrying}",
            f"Notifications abandonnées après le dernier essai : {failed}",
            f"Notifications à l'envoi incertain, non renvoyées : {len(self.problems) - failed}",
            f"Envois sans canal configuré : {self.unconfigured}",
            f"Dans la file : {pending} en attente, "
            f"{self.waiting.get(OutboxState.FAILED, 0)} en échec, "
            f"{self.waiting.get(OutboxState.UNCERTAIN, 0)} incertaine(s)",
        ]


def retry_delay(attempts: int, first: timedelta, cap: timedelta = RETRY_CAP) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: ``first``, then twice as long each
    time, never more than ``cap`` — a server down for hours is tried a few times an hour."""
    return min(first * (1 << min(max(attempts - 1, 0), 30)), cap)


def dispatch(
    ctx: Context, limit: int = 500, should_stop: Callable[[], bool] = lambda: False
) -> DeliveryReport:
    """Send up to ``limit`` due messages, one claim at a time, until none is due or
    ``should_stop()`` (a server shutting down). Notifications switched off: nothing is claimed,
    the messages wait."""
    report = DeliveryReport(enabled=bool(ctx.notifier.channels))
    if report.enabled:
        with ctx.uow() as uow:
            expired = uow.outbox.expire_leases(ctx.now(), INTERRUPTED)
            uow.commit()
        report.problems += [
            _problem(message, OutboxState.UNCERTAIN, INTERRUPTED) for message in expired
        ]
        for _ in range(limit):
            if should_stop():
                break
            claimed = _claim(ctx)
            if claimed is None:
                break
            _deliver(ctx, claimed, report)
    with ctx.reader() as uow:
        report.waiting = uow.outbox.count_by_state(_WAITING)
    return report


def _claim(ctx: Context) -> OutboxMessage | None:
    """Committed before anything is sent: from now on no other sender takes this message."""
    now = ctx.now()
    lease = timedelta(seconds=ctx.settings.delivery.timeout_seconds * LEASE_TIMEOUTS)
    with ctx.uow() as uow:
        message = uow.outbox.claim(now, now + lease, uuid4())
        uow.commit()
    return message


@dataclass
class _Attempt:
    done: set[str]
    unconfigured: int = 0
    failure: DeliveryFailed | None = None

    def failed(self, failure: DeliveryFailed) -> None:
        """An uncertain send outweighs a failed one: retrying would risk sending it twice."""
        if not isinstance(self.failure, DeliveryUncertain):
            self.failure = failure


def _attempt(ctx: Context, message: OutboxMessage) -> _Attempt:
    """Send on each channel not done yet (a failure on one does not hold back the others)."""
    text = render(message.template, json.loads(message.params))
    attempt = _Attempt(set(message.channels_done.split()))
    with ctx.reader() as uow:
        targets = addresses(ctx, uow, message)
    for channel, address in targets:
        if channel in attempt.done:
            continue
        if channel not in ctx.notifier.channels:
            attempt.unconfigured += 1
            continue
        outgoing = Message(channel, address, text.subject, text.body, str(message.id))
        try:
            ctx.notifier.send(outgoing)
        except DeliveryFailed as failure:
            attempt.failed(failure)
        else:
            attempt.done.add(channel)
    return attempt


def _deliver(ctx: Context, message: OutboxMessage, report: DeliveryReport) -> None:
    attempt = _attempt(ctx, message)
    state, at = _outcome(ctx, message, attempt)
    reason = attempt.failure.reason if attempt.failure else None
    done = " ".join(sorted(attempt.done))
    claim = message.claim
    assert claim is not None  # the claim this sender holds (``_claim``)
    with ctx.uow() as uow:
        recorded = uow.outbox.finish(message.id, claim, state, done, at=at, reason=reason)
        uow.commit()
    if not recorded:  # gone meanwhile (its DMP destroyed)
        return
    if state is OutboxState.SENT:
        report.sent += 1
        report.unconfigured += attempt.unconfigured  # once, as the message is done with
        if message.contact_enc is not None:
            ctx.keys.destroy(message.id)  # sent: the addresses it sealed are shredded
    elif state is OutboxState.PENDING:
        report.retrying += 1
    else:
        report.problems.append(_problem(message, state, reason or "", done))


def _outcome(
    ctx: Context, message: OutboxMessage, attempt: _Attempt
) -> tuple[OutboxState, datetime]:
    """The message's next state, and the time that goes with it (sent, or next attempt)."""
    now, delivery = ctx.now(), ctx.settings.delivery
    if attempt.failure is None:
        return OutboxState.SENT, now
    if isinstance(attempt.failure, DeliveryUncertain):
        return OutboxState.UNCERTAIN, now
    if message.attempts >= delivery.max_attempts:
        return OutboxState.FAILED, now
    first = timedelta(seconds=delivery.retry_seconds)
    return OutboxState.PENDING, now + retry_delay(message.attempts, first)


def _problem(
    message: OutboxMessage, state: OutboxState, reason: str, channels_done: str | None = None
) -> Problem:
    done = message.channels_done if channels_done is None else channels_done
    return Problem(message.id, state, message.template, message.attempts, reason, done)

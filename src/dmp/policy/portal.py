"""The patient on the Internet (SPEC §5): who signs in to act on a DMP, what stays secret of it,
the fresh code asked before what cannot be undone, and who changes the ways of logging in."""

from __future__ import annotations

from datetime import datetime, timedelta

from dmp.domain.model import Actor, PatientActor
from dmp.policy.access import Access, as_holder, open_record
from dmp.policy.decision import Decision, deny
from dmp.policy.relations import is_holder


def sign_in(access: Access) -> Decision:
    """May this account act on this DMP through the portal? Its holder, or a legal
    representative while the patient is a minor; on a closed DMP too (to read it, and have it
    reactivated), never on a destroyed one."""
    return as_holder(access, open_record)


def choose_notices(access: Access) -> Decision:
    """May this person choose which notices of the DMP are sent, and how? Its holder, or a
    legal representative acting for the minor; on a closed DMP too (its closure and its
    destruction are notices as well)."""
    return as_holder(access, open_record)


def connection_is_secret(access: Access) -> bool:
    """Is the trace of this connection kept from the legal representatives? A minor's own
    connections to their DMP are theirs alone (SPEC §1): the parents do not see them, nor
    anything the minor did while connected (each page read is a trace of the connection)."""
    return isinstance(access.actor, PatientActor) and access.record.patient_is_minor


def fresh_step_up(actor: Actor, now: datetime, max_age: timedelta) -> bool:
    """Did this person enter a fresh one-time code lately? Asked before destroying, closing the
    DMP, or changing a contact channel or the password: a session left open must not be
    enough for what cannot be undone or locks the patient out."""
    step_up_at = actor.step_up_at if is_holder(actor) else None
    return step_up_at is not None and now - step_up_at <= max_age


def change_login_factors(access: Access, now: datetime, max_age: timedelta) -> Decision:
    """May this person change a way of proving who they are at login, as seen from this DMP: add
    or remove an authenticator app or a passkey, add, change or remove the phone or the e-mail
    address the codes are sent to, change the password? Whoever signs in to it (its holder, or a
    legal representative while the patient is a minor), on a closed DMP too, having just entered
    a fresh one-time code: a session left open must not be enough to plant a factor or an
    address of one's own, nor to lock the patient out."""
    opened = sign_in(access)
    if opened and not fresh_step_up(access.actor, now, max_age):
        return deny("step-up-required")
    return opened

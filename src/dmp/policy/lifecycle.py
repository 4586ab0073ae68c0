"""The life of a DMP: creation, closure, reactivation, destruction (SPEC §2)."""

from __future__ import annotations

from datetime import datetime, timedelta

from dmp.domain.model import AccessMode, Actor, ProfessionalActor, RecordState
from dmp.policy.access import Access, as_holder, open_for_writing, open_record, professional_barred
from dmp.policy.decision import Decision, allow, deny
from dmp.policy.portal import fresh_step_up
from dmp.policy.relations import is_excluded, is_holder, refuse_actor, refuse_excluded


def create_record(actor: Actor, existing: RecordState | None) -> Decision:
    """May this person create a DMP for this patient? Any health professional not excluded by law,
    at the patient's request, if the patient has no DMP yet or only a destroyed one (after a total
    destruction the patient may start again with an empty DMP)."""
    if not isinstance(actor, ProfessionalActor):
        return refuse_actor(actor, "professional-only")
    if is_excluded(actor):
        return deny("excluded-actor")
    if existing is None or existing is RecordState.DESTROYED:
        return allow("create")
    return deny("record-exists")


def look_up(actor: Actor) -> Decision:
    """May this person ask whether a DMP exists for an INS, and in which state? Any health
    professional not excluded by law: before creating a DMP, or to know whether one may be
    consulted. What the DMP holds is another matter (open_record)."""
    if not isinstance(actor, ProfessionalActor):
        return refuse_actor(actor, "professional-only")
    if is_excluded(actor):
        return deny("excluded-actor")
    return allow("lookup")


def close_record(access: Access, now: datetime, max_step_up_age: timedelta) -> Decision:
    """May this person close the DMP? The patient or a legal representative, having just entered
    a fresh one-time code (a session left open must not be enough to shut the professionals out
    of the DMP); or, at the patient's request, a professional who may open it in normal access
    (the patient is in front of them). Only an active DMP closes."""
    opened = open_for_writing(access)
    if opened and is_holder(access.actor) and not fresh_step_up(access.actor, now, max_step_up_age):
        return deny("step-up-required")
    return opened


def export_record(access: Access) -> Decision:
    """May this person take away a copy of the whole DMP (every document they may read, its
    metadata, its history)? The patient or a legal representative, at any time: on a closed DMP
    too, and right before destroying it. What they may not read stays out of the copy
    (``read_document``), and a representative's copy of the history leaves out the minor's
    secret entries (``sees_history_entry``)."""
    return as_holder(access, open_record)


def reactivate_record(access: Access) -> Decision:
    """May this professional reactivate this closed DMP? Any professional not excluded by law and
    not blocked, in normal access: the patient is present and consents again, so no prior
    authorization is needed. Only a closed DMP is reactivated; a destroyed one is gone. A
    professional excluded by law who asks is told so first."""
    excluded = refuse_excluded(access.actor)
    if excluded is not None:
        return excluded
    state = access.record.state
    if state is RecordState.DESTROYED:
        return deny("record-destroyed")
    if state is not RecordState.CLOSED:
        return deny("record-not-closed")
    actor = access.actor
    if not isinstance(actor, ProfessionalActor):
        return refuse_actor(actor, "professional-only")
    barred = professional_barred(actor, access.record)
    if barred is not None:
        return barred
    return allow("reactivate") if access.mode is AccessMode.NORMAL else deny("read-only-mode")


def destroy(access: Access, now: datetime, max_step_up_age: timedelta) -> Decision:
    """May this person destroy the DMP, or documents of it, for good? The patient or a legal
    representative, on an active or closed DMP, having just entered a fresh one-time code: the
    destruction cannot be undone, so a session left open must not be enough."""
    opened = as_holder(access, open_record)
    if not opened:
        return opened
    if not fresh_step_up(access.actor, now, max_step_up_age):
        return deny("step-up-required")
    return opened

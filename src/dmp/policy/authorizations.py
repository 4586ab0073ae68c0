"""Who decides who gets in: authorizations, blocks, the médecin traitant (SPEC §3.1)."""

from __future__ import annotations

from dmp.domain.model import MEDECIN, AccessMode, Establishment, Professional, ProfessionalActor
from dmp.policy.access import Access, as_holder, open_for_writing, professional_barred
from dmp.policy.decision import Decision, allow, deny, first_refusal
from dmp.policy.relations import (
    is_blocked,
    is_excluded_professional,
    not_active,
    refuse_actor,
    refuse_excluded,
)


def grant(access: Access, target: Professional | Establishment) -> Decision:
    """May the patient (or a legal representative) authorize this professional or establishment?

    Never an occupational physician, an insurer, a mutuelle, a bank or an employer, nor a
    professional attached only to such organizations: the law forbids it, and whoever asks is
    told so first. Otherwise the patient or the representative, on an active DMP. A professional
    the patient blocked must be unblocked first.
    """
    if _target_excluded(target):
        return deny("excluded-actor")
    opened = as_holder(access, open_for_writing)
    if not opened:
        return opened
    if isinstance(target, Professional) and is_blocked(target.id, access.record):
        return deny("blocked")
    return allow("granted")


def declare_authorization(access: Access) -> Decision:
    """May this professional declare, at the point of care, that the patient present authorized
    them? Any professional, unless excluded by law or blocked by the patient (a block cannot be
    bypassed by declaring consent), on an active DMP, in normal access."""
    actor = access.actor
    if not isinstance(actor, ProfessionalActor):
        return refuse_actor(actor, "professional-only")
    refused = first_refusal(professional_barred(actor, access.record), not_active(access.record))
    if refused is not None:
        return refused
    if access.mode is not AccessMode.NORMAL:
        return deny("read-only-mode")
    return allow("declared")


def manage_authorizations(access: Access) -> Decision:
    """May this person revoke authorizations, block or unblock a professional, or oppose the
    emergency and SAMU accesses? The patient or a legal representative, on an active DMP."""
    return as_holder(access, open_for_writing)


def designate_medecin_traitant(access: Access, candidate: Professional) -> Decision:
    """May this person make this professional the patient's médecin traitant?

    The candidate must be a médecin still practising, not excluded by law (an occupational
    physician, or attached only to excluded organizations), and not blocked by the patient; the
    DMP must be active. The patient or a legal representative designates, or changes, the
    médecin traitant. At the point of care a médecin may declare himself médecin traitant, with
    the patient's agreement, if he may already open the DMP normally and only while the DMP has
    none: replacing a designated médecin traitant is the patient's act alone, so that no médecin
    can take over the wider sight that comes with it. A professional excluded by law who asks is
    told so first.
    """
    refused = first_refusal(refuse_excluded(access.actor), _candidate_refused(candidate, access))
    if refused is not None:
        return refused
    actor = access.actor
    if not isinstance(actor, ProfessionalActor):
        opened = as_holder(access, open_for_writing)
        return allow("designated") if opened else opened
    if actor.professional_id != candidate.id:
        return deny("self-designation-only")
    opened = open_for_writing(access)
    if not opened:
        return opened
    current = access.record.medecin_traitant_id
    if current is not None and current != candidate.id:
        return deny("medecin-traitant-designated")
    return allow("declared-medecin-traitant")


def _target_excluded(target: Professional | Establishment) -> bool:
    if isinstance(target, Professional):
        return is_excluded_professional(target)
    return target.excluded


def _candidate_refused(candidate: Professional, access: Access) -> Decision | None:
    if is_excluded_professional(candidate):
        return deny("excluded-actor")
    if candidate.profession != MEDECIN:
        return deny("not-a-medecin")
    if not candidate.active:
        return deny("inactive")
    if is_blocked(candidate.id, access.record):
        return deny("blocked")
    return not_active(access.record)

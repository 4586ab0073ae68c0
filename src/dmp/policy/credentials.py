"""Who may hold credentials (a bearer token, a login) to act as a professional (SPEC §1, §6)."""

from __future__ import annotations

from dmp.domain.model import Establishment, Professional
from dmp.policy.decision import Decision, allow, deny
from dmp.policy.relations import is_excluded_professional


def may_hold_credentials(
    professional: Professional, establishment: Establishment | None
) -> Decision:
    """May the operator issue credentials to this professional, acting for this establishment if
    one is given? The law keeps some out entirely, so they get no account at all:

    - never an occupational physician;
    - never a professional attached only to excluded organizations (insurer, mutuelle, bank,
      employer, occupational health), not even to act "for no establishment";
    - never for an excluded establishment, even to a professional who also works elsewhere.

    Otherwise only to a professional still practising, and only for an establishment they belong
    to; or on their own, for one practising alone or with a care establishment among theirs.
    The same question is asked again on every request, so a credential stops working as soon as
    the answer changes.
    """
    if is_excluded_professional(professional):
        return deny("excluded-actor")
    if establishment is not None and not may_act_for(establishment):
        return deny("excluded-actor")
    if not professional.active:
        return deny("inactive")
    if establishment is not None and establishment.id not in professional.establishment_ids:
        return deny("not-a-member")
    return allow("credentials")


def may_act_for(establishment: Establishment) -> Decision:
    """May professionals act for this establishment in the DMP (hold credentials for it, be
    covered by its authorizations, sign documents in its name)? Never for an insurer, a
    mutuelle, a bank, an employer or an occupational health service: the law keeps them out, so
    whoever acts for one never gets in, whatever else they do."""
    return deny("excluded-actor") if establishment.excluded else allow("care-establishment")

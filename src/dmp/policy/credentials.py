"""Who may hold credentials (a bearer token, a login) to act as a professional (SPEC §1, §6)."""

from __future__ import annotations

from dmp.domain.model import Establishment, Professional
from dmp.policy.decision import Decision, allow, deny


def may_hold_credentials(
    professional: Professional, establishment: Establishment | None
) -> Decision:
    """May the operator issue credentials to this professional, acting for this establishment if
    one is given? Never to an occupational physician, nor for an excluded establishment (insurer,
    mutuelle, bank, employer, occupational health): the law keeps them out, so they get no account
    at all. Only to a professional still practising, and only for an establishment they belong to.
    """
    if professional.occupational_health:
        return deny("excluded-actor")
    if establishment is not None and establishment.excluded:
        return deny("excluded-actor")
    if not professional.active:
        return deny("inactive")
    if establishment is not None and establishment.id not in professional.establishment_ids:
        return deny("not-a-member")
    return allow("credentials")

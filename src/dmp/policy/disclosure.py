"""What a refused person may learn: why they were refused, or nothing at all (SPEC §3: "not
allowed" and "does not exist" look the same from outside)."""

from __future__ import annotations

from dmp.domain.model import DocumentFacts
from dmp.domain.valuesets import ProfessionMatrix
from dmp.policy.access import Access, open_record, read_document
from dmp.policy.decision import Decision


def told_why(access: Access, refusal: Decision, at_point_of_care: bool = False) -> bool:
    """Is this refusal told with its reason, or answered as if the DMP did not exist?

    - The law's refusal is always told: whoever acts for an excluded organization is told the law
      keeps them out.
    - At the point of care (creating, reactivating, declaring an authorization or oneself médecin
      traitant), the professional already knows the DMP exists, since the look-up tells every
      professional: they are told why.
    - Otherwise only someone who may open the DMP learns why they may not do this to it.
    """
    if refusal.reason == "excluded-actor" or at_point_of_care:
        return True
    return bool(open_record(access))


def told_why_document(
    access: Access, doc: DocumentFacts, matrix: ProfessionMatrix, refusal: Decision
) -> bool:
    """Is this refusal about a document told with its reason? Only to someone who may read the
    document (a document one may not read is answered as a missing one), and the law's refusal
    always."""
    return refusal.reason == "excluded-actor" or bool(read_document(access, doc, matrix))

"""The access history: who accessed the DMP, when, and to do what (SPEC §5)."""

from __future__ import annotations

from dmp.domain.model import RepresentativeActor
from dmp.policy.access import Access, as_holder, open_record
from dmp.policy.decision import Decision


def read_history(access: Access) -> Decision:
    """May this person read the access history? The patient, or a legal representative of a minor,
    including on a closed DMP."""
    return as_holder(access, open_record)


def sees_history_entry(access: Access, entry_is_secret: bool) -> bool:
    """Does this person, allowed to read the history, see this entry of it? The patient sees
    everything. A legal representative does not see the secret ones: the traces of the minor's
    secret connections and of the documents invisible to legal representatives."""
    return not (entry_is_secret and isinstance(access.actor, RepresentativeActor))

"""The access history: who accessed the DMP, when, and to do what (SPEC §5)."""

from __future__ import annotations

from dmp.domain.model import RepresentativeActor
from dmp.policy.access import Access, as_holder, open_record
from dmp.policy.decision import Decision, deny


def read_history(access: Access) -> Decision:
    """May this person read the access history? The patient, or a legal representative of a minor,
    including on a closed DMP."""
    return as_holder(access, open_record)


def history_entry_visible(access: Access, entry_is_secret: bool) -> Decision:
    """May this person see this entry of the history? The patient sees everything. A legal
    representative does not see the secret ones: the traces of the minor's secret connections and
    of the documents invisible to legal representatives."""
    opened = read_history(access)
    if opened and entry_is_secret and isinstance(access.actor, RepresentativeActor):
        return deny("secret-entry")
    return opened

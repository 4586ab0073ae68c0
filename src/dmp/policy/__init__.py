"""The DMP's access rules, as pure functions: facts in, a decision and its reason out.

No database, clock or request here: the services gather the facts, ask, then act and write the
audit entry. See SPEC §2–3.
"""

from dmp.policy.access import (
    Access,
    document_visible,
    open_for_writing,
    open_record,
    read_document,
    unjustified,
)
from dmp.policy.authorizations import (
    declare_authorization,
    designate_medecin_traitant,
    grant,
    manage_authorizations,
)
from dmp.policy.credentials import may_act_for, may_hold_credentials
from dmp.policy.decision import REASONS, Decision, allow, deny
from dmp.policy.disclosure import told_why, told_why_document
from dmp.policy.documents import DocumentChange, Flags, add_document, change_document, version_flags
from dmp.policy.history import read_history, sees_history_entry
from dmp.policy.jobs import Job, scheduled
from dmp.policy.lifecycle import (
    close_record,
    create_record,
    destroy,
    export_record,
    look_up,
    reactivate_record,
)
from dmp.policy.portal import (
    change_login_factors,
    choose_notices,
    connection_is_secret,
    fresh_step_up,
    sign_in,
)
from dmp.policy.relations import acts_only_for_excluded, is_excluded, refuse_excluded

__all__ = [
    "REASONS",
    "Access",
    "Decision",
    "DocumentChange",
    "Flags",
    "Job",
    "acts_only_for_excluded",
    "add_document",
    "allow",
    "change_document",
    "change_login_factors",
    "choose_notices",
    "close_record",
    "connection_is_secret",
    "create_record",
    "declare_authorization",
    "deny",
    "designate_medecin_traitant",
    "destroy",
    "document_visible",
    "export_record",
    "fresh_step_up",
    "grant",
    "is_excluded",
    "look_up",
    "manage_authorizations",
    "may_act_for",
    "may_hold_credentials",
    "open_for_writing",
    "open_record",
    "reactivate_record",
    "read_document",
    "read_history",
    "refuse_excluded",
    "scheduled",
    "sees_history_entry",
    "sign_in",
    "told_why",
    "told_why_document",
    "unjustified",
    "version_flags",
]

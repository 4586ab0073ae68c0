"""Decisions: a stable reason code, a French message, truthy when allowed."""

from __future__ import annotations

import dataclasses

import pytest

import dmp.policy
from dmp.policy import REASONS, Decision, allow, deny


def test_an_allowed_decision_is_truthy_and_says_why() -> None:
    decision = allow("medecin-traitant")
    assert decision
    assert decision == Decision(allowed=True, reason="medecin-traitant")
    assert decision.message == "Le professionnel est le médecin traitant du patient."


def test_a_refusal_is_falsy_and_says_why_in_french() -> None:
    decision = deny("blocked")
    assert not decision
    assert decision.message == "Le patient a bloqué l'accès de ce professionnel."


def test_the_law_is_quoted_to_whoever_tries_an_excluded_actor() -> None:
    assert "loi" in deny("excluded-actor").message


@pytest.mark.parametrize("reason", ["no-such-reason", ""])
@pytest.mark.parametrize("decide", [allow, deny])
def test_an_unknown_reason_code_is_refused_at_once(decide: object, reason: str) -> None:
    with pytest.raises(ValueError, match="unknown"):
        decide(reason)  # type: ignore[operator]


def test_a_refusal_code_cannot_allow_and_a_ground_cannot_refuse() -> None:
    with pytest.raises(ValueError, match="unknown ground"):
        allow("blocked")
    with pytest.raises(ValueError, match="unknown refusal"):
        deny("authorized")


def test_decisions_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        allow("holder").allowed = False  # type: ignore[misc]


@pytest.mark.parametrize("reason", sorted(REASONS))
def test_every_reason_has_a_french_sentence(reason: str) -> None:
    message = REASONS[reason]
    assert message[0].isupper()
    assert message.endswith(".")


def test_the_package_exports_the_whole_policy() -> None:
    expected = {
        "REASONS", "Access", "Decision", "DocumentChange", "Flags", "Job",
        "acts_only_for_excluded", "add_document", "allow", "change_document",
        "change_login_factors", "choose_notices", "close_record",
        "connection_is_secret", "fresh_step_up", "sign_in",
        "create_record", "declare_authorization", "deny", "designate_medecin_traitant",
        "destroy", "document_visible", "export_record", "grant", "is_excluded", "look_up",
        "manage_authorizations",
        "may_act_for",
        "may_hold_credentials", "open_for_writing", "open_record", "reactivate_record",
        "read_document", "read_history", "refuse_excluded", "scheduled", "sees_history_entry",
        "told_why", "told_why_document", "unjustified", "version_flags",
    }  # fmt: skip
    assert set(dmp.policy.__all__) == expected
    assert all(hasattr(dmp.policy, name) for name in expected)

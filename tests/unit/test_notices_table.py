"""The table of notices (data/notices.yaml) and the rule a message follows when it leaves:
by the channels chosen for its kind; a required one never by none."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from dmp.domain.accounts import Account
from dmp.errors import ConfigurationError
from dmp.services.notices import channels_for, check, chosen, notice_table
from dmp.services.notifications import templates

ALICE = Account(
    id=uuid4(),
    login="ALICE23456",
    password_hash="$argon2id$",
    must_change_password=False,
    kind="patient",
    email_enc=None,
    phone_enc=None,
    notify_email=True,
    notify_sms=True,
    created_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
    failed_logins=0,
    next_login_at=None,
    password_changed_at=None,
    totp_secret_enc=None,
    totp_last_step=None,
    notices=None,
)


def account(notices: dict[str, list[str]] | None = None, email=True, sms=True) -> Account:
    stored = json.dumps(notices) if notices is not None else None
    return replace(ALICE, notices=stored, notify_email=email, notify_sms=sms)


BOTH = {"email", "sms"}


def test_every_queued_message_is_in_one_place():
    table = notice_table()
    queued = {name for name, t in templates().items() if not t.immediate}
    listed = [n for k in table.kinds.values() for n in k.templates]
    listed += [*table.always, *table.professionals]
    assert sorted(listed) == sorted(queued)
    assert {k.key for k in table.kinds.values() if k.required} == {
        "emergency",
        "declared_authorization",
        "medecin_traitant",
        "login_factors",
    }


def test_a_table_that_forgets_a_message_or_a_reason_is_refused():
    table = notice_table()
    emergency = table.kinds["emergency"]
    without = {k: v for k, v in table.kinds.items() if k != "closure"}
    with pytest.raises(ConfigurationError, match="record_closed"):
        check(replace(table, kinds=without))
    silent = {**table.kinds, "emergency": replace(emergency, why="")}
    with pytest.raises(ConfigurationError, match="emergency"):
        check(replace(table, kinds=silent))


@pytest.mark.parametrize(
    ("notices", "template", "registered", "expected"),
    [
        (None, "document_added", BOTH, BOTH),  # nothing chosen yet: everything
        ({"new_document": []}, "document_added", BOTH, set()),
        ({"new_document": ["sms"]}, "document_added", BOTH, {"sms"}),
        ({"new_document": ["sms"]}, "document_added", {"email"}, set()),
        ({"emergency": []}, "emergency_access", BOTH, BOTH),  # required: never none
        ({"emergency": ["sms"]}, "emergency_access", BOTH, {"sms"}),
        ({"emergency": ["sms"]}, "emergency_access", {"email"}, {"email"}),  # its phone gone
        ({"new_document": []}, "record_created", BOTH, BOTH),  # before any choice
    ],
)
def test_the_channels_a_message_goes_by(notices, template, registered, expected):
    assert channels_for(account(notices), template, registered) == expected


def test_a_channel_switched_off_stays_off_but_for_a_required_notice():
    off = account({"new_document": ["email"], "emergency": ["email"]}, email=False)
    assert channels_for(off, "document_added", BOTH) == set()
    assert channels_for(off, "emergency_access", BOTH) == {"email"}


def test_unknown_channels_in_the_stored_choices_are_ignored():
    assert chosen(account({"closure": ["email", "pigeon"]}))["closure"] == {"email"}

"""Whoever acts only for an organization the law keeps out of the DMP (a mutuelle, an insurer, a
bank, an employer, occupational health) never gets in, by any path (SPEC §1): registered, and told
why; no token, with or without an establishment; a token issued earlier stops working as soon as
their last care establishment is gone; every refusal is in the audit trail, the directory's (the
system chain) or the DMP's.

Yves is the Mutuelle Atlantique's médecin-conseil and works nowhere else; Mathilde works at the
CHU de Nantes and for the mutuelle.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import delete, event, select, update

from dmp.adapters.db.tables import audit_entries, establishments, professional_establishments
from dmp.domain.model import ContactChannels, Establishment, PatientIdentity, Professional
from dmp.errors import Forbidden, Unauthenticated
from dmp.policy import REASONS
from dmp.services import authorizations, records
from dmp.services.audit import SYSTEM_CHAIN
from dmp.services.directory import (
    NewProfessional,
    add_establishment,
    add_professional,
    authenticate,
    find_professional,
    issue_token,
    professional_actor,
)
from dmp.services.documents import Reading, find_documents
from dmp.services.history import read_history
from tests.personas import ALICE_INS, Cast, consent, ins, populate, rpps

LAW = REASONS["excluded-actor"]


@pytest.fixture
def cast(ctx):
    return populate(ctx)


@pytest.fixture
def yves(ctx, cast) -> Professional:
    return _register(ctx, 20, "Yves", cast.mutuelle.finess).professional


@pytest.fixture
def mathilde(ctx, cast) -> Professional:
    return _register(ctx, 21, "Mathilde", cast.chu.finess, cast.mutuelle.finess).professional


def _register(ctx, n, given, *finess, occupational_health=False):
    new = NewProfessional(
        rpps(n),
        "Conseil",
        given,
        "10",
        establishment_finess=finess,
        occupational_health=occupational_health,
    )
    return add_professional(ctx, new)


def _change(ctx, statement):
    with ctx.engine.begin() as conn:
        conn.execute(statement)


def _leave(ctx, professional: Professional, establishment: Establishment):
    link = professional_establishments.c
    _change(
        ctx,
        delete(professional_establishments).where(
            link.professional_id == professional.id, link.establishment_id == establishment.id
        ),
    )


def _reclassify_as_excluded(ctx, establishment: Establishment):
    where = establishments.c.id == establishment.id
    _change(ctx, update(establishments).where(where).values(excluded=True))


def _system_entries(ctx, action):
    with ctx.engine.connect() as conn:
        stmt = select(audit_entries).where(
            audit_entries.c.dmp_id == SYSTEM_CHAIN, audit_entries.c.action == action
        )
        rows = conn.execute(stmt.order_by(audit_entries.c.seq)).mappings()
        return [(r["outcome"], r["reason"], r["target_id"]) for r in rows]


def _refused_issue(ctx, professional: Professional, finess: str | None = None) -> str:
    with pytest.raises(Forbidden) as refused:
        issue_token(ctx, professional.rpps, finess=finess)
    return refused.value.message


def _alice_sees(ctx, cast: Cast):
    """What Alice's history (the DMP's chain) shows of Yves and Mathilde, oldest first."""
    entries = read_history(ctx, cast.alice, cast.alice_dmp, limit=200).entries
    return [
        (e.action, e.allowed, e.reason)
        for e in reversed(entries)
        if e.actor_label.endswith(" Conseil")
    ]


# --- registering -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attachments", "occupational_health", "expected"),
    [
        (("mutuelle",), False, "excluded-actor"),
        (("mutuelle", "bank"), False, "excluded-actor"),
        ((), True, "excluded-actor"),
        (("chu", "mutuelle"), True, "excluded-actor"),
        (("chu", "mutuelle"), False, "credentials"),
        ((), False, "credentials"),
    ],
)
def test_registering_says_whether_the_professional_will_ever_get_in(
    ctx, cast, attachments, occupational_health, expected
):
    bank = add_establishment(ctx, "750000015", "Banque du Centre", "bank").establishment
    finess = {"mutuelle": cast.mutuelle.finess, "chu": cast.chu.finess, "bank": bank.finess}
    registered = _register(
        ctx, 22, "Inès", *(finess[a] for a in attachments), occupational_health=occupational_health
    )
    assert registered.credentials.reason == expected
    if expected == "excluded-actor":
        assert registered.credentials.message == LAW
    # The directory reads the same fact back, and the registration's audit entry keeps the reason.
    stored = find_professional(ctx, rpps(22))
    only_excluded = attachments in {("mutuelle",), ("mutuelle", "bank")}
    assert stored.attached_only_to_excluded is only_excluded
    assert registered.professional.attached_only_to_excluded is only_excluded
    assert professional_actor(ctx, stored).attached_only_to_excluded is only_excluded
    kept = "10" if expected == "credentials" else expected
    assert _system_entries(ctx, "directory.professional.add")[-1] == ("allowed", kept, rpps(22))


def test_registering_an_excluded_establishment_says_its_staff_never_get_in(ctx, cast):
    bank = add_establishment(ctx, "750000015", "Banque du Centre", "bank")
    assert (bank.acting_for.allowed, bank.acting_for.message) == (False, LAW)
    clinic = add_establishment(ctx, "440000313", "Clinique Jules Verne", "clinic")
    assert clinic.acting_for.reason == "care-establishment"
    entries = _system_entries(ctx, "directory.establishment.add")
    assert entries[-2:] == [
        ("allowed", "excluded-actor", "750000015"),
        ("allowed", "clinic", "440000313"),
    ]
    assert ("allowed", "excluded-actor", cast.mutuelle.finess) in entries


# --- tokens ----------------------------------------------------------------------------------


def test_a_medecin_attached_only_to_a_mutuelle_gets_no_token_by_any_path(ctx, cast, yves):
    # Without --finess (the attack), for the mutuelle, or for a hospital he does not work for.
    for finess in (None, cast.mutuelle.finess, cast.chu.finess):
        assert _refused_issue(ctx, yves, finess) == LAW
    assert (
        _system_entries(ctx, "directory.token.issue")
        == [("denied", "excluded-actor", yves.rpps)] * 3
    )


def test_a_professional_of_a_hospital_and_a_mutuelle_acts_for_the_hospital_or_alone(
    ctx, cast, mathilde
):
    for_chu = authenticate(ctx, issue_token(ctx, mathilde.rpps, finess=cast.chu.finess).token)
    alone = authenticate(ctx, issue_token(ctx, mathilde.rpps).token)
    assert (for_chu.establishment_id, for_chu.attached_only_to_excluded) == (cast.chu.id, False)
    assert (alone.establishment_id, alone.attached_only_to_excluded) == (None, False)
    assert _refused_issue(ctx, mathilde, cast.mutuelle.finess) == LAW
    assert _system_entries(ctx, "directory.token.issue") == [
        ("allowed", "credentials", mathilde.rpps),
        ("allowed", "credentials", mathilde.rpps),
        ("denied", "excluded-actor", mathilde.rpps),
    ]
    # Acting for the hospital, then for none: her only other attachment is the mutuelle, but the
    # hospital is still hers, so she is a professional like any other.
    authorizations.declare_authorization(ctx, for_chu, cast.alice_dmp)
    assert find_documents(ctx, Reading(alone), cast.alice_dmp) == []
    # Acting for the mutuelle, by whatever path the identity was made: refused, in Alice's trail.
    for_mutuelle = professional_actor(ctx, mathilde, cast.mutuelle)
    with pytest.raises(Forbidden):
        authorizations.declare_authorization(ctx, for_mutuelle, cast.alice_dmp)
    assert _alice_sees(ctx, cast) == [
        ("authorization.declare", True, "declared"),
        ("document.search", True, "authorized"),
        ("authorization.declare", False, "excluded-actor"),
    ]


@pytest.mark.parametrize("change", ["leaves the hospital", "hospital reclassified"])
def test_tokens_stop_working_once_every_attachment_is_excluded(ctx, cast, mathilde, change):
    alone = issue_token(ctx, mathilde.rpps).token
    for_chu = issue_token(ctx, mathilde.rpps, finess=cast.chu.finess).token
    assert authenticate(ctx, alone).professional_id == mathilde.id
    assert authenticate(ctx, for_chu).establishment_id == cast.chu.id
    if change == "leaves the hospital":
        _leave(ctx, mathilde, cast.chu)
    else:
        _reclassify_as_excluded(ctx, cast.chu)
    for token in (alone, for_chu):
        with pytest.raises(Unauthenticated):
            authenticate(ctx, token)
    assert find_professional(ctx, mathilde.rpps).attached_only_to_excluded
    # And no new one: refused, and audited with the law's reason.
    assert _refused_issue(ctx, mathilde) == LAW
    assert _system_entries(ctx, "directory.token.issue")[-1] == (
        "denied",
        "excluded-actor",
        mathilde.rpps,
    )


def test_a_token_without_establishment_of_a_liberal_professional_still_works(ctx, cast):
    """No attachment at all is liberal practice, not exclusion."""
    bruno = cast.professionals["bruno"]
    assert not find_professional(ctx, bruno.rpps).establishment_ids
    actor = authenticate(ctx, issue_token(ctx, bruno.rpps).token)
    assert not actor.attached_only_to_excluded


def test_authentication_reads_the_attachments_in_its_one_query(ctx, cast, mathilde):
    """The consult path stays one round trip: the attachments are an EXISTS in the query."""
    token = issue_token(ctx, mathilde.rpps).token
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(ctx.engine, "before_cursor_execute", count)
    try:
        authenticate(ctx, token)
        allowed = len(statements)
        _leave(ctx, mathilde, cast.chu)
        statements.clear()
        with pytest.raises(Unauthenticated):
            authenticate(ctx, token)
    finally:
        event.remove(ctx.engine, "before_cursor_execute", count)
    assert (allowed, len(statements)) == (1, 1), statements


# --- the DMP ---------------------------------------------------------------------------------


def test_the_patient_cannot_authorize_a_medecin_of_a_mutuelle(ctx, cast, yves):
    with pytest.raises(Forbidden) as refused:
        authorizations.authorize(ctx, cast.alice, cast.alice_dmp, find_professional(ctx, yves.rpps))
    assert refused.value.message == LAW
    [last, *_] = read_history(ctx, cast.alice, cast.alice_dmp, limit=200).entries
    assert (last.action, last.allowed, last.reason, last.target_id) == (
        "authorization.grant",
        False,
        "excluded-actor",
        str(yves.id),
    )


def test_acting_for_no_establishment_opens_nothing_even_authorized_before(ctx, cast, mathilde):
    """Authorized while she still worked at the hospital; once the mutuelle is all she has left,
    acting for no establishment opens nothing, and each refusal is in Alice's trail."""
    authorizations.authorize(ctx, cast.alice, cast.alice_dmp, mathilde)
    _leave(ctx, mathilde, cast.chu)
    actor = professional_actor(ctx, find_professional(ctx, mathilde.rpps))
    assert actor.attached_only_to_excluded
    with pytest.raises(Forbidden):
        records.lookup(ctx, actor, ALICE_INS)
    with pytest.raises(Forbidden, match="loi"):  # the law's refusal is told, DMP or not
        find_documents(ctx, Reading(actor), cast.alice_dmp)
    with pytest.raises(Forbidden):
        authorizations.declare_authorization(ctx, actor, cast.alice_dmp)
    assert _alice_sees(ctx, cast) == [
        ("record.lookup", False, "excluded-actor"),
        ("document.search", False, "excluded-actor"),
        ("authorization.declare", False, "excluded-actor"),
    ]
    # Nor may she create a DMP: refused, in the system chain (there is no DMP to write to).
    newcomer = ins("1700175123457")
    with pytest.raises(Forbidden):
        records.create_record(
            ctx,
            actor,
            ins=newcomer,
            identity=PatientIdentity("Martin", "Paul", date(1970, 1, 17), "male"),
            contacts=ContactChannels(email="paul@example.org"),
            consent=consent(ctx),
        )
    index = ctx.blind_index(newcomer)  # the INS is named by its blind index, never in clear
    assert _system_entries(ctx, "record.create") == [("denied", "excluded-actor", index)]

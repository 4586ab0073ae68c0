"""Who gets in: authorizations, declarations, blocks, the médecin traitant, emergencies, and
the legally excluded — with the notifications that follow."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from dmp.adapters.db.tables import outbox
from dmp.domain.model import AccessMode
from dmp.errors import Conflict, Forbidden, InvalidInput, NotFound
from dmp.services import authorizations as auth
from dmp.services.directory import issue_token
from dmp.services.documents import Reading, find_documents
from dmp.services.records import close_record, lookup
from tests.personas import ALICE_INS, fresh, populate


@pytest.fixture
def cast(ctx):
    return populate(ctx)


def _opens(ctx, reading, dmp_id) -> bool:
    try:
        find_documents(ctx, reading, dmp_id)
    except (NotFound, Forbidden, InvalidInput):
        return False
    return True


def _notices(ctx, template):
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(outbox).where(outbox.c.template == template)).mappings().all()
    return [(r["recipient_id"], json.loads(r["params"])) for r in rows]


def test_excluded_actors_can_never_be_granted(ctx, cast):
    elise = cast.professionals["elise"]
    with pytest.raises(Forbidden, match="loi"):
        auth.authorize(ctx, cast.alice, cast.alice_dmp, elise)
    with pytest.raises(Forbidden, match="loi"):
        auth.authorize(ctx, cast.alice, cast.alice_dmp, cast.mutuelle)
    with pytest.raises(Forbidden, match="loi"):
        auth.designate_medecin_traitant(ctx, cast.alice, cast.alice_dmp, elise.id)
    for mode, why in ((AccessMode.NORMAL, None), (AccessMode.EMERGENCY, "Urgence vitale")):
        assert not _opens(ctx, Reading(cast.elise, mode, why), cast.alice_dmp)
    with pytest.raises(Forbidden):
        auth.declare_authorization(ctx, cast.elise, cast.alice_dmp)
    with pytest.raises(Forbidden, match="loi"):
        issue_token(ctx, elise.rpps)
    with pytest.raises(Forbidden, match="loi"):
        issue_token(ctx, cast.professionals["pauline"].rpps, finess=cast.mutuelle.finess)


def test_revoke_and_establishment_authorization(ctx, cast):
    assert _opens(ctx, Reading(cast.chloe), cast.alice_dmp)
    auth.revoke(ctx, cast.alice, cast.alice_dmp, "professional", cast.chloe.professional_id)
    assert not _opens(ctx, Reading(cast.chloe), cast.alice_dmp)
    assert not _opens(ctx, Reading(cast.hugo), cast.alice_dmp)
    auth.authorize(ctx, cast.alice, cast.alice_dmp, cast.chu)
    assert _opens(ctx, Reading(cast.hugo), cast.alice_dmp)  # the CHU's care team
    with pytest.raises(NotFound):
        auth.revoke(ctx, cast.alice, cast.alice_dmp, "professional", cast.chloe.professional_id)
    with pytest.raises(NotFound):  # a professional cannot manage the patient's choices
        auth.revoke(ctx, cast.damien, cast.alice_dmp, "establishment", cast.chu.id)


def test_blocked_professional_cannot_get_in_by_any_path(ctx, cast):
    auth.block(ctx, cast.alice, cast.alice_dmp, cast.chloe.professional_id)
    assert not _opens(ctx, Reading(cast.chloe), cast.alice_dmp)
    assert not _opens(ctx, Reading(cast.chloe, AccessMode.EMERGENCY, "Malaise"), cast.alice_dmp)
    with pytest.raises(Forbidden):
        auth.declare_authorization(ctx, cast.chloe, cast.alice_dmp)
    with pytest.raises(Forbidden):
        auth.authorize(ctx, cast.alice, cast.alice_dmp, cast.professionals["chloe"])
    auth.unblock(ctx, cast.alice, cast.alice_dmp, cast.chloe.professional_id)
    assert not _opens(ctx, Reading(cast.chloe), cast.alice_dmp)  # the block took the grant away
    auth.declare_authorization(ctx, cast.chloe, cast.alice_dmp)
    assert _opens(ctx, Reading(cast.chloe), cast.alice_dmp)


def test_blocking_the_medecin_traitant_removes_the_designation(ctx, cast):
    auth.block(ctx, cast.alice, cast.alice_dmp, cast.bruno.professional_id)
    assert not _opens(ctx, Reading(cast.bruno), cast.alice_dmp)
    assert not lookup(ctx, cast.damien, ALICE_INS).has_medecin_traitant


def test_declaration_notifies_the_patient(ctx, cast):
    auth.declare_authorization(ctx, cast.damien, cast.alice_dmp)
    [(recipient, params)] = _notices(ctx, "authorization_declared")
    assert recipient == cast.alice.account_id
    assert params["professional"].startswith("Damien Petit")
    assert _opens(ctx, Reading(cast.damien), cast.alice_dmp)


def test_medecin_traitant_rules(ctx, cast):
    with pytest.raises(Forbidden, match="médecin"):
        auth.designate_medecin_traitant(ctx, cast.alice, cast.alice_dmp, cast.chloe.professional_id)
    with pytest.raises(Forbidden, match="autorisé"):  # a médecin Alice never authorized
        auth.designate_medecin_traitant(
            ctx, cast.damien, cast.alice_dmp, cast.damien.professional_id
        )
    auth.declare_authorization(ctx, cast.damien, cast.alice_dmp)  # at the point of care
    with pytest.raises(Conflict, match="seul le patient"):  # Alice has one: Bruno
        auth.designate_medecin_traitant(
            ctx, cast.damien, cast.alice_dmp, cast.damien.professional_id
        )
    assert not lookup(ctx, cast.damien, ALICE_INS).is_medecin_traitant
    with pytest.raises(Forbidden):  # nobody designates someone else in the patient's place
        auth.designate_medecin_traitant(
            ctx, cast.damien, cast.alice_dmp, cast.bruno.professional_id
        )
    auth.designate_medecin_traitant(ctx, cast.alice, cast.alice_dmp, cast.damien.professional_id)
    assert lookup(ctx, cast.damien, ALICE_INS).is_medecin_traitant


def test_emergency_access(ctx, cast):
    assert not _opens(ctx, Reading(cast.damien, AccessMode.EMERGENCY, "  "), cast.alice_dmp)
    assert _opens(
        ctx, Reading(cast.damien, AccessMode.EMERGENCY, "Coma, aucun proche"), cast.alice_dmp
    )
    assert _opens(
        ctx, Reading(cast.damien, AccessMode.EMERGENCY, "Toujours en réanimation"), cast.alice_dmp
    )
    patient = [r for r, _ in _notices(ctx, "emergency_access")]
    mt = [r for r, _ in _notices(ctx, "emergency_access_mt")]
    assert patient == [cast.alice.account_id]  # once a day, not once a request
    assert mt == [cast.bruno.professional_id]
    assert not _opens(ctx, Reading(cast.damien, AccessMode.SAMU, "Appel au 15"), cast.alice_dmp)
    assert _opens(ctx, Reading(cast.samuel, AccessMode.SAMU, "Appel au 15"), cast.alice_dmp)
    auth.set_oppositions(ctx, cast.alice, cast.alice_dmp, emergency=True)
    assert not _opens(ctx, Reading(cast.damien, AccessMode.EMERGENCY, "Coma"), cast.alice_dmp)
    assert _opens(ctx, Reading(cast.samuel, AccessMode.SAMU, "Appel au 15"), cast.alice_dmp)
    auth.set_oppositions(ctx, cast.alice, cast.alice_dmp, samu=True)
    assert not _opens(ctx, Reading(cast.samuel, AccessMode.SAMU, "Appel au 15"), cast.alice_dmp)


def test_first_access_by_a_new_professional_is_notified_once(ctx, cast):
    find_documents(ctx, Reading(cast.chloe), cast.alice_dmp)
    find_documents(ctx, Reading(cast.chloe), cast.alice_dmp)
    chloe = [
        p for _, p in _notices(ctx, "new_professional") if p["professional"].startswith("Chloé")
    ]
    assert len(chloe) == 1


def test_a_first_access_recorded_twice_is_recorded_once(ctx, cast):
    """Two first reads at once both find no first access: the second to record it adds nothing,
    says so, and fails nothing (it was a unique violation, a 500, under load)."""
    chloe = cast.chloe.professional_id
    with ctx.uow() as uow:
        assert uow.records.add_accessor(cast.alice_dmp, chloe, ctx.now())
        assert not uow.records.add_accessor(cast.alice_dmp, chloe, ctx.now())
        uow.commit()
    with ctx.uow() as uow:
        assert not uow.records.add_accessor(cast.alice_dmp, chloe, ctx.now())
        seen = uow.records.first_access(cast.alice_dmp, chloe)
    assert seen is not None


def test_first_reads_at_once_tell_the_patient_once(ctx, cast):
    """Eight first reads of one DMP by one professional, side by side (PostgreSQL runs them
    concurrently; SQLite's write lock, one after the other): every one answered, one notice."""
    start = threading.Barrier(8)

    def read() -> int:
        start.wait()
        return len(find_documents(ctx, Reading(cast.chloe), cast.alice_dmp))

    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda _: read(), range(8)))
    assert len(set(found)) == 1
    chloe = [
        p for _, p in _notices(ctx, "new_professional") if p["professional"].startswith("Chloé")
    ]
    assert len(chloe) == 1


def test_the_access_choices(ctx, cast):
    choices = auth.access_choices(ctx, cast.alice, cast.alice_dmp)
    assert {(g.subject.name, g.subject.what, g.source) for g in choices.authorizations} == {
        ("Bruno Martin", "Médecin, Médecine générale", "creator"),
        ("Chloé Bernard", "Infirmier", "patient"),
        ("Pauline Leroy", "Pharmacien", "patient"),
    }
    assert choices.medecin_traitant is not None
    assert choices.medecin_traitant.name == "Bruno Martin"
    assert (choices.blocked, choices.oppose_emergency, choices.oppose_samu) == ([], False, False)
    assert (choices.patient_name, choices.may_change) == ("Alice Dupont", True)
    auth.authorize(ctx, cast.alice, cast.alice_dmp, cast.chu)
    auth.block(ctx, cast.alice, cast.alice_dmp, cast.damien.professional_id)
    auth.set_oppositions(ctx, cast.alice, cast.alice_dmp, samu=True)
    choices = auth.access_choices(ctx, cast.alice, cast.alice_dmp)
    chu = [g.subject for g in choices.authorizations if g.subject.kind == "establishment"]
    assert [(s.name, s.what, s.identifier) for s in chu] == [
        ("CHU de Nantes", "Centre hospitalier", "440000289")
    ]
    assert [b.professional.name for b in choices.blocked] == ["Damien Petit"]
    assert (choices.oppose_emergency, choices.oppose_samu) == (False, True)
    with pytest.raises(Forbidden):  # Bruno may open the DMP: he is told it is the patient's
        auth.access_choices(ctx, cast.bruno, cast.alice_dmp)
    with pytest.raises(NotFound):  # Damien may not: as if there were no DMP
        auth.access_choices(ctx, cast.damien, cast.alice_dmp)


def test_the_access_choices_of_a_closed_dmp_are_read_not_changed(ctx, cast):
    close_record(ctx, fresh(ctx, cast.alice), cast.alice_dmp, "Je n'en veux plus")
    choices = auth.access_choices(ctx, cast.alice, cast.alice_dmp)
    assert (choices.state.value, choices.may_change) == ("closed", False)
    assert len(choices.authorizations) == 3
    with pytest.raises(Conflict, match="fermé"):
        auth.set_oppositions(ctx, cast.alice, cast.alice_dmp, emergency=True)


def test_a_listed_subject_is_authorized_by_its_kind_and_id(ctx, cast):
    auth.authorize_listed(ctx, cast.alice, cast.alice_dmp, "establishment", cast.chu.id)
    assert _opens(ctx, Reading(cast.hugo), cast.alice_dmp)
    with pytest.raises(Forbidden, match="loi"):
        auth.authorize_listed(ctx, cast.alice, cast.alice_dmp, "establishment", cast.mutuelle.id)
    with pytest.raises(NotFound):
        auth.authorize_listed(ctx, cast.alice, cast.alice_dmp, "professional", cast.chu.id)
    with pytest.raises(InvalidInput):
        auth.authorize_listed(ctx, cast.alice, cast.alice_dmp, "record", cast.chu.id)

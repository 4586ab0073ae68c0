"""Who gets in: authorizations, declarations, blocks, the médecin traitant, emergencies, and
the legally excluded — with the notifications that follow."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from dmp.adapters.db.tables import outbox
from dmp.domain.model import AccessMode
from dmp.errors import Conflict, Forbidden, InvalidInput, NotFound
from dmp.services import authorizations as auth
from dmp.services.directory import issue_token
from dmp.services.documents import Reading, find_documents
from dmp.services.records import lookup
from tests.personas import ALICE_INS, populate


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


def test_authorization_list(ctx, cast):
    views = auth.list_authorizations(ctx, cast.alice, cast.alice_dmp)
    assert {(v.label, v.source) for v in views} == {
        ("Bruno Martin", "creator"),
        ("Chloé Bernard", "patient"),
        ("Pauline Leroy", "patient"),
    }
    with pytest.raises(Forbidden):  # Bruno may open the DMP: he is told it is the patient's
        auth.list_authorizations(ctx, cast.bruno, cast.alice_dmp)
    with pytest.raises(NotFound):  # Damien may not: as if there were no DMP
        auth.list_authorizations(ctx, cast.damien, cast.alice_dmp)

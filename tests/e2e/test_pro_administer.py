"""The professional portal administers a DMP at the patient's request, over HTTP on both
backends: closing it with a reason, reactivating it with the brochure and the consent again,
declaring oneself médecin traitant while the DMP has none; and the refusals — not authorized,
blocked, excluded, a médecin traitant already designated, a missing reason or consent, a
forged form."""

from __future__ import annotations

from html import unescape

from sqlalchemy import select

from dmp.adapters.db.tables import audit_entries, records
from dmp.services import authorizations
from dmp.services import records as record_service
from dmp.services.context import Context
from tests.personas import ALICE_INS, Cast


def _state(ctx: Context, cast: Cast) -> tuple[str, object]:
    with ctx.engine.connect() as conn:
        row = conn.execute(
            select(records.c.state, records.c.medecin_traitant_id).where(
                records.c.dmp_id == cast.alice_dmp
            )
        ).one()
    return row[0], row[1]


def _denied(ctx: Context, cast: Cast, action: str) -> list[str]:
    with ctx.engine.connect() as conn:
        stmt = select(audit_entries.c.reason).where(
            audit_entries.c.dmp_id == cast.alice_dmp,
            audit_entries.c.action == action,
            audit_entries.c.outcome == "denied",
        )
        return list(conn.execute(stmt).scalars())


def test_close_then_reactivate(ctx: Context, pro_browser, cast: Cast) -> None:
    browser = pro_browser("chloe")
    form = browser.get(f"/pro/dmp/{cast.alice_dmp}/fermer")
    assert form.status_code == 200
    missing = browser.post(f"/pro/dmp/{cast.alice_dmp}/fermer", {"motif": "  "})
    assert missing.status_code == 400
    assert "motif" in unescape(missing.text)
    assert _state(ctx, cast)[0] == "active"
    closed = browser.post(f"/pro/dmp/{cast.alice_dmp}/fermer", {"motif": "Déménagement"})
    assert closed.status_code == 303
    assert "fermé" in unescape(browser.follow(closed).text)
    assert _state(ctx, cast)[0] == "closed"
    assert browser.get(f"/pro/dmp/{cast.alice_dmp}").status_code == 404
    found = browser.get(f"/pro/patient?ins={ALICE_INS.value}")
    assert f"/pro/patient/reactiver?ins={ALICE_INS.value}" in found.text
    page = browser.get(f"/pro/patient/reactiver?ins={ALICE_INS.value}")
    assert ctx.brochure.title in unescape(page.text)  # the brochure shown again
    fields = {"ins": ALICE_INS.value, "brochure": ctx.brochure.version, "informe": "oui"}
    no_consent = browser.post("/pro/patient/reactiver", fields)
    assert no_consent.status_code == 400
    assert _state(ctx, cast)[0] == "closed"
    again = browser.post("/pro/patient/reactiver", {**fields, "consentement": "oui"})
    assert again.status_code == 303
    assert browser.follow(again).status_code == 200
    assert _state(ctx, cast)[0] == "active"


def test_someone_not_authorized_or_blocked_cannot_close(
    ctx: Context, pro_browser, cast: Cast
) -> None:
    damien = pro_browser("damien")
    damien.get(f"/pro/dmp/{cast.alice_dmp}/fermer")
    refused = damien.post(f"/pro/dmp/{cast.alice_dmp}/fermer", {"motif": "À sa demande"})
    assert refused.status_code == 404
    authorizations.block(ctx, cast.alice, cast.alice_dmp, cast.chloe.professional_id)
    chloe = pro_browser("chloe")
    chloe.get(f"/pro/dmp/{cast.alice_dmp}/fermer")
    blocked = chloe.post(f"/pro/dmp/{cast.alice_dmp}/fermer", {"motif": "À sa demande"})
    assert blocked.status_code in (403, 404)
    assert _state(ctx, cast)[0] == "active"
    assert len(_denied(ctx, cast, "record.close")) == 2


def test_a_blocked_professional_cannot_reactivate(ctx: Context, pro_browser, cast: Cast) -> None:
    record_service.close_record(ctx, cast.bruno, cast.alice_dmp, "À sa demande")
    authorizations_blocked = cast.damien.professional_id
    with ctx.uow() as uow:  # the block stays while the DMP is closed
        uow.records.block(cast.alice_dmp, authorizations_blocked, ctx.now())
        uow.commit()
    damien = pro_browser("damien")
    damien.get(f"/pro/patient/reactiver?ins={ALICE_INS.value}")
    fields = {
        "ins": ALICE_INS.value,
        "brochure": ctx.brochure.version,
        "informe": "oui",
        "consentement": "oui",
    }
    refused = damien.post("/pro/patient/reactiver", fields)
    assert refused.status_code in (403, 404)
    assert _state(ctx, cast)[0] == "closed"


def test_declare_oneself_medecin_traitant_only_when_there_is_none(
    ctx: Context, pro_browser, cast: Cast
) -> None:
    authorizations.declare_authorization(ctx, cast.damien, cast.alice_dmp)
    damien = pro_browser("damien")
    damien.get(f"/pro/dmp/{cast.alice_dmp}")
    refused = damien.post(f"/pro/dmp/{cast.alice_dmp}/medecin-traitant", {})
    assert refused.status_code == 409  # Bruno is her médecin traitant: only she replaces him
    assert _state(ctx, cast)[1] == cast.bruno.professional_id
    assert "medecin-traitant-designated" in _denied(ctx, cast, "medecin-traitant.declare")
    with ctx.uow() as uow:
        uow.records.update(cast.alice_dmp, medecin_traitant_id=None)
        uow.commit()
    found = damien.get(f"/pro/patient?ins={ALICE_INS.value}")
    assert "Me déclarer médecin traitant" in unescape(found.text)
    declared = damien.post(f"/pro/dmp/{cast.alice_dmp}/medecin-traitant", {})
    assert declared.status_code == 303
    assert _state(ctx, cast)[1] == cast.damien.professional_id


def test_a_nurse_or_someone_not_authorized_cannot_declare_herself_medecin_traitant(
    ctx: Context, pro_browser, cast: Cast
) -> None:
    with ctx.uow() as uow:
        uow.records.update(cast.alice_dmp, medecin_traitant_id=None)
        uow.commit()
    chloe = pro_browser("chloe")  # a nurse, authorized
    chloe.get(f"/pro/dmp/{cast.alice_dmp}")
    assert chloe.post(f"/pro/dmp/{cast.alice_dmp}/medecin-traitant", {}).status_code == 403
    samuel = pro_browser("samuel")  # a médecin with no authorization
    samuel.get("/pro")
    assert samuel.post(f"/pro/dmp/{cast.alice_dmp}/medecin-traitant", {}).status_code in (
        403,
        404,
    )
    assert _state(ctx, cast)[1] is None


def test_the_forms_need_their_csrf_token(ctx: Context, pro_browser, cast: Cast) -> None:
    browser = pro_browser("chloe")
    browser.get(f"/pro/dmp/{cast.alice_dmp}/fermer")
    forged = browser.post(f"/pro/dmp/{cast.alice_dmp}/fermer", {"motif": "x"}, csrf="forged")
    assert forged.status_code == 403
    assert _state(ctx, cast)[0] == "active"
    forged = browser.post(f"/pro/dmp/{cast.alice_dmp}/medecin-traitant", {}, csrf="forged")
    assert forged.status_code == 403

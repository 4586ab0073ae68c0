"""The professional portal: consulting a DMP through the services the API calls — the
documents as this professional may see them, with filters; a document's page, its content and
its download; declaring the patient's authorization; the emergency access with its
justification; and the refusals: not authorized, blocked by the patient, emergency without a
justification or against the patient's opposition, someone else's document, a forged form."""

from __future__ import annotations

from html import unescape

from sqlalchemy import select

from dmp.adapters.db.tables import audit_entries, outbox
from dmp.services import authorizations, submission
from dmp.services.context import Context
from tests.factories import PDF, pdf_submission
from tests.personas import Cast


def _documents(ctx: Context, cast: Cast) -> tuple[str, str]:
    """Alice's consultation report (PDF) and prescription, by Bruno; a document of Léa's."""
    report, _prescription = submission.submit_documents(
        ctx,
        cast.bruno,
        cast.alice_dmp,
        [
            pdf_submission(title="Compte rendu cardiologie"),
            pdf_submission(title="Ordonnance de sortie", type_code="57833-6"),
        ],
    )
    [lea] = submission.submit_documents(ctx, cast.bruno, cast.lea_dmp, [pdf_submission()])
    return str(report.id), str(lea.id)


def test_the_medecin_traitant_reads_the_documents_and_their_content(
    ctx: Context, pro_browser, cast: Cast
) -> None:
    report, _lea = _documents(ctx, cast)
    browser = pro_browser("bruno")
    listed = browser.get(f"/pro/dmp/{cast.alice_dmp}")
    assert listed.status_code == 200
    assert "Compte rendu cardiologie" in listed.text
    assert "Ordonnance de sortie" in listed.text
    shown = browser.get(f"/pro/dmp/{cast.alice_dmp}/documents/{report}")
    assert shown.status_code == 200
    assert f"/pro/dmp/{cast.alice_dmp}/documents/{report}/contenu" in shown.text
    content = browser.get(f"/pro/dmp/{cast.alice_dmp}/documents/{report}/contenu")
    assert content.content == PDF
    assert content.headers["content-type"] == "application/pdf"
    download = browser.get(f"/pro/dmp/{cast.alice_dmp}/documents/{report}/telecharger")
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.content == PDF


def test_the_filters_narrow_the_list(ctx: Context, pro_browser, cast: Cast) -> None:
    _documents(ctx, cast)
    browser = pro_browser("bruno")
    by_type = browser.get(f"/pro/dmp/{cast.alice_dmp}?type=57833-6")
    assert "Ordonnance de sortie" in by_type.text
    assert "Compte rendu cardiologie" not in by_type.text
    by_author = browser.get(f"/pro/dmp/{cast.alice_dmp}?auteur=quelqu%27un")
    assert "Ordonnance de sortie" not in by_author.text
    by_date = browser.get(f"/pro/dmp/{cast.alice_dmp}?du=2027-01-01")
    assert "Compte rendu cardiologie" not in by_date.text
    wrong = browser.get(f"/pro/dmp/{cast.alice_dmp}?classe=inconnue")
    assert wrong.status_code == 400


def test_someone_not_authorized_sees_nothing_and_may_declare(
    ctx: Context, pro_browser, cast: Cast
) -> None:
    _documents(ctx, cast)
    browser = pro_browser("damien")
    refused = browser.get(f"/pro/dmp/{cast.alice_dmp}")
    assert refused.status_code == 404
    assert "Compte rendu cardiologie" not in refused.text
    declared = browser.post(f"/pro/dmp/{cast.alice_dmp}/autorisation", {})
    assert declared.status_code == 303
    listed = browser.follow(declared)
    assert "Compte rendu cardiologie" in listed.text
    with ctx.engine.connect() as conn:
        templates = conn.execute(select(outbox.c.template)).scalars().all()
    assert "authorization_declared" in templates  # the patient is told


def test_a_blocked_professional_cannot_declare(ctx: Context, pro_browser, cast: Cast) -> None:
    authorizations.block(ctx, cast.alice, cast.alice_dmp, cast.damien.professional_id)
    browser = pro_browser("damien")
    browser.get(f"/pro/dmp/{cast.alice_dmp}")
    refused = browser.post(f"/pro/dmp/{cast.alice_dmp}/autorisation", {})
    assert refused.status_code == 403
    assert "bloqué" in unescape(refused.text)
    assert browser.get(f"/pro/dmp/{cast.alice_dmp}").status_code == 404


def test_emergency_access_with_a_justification(ctx: Context, pro_browser, cast: Cast) -> None:
    _documents(ctx, cast)
    browser = pro_browser("damien")
    page = browser.get(f"/pro/dmp/{cast.alice_dmp}")
    assert "médecin traitant seront informés" in unescape(page.text)  # the warning
    asked = browser.post(
        f"/pro/dmp/{cast.alice_dmp}/urgence",
        {"mode": "urgence", "justification": "Patiente inconsciente aux urgences"},
    )
    listed = browser.follow(asked)
    assert listed.status_code == 200
    assert "Compte rendu cardiologie" in listed.text
    assert 'id="mode-urgence"' in listed.text
    with ctx.engine.connect() as conn:
        modes = list(
            conn.execute(
                select(audit_entries.c.mode).where(
                    audit_entries.c.dmp_id == cast.alice_dmp,
                    audit_entries.c.action == "document.search",
                    audit_entries.c.outcome == "allowed",
                )
            ).scalars()
        )
        templates = conn.execute(select(outbox.c.template)).scalars().all()
    assert "emergency" in modes
    assert "emergency_access" in templates


def test_emergency_without_a_justification_is_refused(
    ctx: Context, pro_browser, cast: Cast
) -> None:
    _documents(ctx, cast)
    browser = pro_browser("damien")
    browser.get(f"/pro/dmp/{cast.alice_dmp}")
    refused = browser.post(
        f"/pro/dmp/{cast.alice_dmp}/urgence", {"mode": "urgence", "justification": "   "}
    )
    assert refused.status_code == 400
    assert "justification" in unescape(refused.text)
    assert browser.get(f"/pro/dmp/{cast.alice_dmp}").status_code == 404


def test_emergency_against_the_patients_opposition_is_refused(
    ctx: Context, pro_browser, cast: Cast
) -> None:
    _documents(ctx, cast)
    authorizations.set_oppositions(ctx, cast.alice, cast.alice_dmp, emergency=True)
    browser = pro_browser("damien")
    browser.get(f"/pro/dmp/{cast.alice_dmp}")
    asked = browser.post(
        f"/pro/dmp/{cast.alice_dmp}/urgence",
        {"mode": "urgence", "justification": "Patiente inconsciente"},
    )
    refused = browser.follow(asked)
    assert refused.status_code == 404
    assert "Compte rendu cardiologie" not in refused.text


def test_samu_mode_is_for_regulators_only(ctx: Context, pro_browser, cast: Cast) -> None:
    _documents(ctx, cast)
    damien = pro_browser("damien")
    damien.get(f"/pro/dmp/{cast.alice_dmp}")
    asked = damien.post(
        f"/pro/dmp/{cast.alice_dmp}/urgence", {"mode": "samu", "justification": "Appel au 15"}
    )
    assert damien.follow(asked).status_code == 404
    samuel = pro_browser("samuel")
    samuel.get(f"/pro/dmp/{cast.alice_dmp}")
    asked = samuel.post(
        f"/pro/dmp/{cast.alice_dmp}/urgence", {"mode": "samu", "justification": "Appel au 15"}
    )
    assert "Compte rendu cardiologie" in samuel.follow(asked).text


def test_someone_elses_document_is_not_found(ctx: Context, pro_browser, cast: Cast) -> None:
    _report, lea = _documents(ctx, cast)
    authorizations.declare_authorization(ctx, cast.damien, cast.alice_dmp)
    browser = pro_browser("damien")
    for path in ("", "/contenu", "/telecharger"):
        refused = browser.get(f"/pro/dmp/{cast.alice_dmp}/documents/{lea}{path}")
        assert refused.status_code == 404, path
        assert refused.content != PDF


def test_the_forms_need_their_csrf_token(ctx: Context, pro_browser, cast: Cast) -> None:
    _documents(ctx, cast)
    browser = pro_browser("damien")
    browser.get(f"/pro/dmp/{cast.alice_dmp}")
    declared = browser.post(f"/pro/dmp/{cast.alice_dmp}/autorisation", {}, csrf="forged")
    assert declared.status_code == 403
    emergency = browser.post(
        f"/pro/dmp/{cast.alice_dmp}/urgence",
        {"mode": "urgence", "justification": "Inconsciente"},
        csrf="forged",
    )
    assert emergency.status_code == 403
    assert browser.get(f"/pro/dmp/{cast.alice_dmp}").status_code == 404


def test_a_professional_excluded_since_the_login_is_out_at_the_next_page(
    ctx: Context, pro_browser, cast: Cast
) -> None:
    browser = pro_browser("bruno")
    assert browser.get(f"/pro/dmp/{cast.alice_dmp}").status_code == 200
    with ctx.uow() as uow:
        uow.directory.update_professional(cast.bruno.professional_id, active=False)
        uow.commit()
    refused = browser.get(f"/pro/dmp/{cast.alice_dmp}")
    assert refused.status_code == 403

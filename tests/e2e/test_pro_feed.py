"""The professional portal feeds a DMP, over HTTP against a served app, on both backends: a
document with its metadata and one or more files, masked or hidden from the patient; its
replacement, archiving and deletion by its author; revealing it after the announcement
consultation; and the refusals — not authorized, blocked, in an emergency mode, someone else's
document, replace, delete or reveal by someone who may not, a wrong file, a forged form."""

from __future__ import annotations

import re
from html import unescape
from uuid import UUID

from sqlalchemy import func, select

from dmp.adapters.db.tables import audit_entries, documents
from dmp.domain.model import DocStatus
from dmp.services import authorizations, submission
from dmp.services.context import Context
from dmp.services.gate import Reading
from tests.e2e.pro import pro_upload
from tests.factories import PDF, pdf_submission
from tests.personas import Cast

FIELDS = {"type": "11488-4", "titre": "Compte rendu de consultation", "date": "2026-03-01"}
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 400
_DOC = re.compile(r"/documents/([0-9a-f-]{36})")


def _count(ctx: Context, dmp_id: UUID) -> int:
    with ctx.engine.connect() as conn:
        stmt = select(func.count()).where(documents.c.dmp_id == dmp_id)
        return int(conn.execute(stmt).scalar_one())


def _refusals(ctx: Context, dmp_id: UUID, action: str) -> list[str]:
    with ctx.engine.connect() as conn:
        stmt = select(audit_entries.c.reason).where(
            audit_entries.c.dmp_id == dmp_id,
            audit_entries.c.action == action,
            audit_entries.c.outcome == "denied",
        )
        return list(conn.execute(stmt).scalars())


def _add(browser, dmp_id: UUID, fields: dict[str, str] | None = None, files=None):
    files = files if files is not None else [("cr.pdf", "application/pdf", PDF)]
    return pro_upload(browser, f"/pro/dmp/{dmp_id}/ajouter", fields or FIELDS, files)


def _as_patient(ctx: Context, cast: Cast) -> list[str]:
    from dmp.services import documents as docs

    return [d.metadata.title for d in docs.find_documents(ctx, Reading(cast.alice), cast.alice_dmp)]


def test_the_form_offers_the_professional_types_narrowed_without_script(
    ctx: Context, pro_browser, cast: Cast
) -> None:
    browser = pro_browser("bruno")
    page = browser.get(f"/pro/dmp/{cast.alice_dmp}/ajouter")
    assert page.status_code == 200
    offered = set(re.findall(r'<option value="([^"]+)"', page.text))
    expected = {c for c, t in ctx.valuesets.types.items() if t.class_code != "90"}
    assert offered == expected
    assert "DOCPAT01" not in offered
    assert 'data-progress="progression"' in page.text
    assert " multiple " in page.text
    narrowed = browser.get(f"/pro/dmp/{cast.alice_dmp}/ajouter?filtre=imagerie")
    kept = set(re.findall(r'<option value="([^"]+)"', narrowed.text))
    assert "18748-4" in kept
    assert "11488-4" not in kept
    by_code = browser.get(f"/pro/dmp/{cast.alice_dmp}/ajouter?filtre=57833")
    assert set(re.findall(r'<option value="([^"]+)"', by_code.text)) == {"57833-6"}


def test_a_document_of_two_files_hidden_from_the_patient(
    ctx: Context, pro_browser, cast: Cast
) -> None:
    browser = pro_browser("chloe")
    fields = {**FIELDS, "invisible": "oui", "debut": "2026-02-27", "fin": "2026-03-01"}
    done = _add(
        browser,
        cast.alice_dmp,
        fields,
        [("cr.pdf", "application/pdf", PDF), ("cliche.png", "image/png", PNG)],
    )
    assert done.status_code == 303, done.text
    listed = browser.follow(done)
    assert "Le document est ajouté au DMP." in unescape(listed.text)
    [doc] = _DOC.findall(listed.text)
    shown = browser.get(f"/pro/dmp/{cast.alice_dmp}/documents/{doc}")
    assert "Non visible du patient" in unescape(shown.text)
    assert "partie=1" in shown.text  # the second file is the document's second part
    second = browser.get(f"/pro/dmp/{cast.alice_dmp}/documents/{doc}/telecharger?partie=1")
    assert second.content == PNG
    assert "Compte rendu de consultation" not in _as_patient(ctx, cast)


def test_a_document_masked_from_other_professionals(ctx: Context, pro_browser, cast: Cast) -> None:
    fields = {**FIELDS, "titre": "Suivi confidentiel", "masque": "oui"}
    done = _add(pro_browser("chloe"), cast.alice_dmp, fields)
    assert done.status_code == 303
    authorizations.declare_authorization(ctx, cast.damien, cast.alice_dmp)
    damien = pro_browser("damien")  # a médecin, authorized, neither author nor médecin traitant
    seen = damien.get(f"/pro/dmp/{cast.alice_dmp}")
    assert seen.status_code == 200
    assert "Suivi confidentiel" not in seen.text
    assert _DOC.findall(seen.text) == []
    assert "Suivi confidentiel" in pro_browser("bruno").get(f"/pro/dmp/{cast.alice_dmp}").text
    assert "Suivi confidentiel" in _as_patient(ctx, cast)


def test_a_wrong_file_is_refused_on_the_form_with_nothing_stored(
    ctx: Context, pro_browser, cast: Cast
) -> None:
    browser = pro_browser("bruno")
    before = _count(ctx, cast.alice_dmp)
    lying = _add(browser, cast.alice_dmp, files=[("cr.pdf", "application/pdf", b"MZ" + PDF)])
    assert lying.status_code == 415
    assert "Compte rendu de consultation" in lying.text  # the form kept what was typed
    unknown = _add(browser, cast.alice_dmp, {**FIELDS, "type": "DOCPAT01"})
    assert unknown.status_code in (400, 403)
    no_file = _add(browser, cast.alice_dmp, files=[])
    assert no_file.status_code == 400
    too_many = _add(browser, cast.alice_dmp, files=[("a.pdf", "application/pdf", PDF)] * 6)
    assert too_many.status_code == 400
    assert _count(ctx, cast.alice_dmp) == before


def test_someone_not_authorized_or_blocked_cannot_add(
    ctx: Context, pro_browser, cast: Cast
) -> None:
    before = _count(ctx, cast.alice_dmp)
    damien = pro_browser("damien")
    assert _add(damien, cast.alice_dmp).status_code == 404
    authorizations.declare_authorization(ctx, cast.damien, cast.alice_dmp)
    authorizations.block(ctx, cast.alice, cast.alice_dmp, cast.damien.professional_id)
    assert _add(damien, cast.alice_dmp).status_code in (403, 404)
    elise = pro_browser("chloe")  # authorized; then excluded from the DMP by the patient
    authorizations.block(ctx, cast.alice, cast.alice_dmp, cast.chloe.professional_id)
    assert _add(elise, cast.alice_dmp).status_code in (403, 404)
    assert _count(ctx, cast.alice_dmp) == before
    assert len(_refusals(ctx, cast.alice_dmp, "document.add")) >= 3


def test_an_emergency_access_only_reads(ctx: Context, pro_browser, cast: Cast) -> None:
    browser = pro_browser("damien")
    browser.get(f"/pro/dmp/{cast.alice_dmp}")
    asked = browser.post(
        f"/pro/dmp/{cast.alice_dmp}/urgence",
        {"mode": "urgence", "justification": "Patiente inconsciente"},
    )
    listed = browser.follow(asked)
    assert "Ajouter un document" not in listed.text
    before = _count(ctx, cast.alice_dmp)
    refused = _add(browser, cast.alice_dmp)
    assert refused.status_code == 403
    assert _count(ctx, cast.alice_dmp) == before
    assert "read-only-mode" in _refusals(ctx, cast.alice_dmp, "document.add")


def test_the_forms_need_their_csrf_token(ctx: Context, pro_browser, cast: Cast) -> None:
    browser = pro_browser("bruno")
    before = _count(ctx, cast.alice_dmp)
    forged = pro_upload(
        browser,
        f"/pro/dmp/{cast.alice_dmp}/ajouter",
        FIELDS,
        [("cr.pdf", "application/pdf", PDF)],
        csrf="forged",
    )
    assert forged.status_code == 403
    assert _count(ctx, cast.alice_dmp) == before
    [doc] = submission.submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])
    browser.get(f"/pro/dmp/{cast.alice_dmp}/documents/{doc.id}")
    for action in ("archiver", "supprimer"):
        sent = browser.post(
            f"/pro/dmp/{cast.alice_dmp}/documents/{doc.id}/{action}", {}, csrf="forged"
        )
        assert sent.status_code == 403, action
    assert _status(ctx, cast, doc.id) == DocStatus.CURRENT.value


def _status(ctx: Context, cast: Cast, doc_id: UUID) -> str:
    with ctx.engine.connect() as conn:
        stmt = select(documents.c.status).where(documents.c.id == doc_id)
        return str(conn.execute(stmt).scalar_one())


def test_the_author_replaces_archives_and_deletes(ctx: Context, pro_browser, cast: Cast) -> None:
    [doc] = submission.submit_documents(
        ctx, cast.chloe, cast.alice_dmp, [pdf_submission(title="Pansement J1")]
    )
    browser = pro_browser("chloe")
    page = browser.get(f"/pro/dmp/{cast.alice_dmp}/documents/{doc.id}")
    assert "Remplacer par une nouvelle version" in page.text
    replaced = pro_upload(
        browser,
        f"/pro/dmp/{cast.alice_dmp}/documents/{doc.id}/remplacer",
        {**FIELDS, "titre": "Pansement J1 (corrigé)"},
        [("cr.pdf", "application/pdf", PDF)],
    )
    assert replaced.status_code == 303, replaced.text
    assert _status(ctx, cast, doc.id) == DocStatus.SUPERSEDED.value
    listed = browser.follow(replaced)
    [new] = _DOC.findall(listed.text)
    browser.get(f"/pro/dmp/{cast.alice_dmp}/documents/{new}")
    archived = browser.post(f"/pro/dmp/{cast.alice_dmp}/documents/{new}/archiver", {})
    assert archived.status_code == 303
    assert _status(ctx, cast, UUID(new)) == DocStatus.ARCHIVED.value
    browser.follow(archived)
    deleted = browser.post(f"/pro/dmp/{cast.alice_dmp}/documents/{new}/supprimer", {})
    assert deleted.status_code == 303
    assert _status(ctx, cast, UUID(new)) == DocStatus.DELETED.value
    assert browser.get(f"/pro/dmp/{cast.alice_dmp}/documents/{new}").status_code == 404


def test_someone_not_the_author_may_not_replace_or_delete(
    ctx: Context, pro_browser, cast: Cast
) -> None:
    [doc] = submission.submit_documents(ctx, cast.chloe, cast.alice_dmp, [pdf_submission()])
    browser = pro_browser("bruno")  # the médecin traitant, who reads it, is not its author
    page = browser.get(f"/pro/dmp/{cast.alice_dmp}/documents/{doc.id}")
    assert page.status_code == 200
    assert "Supprimer ce document" not in page.text
    deleted = browser.post(f"/pro/dmp/{cast.alice_dmp}/documents/{doc.id}/supprimer", {})
    assert deleted.status_code == 403
    before = _count(ctx, cast.alice_dmp)
    replaced = pro_upload(
        browser,
        f"/pro/dmp/{cast.alice_dmp}/documents/{doc.id}/remplacer",
        FIELDS,
        [("cr.pdf", "application/pdf", PDF)],
    )
    assert replaced.status_code == 403
    assert _count(ctx, cast.alice_dmp) == before
    assert _status(ctx, cast, doc.id) == DocStatus.CURRENT.value
    assert _refusals(ctx, cast.alice_dmp, "document.delete")


def test_someone_elses_document_is_not_found(ctx: Context, pro_browser, cast: Cast) -> None:
    [lea] = submission.submit_documents(ctx, cast.bruno, cast.lea_dmp, [pdf_submission()])
    browser = pro_browser("bruno")
    for action in ("archiver", "supprimer", "reveler"):
        browser.get(f"/pro/dmp/{cast.alice_dmp}")
        refused = browser.post(f"/pro/dmp/{cast.alice_dmp}/documents/{lea.id}/{action}", {})
        assert refused.status_code == 404, action
    assert _status(ctx, cast, lea.id) == DocStatus.CURRENT.value


def test_reveal_by_the_author_or_the_medecin_traitant_only(
    ctx: Context, pro_browser, cast: Cast
) -> None:
    hidden = pdf_submission(title="Résultat à annoncer", invisible_patient=True)
    [doc] = submission.submit_documents(ctx, cast.chloe, cast.alice_dmp, [hidden])
    [other] = submission.submit_documents(
        ctx, cast.chloe, cast.alice_dmp, [pdf_submission(invisible_patient=True)]
    )
    pauline = pro_browser("pauline")  # authorized, reads it, neither author nor médecin traitant
    pauline.get(f"/pro/dmp/{cast.alice_dmp}")
    refused = pauline.post(f"/pro/dmp/{cast.alice_dmp}/documents/{doc.id}/reveler", {})
    assert refused.status_code in (403, 404)
    assert "Résultat à annoncer" not in _as_patient(ctx, cast)
    assert _refusals(ctx, cast.alice_dmp, "document.reveal")
    chloe = pro_browser("chloe")  # the author
    chloe.get(f"/pro/dmp/{cast.alice_dmp}/documents/{doc.id}")
    assert (
        chloe.post(f"/pro/dmp/{cast.alice_dmp}/documents/{doc.id}/reveler", {}).status_code == 303
    )
    assert "Résultat à annoncer" in _as_patient(ctx, cast)
    bruno = pro_browser("bruno")  # the médecin traitant
    bruno.get(f"/pro/dmp/{cast.alice_dmp}/documents/{other.id}")
    revealed = bruno.post(f"/pro/dmp/{cast.alice_dmp}/documents/{other.id}/reveler", {})
    assert revealed.status_code == 303
    assert len(_as_patient(ctx, cast)) == 2

"""The patient's documents in the portal (SPEC §3.3, §4, §5), over HTTP against a served app,
on both backends: the list and its filters, a document's page, masking, and the attacks (a
forged form, another patient's document, a session after logout, a legal representative)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from dmp.services.documents import find_documents
from dmp.services.gate import Reading
from tests.e2e.portal import Browser
from tests.e2e.portal_documents import add, held, listed, refusals, sign_in_representative
from tests.factories import PDF
from tests.personas import ALICE_INS


def test_the_list_newest_first_with_the_masked_shown_as_masked(alice_browser, ctx, cast, clock):
    first = add(ctx, cast.bruno, cast.alice_dmp, title="Bilan sanguin", type_code="11502-2")
    clock.advance(minutes=1)
    second = add(ctx, cast.chloe, cast.alice_dmp, title="Soins infirmiers", type_code="34874-8")
    clock.advance(minutes=1)
    masked = add(ctx, cast.bruno, cast.alice_dmp, title="Consultation", masked=True)
    page = alice_browser.get("/documents")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert listed(page.text) == [str(masked.id), str(second.id), str(first.id)]
    assert page.text.count("Masqué aux professionnels") == 1
    assert f'action="/documents/{masked.id}/demasquer"' in page.text
    assert f'action="/documents/{first.id}/masquer"' in page.text
    assert "Compte rendu d&#39;examens biologiques" in page.text  # the type's label
    assert '<th scope="col">Document</th>' in page.text


def test_the_filters(alice_browser, ctx, cast, clock):
    lab = add(
        ctx,
        cast.bruno,
        cast.alice_dmp,
        title="Bilan",
        type_code="11502-2",
        creation_time=datetime(2026, 1, 10, 9, tzinfo=UTC),
    )
    care = add(
        ctx,
        cast.chloe,
        cast.alice_dmp,
        title="Pansement",
        type_code="34874-8",
        creation_time=datetime(2026, 2, 20, 9, tzinfo=UTC),
    )
    summary = add(
        ctx,
        cast.bruno,
        cast.alice_dmp,
        title="Synthèse",
        type_code="60591-5",
        creation_time=datetime(2026, 2, 28, 23, 30, tzinfo=UTC),  # 1 March in Paris
    )
    cases = {
        "classe=11": [summary],
        "classe=10": [care, lab],
        "type=34874-8": [care],
        "du=2026-02-01": [summary, care],
        "au=2026-02-28": [care, lab],
        "du=2026-03-01&au=2026-03-01": [summary],
        "auteur=chloe": [care],  # accents and case aside
        "auteur=MARTIN": [summary, lab],
        "classe=10&auteur=martin": [lab],
    }
    for query, expected in cases.items():
        page = alice_browser.get(f"/documents?{query}")
        assert page.status_code == 200, query
        assert listed(page.text) == [str(d.id) for d in expected], query
    for query in ("classe=77", "type=nope", "du=2026-13-01", "du=٢٠٢٦-01-01", "page=0", "page=x"):
        refused = alice_browser.get(f"/documents?{query}")
        assert refused.status_code == 400, query
        assert "invalide" in refused.text or "inconnu" in refused.text, query


def test_the_list_is_paged(alice_browser, ctx, cast, clock):
    added = []
    for n in range(23):
        added.append(add(ctx, cast.bruno, cast.alice_dmp, title=f"Document {n}"))
        clock.advance(seconds=1)
    newest_first = [str(d.id) for d in reversed(added)]
    first = alice_browser.get("/documents?auteur=bruno")
    assert listed(first.text) == newest_first[:20]
    assert "Page 1 sur 2" in first.text
    assert 'href="/documents?auteur=bruno&amp;page=2"' in first.text
    second = alice_browser.get("/documents?auteur=bruno&page=2")
    assert listed(second.text) == newest_first[20:]
    assert 'href="/documents?auteur=bruno&amp;page=1"' in second.text


def test_a_document_page_in_plain_french(alice_browser, ctx, cast):
    doc = add(
        ctx,
        cast.pauline,  # a pharmacist, for the Pharmacie du Port
        cast.alice_dmp,
        title="Délivrance d'ordonnance",
        type_code="60593-1",
        service_start=datetime(2026, 2, 27, 8, tzinfo=UTC),
        service_stop=datetime(2026, 2, 28, 17, tzinfo=UTC),
    )
    page = alice_browser.get(f"/documents/{doc.id}")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    text = page.text
    assert "<h1>Délivrance d&#39;ordonnance</h1>" in text
    assert "<dd>Dispensation médicamenteuse</dd>" in text  # the type
    assert "<dd>Dispensation</dd>" in text  # the class
    assert "1 mars 2026" in text  # the date of the document (in France)
    assert "Pauline Leroy, pharmacien" in text
    assert "<dd>Pharmacie du Port</dd>" in text
    assert "du 27 février 2026 au 28 février 2026" in text
    assert "Visible par les professionnels de santé" in text
    assert f'<iframe class="viewer" src="/documents/{doc.id}/contenu"' in text
    assert f'href="/documents/{doc.id}/telecharger"' in text


def test_a_pdf_is_read_in_a_frame_of_the_portal_only(alice_browser, ctx, cast):
    doc = add(ctx, cast.bruno, cast.alice_dmp, title="Lettre : à lire")
    shown = alice_browser.get(f"/documents/{doc.id}/contenu")
    assert shown.status_code == 200
    assert shown.content == PDF
    assert shown.headers["content-type"] == "application/pdf"
    assert shown.headers["content-disposition"].startswith("inline; ")
    assert shown.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'self'"
    assert shown.headers["x-frame-options"] == "SAMEORIGIN"
    assert shown.headers["cache-control"] == "no-store"
    assert shown.headers["x-content-type-options"] == "nosniff"
    page = alice_browser.get(f"/documents/{doc.id}")
    assert page.headers["x-frame-options"] == "DENY"  # the pages themselves are never framed
    assert "frame-src 'self'" in page.headers["content-security-policy"]


def test_a_download_is_named_after_the_document(alice_browser, ctx, cast):
    doc = add(ctx, cast.bruno, cast.alice_dmp, title="Lettre de l'hôpital : sortie/2026")
    got = alice_browser.get(f"/documents/{doc.id}/telecharger")
    assert got.status_code == 200
    assert got.content == PDF
    assert got.headers["content-length"] == str(len(PDF))
    assert got.headers["content-disposition"] == (
        'attachment; filename="Lettre_de_l_hopital_sortie_2026.pdf"; '
        "filename*=UTF-8''Lettre%20de%20l%27h%C3%B4pital%20%3A%20sortie%2F2026.pdf"
    )
    assert got.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert got.headers["cache-control"] == "no-store"


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84"
    b"\x00\x00\x00\x00IEND\xaeB`\x82" + b"\x00" * 300
)


def test_an_image_inline_and_a_text_as_text(alice_browser, ctx, cast):
    image = add(ctx, cast.bruno, cast.alice_dmp, PNG, "image/png", title="Photo de la plaie")
    page = alice_browser.get(f"/documents/{image.id}")
    assert f'<img class="viewer-image" src="/documents/{image.id}/contenu"' in page.text
    shown = alice_browser.get(f"/documents/{image.id}/contenu")
    assert shown.headers["content-type"] == "image/png"
    assert shown.content == PNG
    words = "Tension : 12/8, poids 61 kg — à revoir ✓".encode()
    text = add(ctx, cast.bruno, cast.alice_dmp, words, "text/plain", title="Mesures")
    page = alice_browser.get(f"/documents/{text.id}")
    assert f'<iframe class="viewer text" src="/documents/{text.id}/contenu"' in page.text
    shown = alice_browser.get(f"/documents/{text.id}/contenu")
    assert shown.headers["content-type"] == "text/plain; charset=utf-8"
    assert shown.content == words
    assert shown.text == words.decode()


def test_mask_then_unmask(alice_browser, ctx, cast):
    doc = add(ctx, cast.bruno, cast.alice_dmp, type_code="11502-2")
    page = alice_browser.get(f"/documents/{doc.id}")
    done = alice_browser.post(f"/documents/{doc.id}/masquer", {"suite": f"/documents/{doc.id}"})
    assert done.status_code == 303
    assert done.headers["location"] == f"/documents/{doc.id}?fait=masque"
    assert _seen_by(ctx, cast.chloe) == set()  # Chloé, authorized, no longer sees it
    page = alice_browser.follow(done)
    assert "Le document est masqué aux professionnels de santé" in page.text
    assert "<strong>Masqué aux professionnels de santé</strong>" in page.text
    done = alice_browser.post(f"/documents/{doc.id}/demasquer", {"suite": "/documents?page=1"})
    assert done.headers["location"] == "/documents?page=1&fait=demasque"
    assert _seen_by(ctx, cast.chloe) == {doc.id}
    elsewhere = alice_browser.post(
        f"/documents/{doc.id}/masquer", {"suite": "https://evil.example/"}
    )
    assert elsewhere.headers["location"] == "/documents?fait=masque"  # never sent elsewhere


def _seen_by(ctx, professional):
    return {d.id for d in find_documents(ctx, Reading(professional), ALICE_INS)}


@pytest.mark.parametrize("token", ["", "forged-token"])
def test_a_form_without_its_csrf_token_changes_nothing(alice_browser, ctx, cast, token):
    doc = add(ctx, cast.bruno, cast.alice_dmp)
    alice_browser.get("/documents")
    before = held(ctx)
    for action in ("masquer", "demasquer"):
        refused = alice_browser.post(f"/documents/{doc.id}/{action}", {}, csrf=token)
        assert refused.status_code == 403
        assert "Le formulaire a expiré" in refused.text
    refused = alice_browser.post("/documents/detruire", {"documents": str(doc.id)}, csrf=token)
    assert refused.status_code == 403
    assert held(ctx).changes(before) == {}


def test_another_patients_document_and_a_forged_id_are_missing_ones(alice_browser, ctx, cast):
    leas = add(ctx, cast.bruno, cast.lea_dmp, title="Vaccins de Léa")
    forged = uuid4()
    missing = alice_browser.get(f"/documents/{forged}")
    assert missing.status_code == 404
    pages = {}
    for ref in (leas.id, forged, "not-an-id", "1234", "%EF%BC%91"):
        for suffix in ("", "/contenu", "/telecharger"):
            answer = alice_browser.get(f"/documents/{ref}{suffix}")
            assert answer.status_code == 404, (ref, suffix)
            pages[(ref, suffix)] = answer.text.replace(alice_browser.csrf(), "")
        alice_browser.get("/documents")
        changed = alice_browser.post(f"/documents/{ref}/masquer", {})
        assert changed.status_code == 404, ref
        pages[(ref, "masquer")] = changed.text.replace(alice_browser.csrf(), "")
    assert len(set(pages.values())) == 1  # all read exactly the same
    assert "Léa" not in missing.text
    # Each refusal is in Alice's history, with its reason; none in Léa's.
    assert refusals(ctx, cast.alice, cast.alice_dmp, leas.id) == [
        ("document.mask", "no-document"),
        ("document.retrieve", "no-document"),
        ("document.retrieve", "no-document"),
        ("document.read", "no-document"),
    ]
    assert len(refusals(ctx, cast.alice, cast.alice_dmp, forged)) == 1 + 4
    nil = "00000000-0000-0000-0000-000000000000"
    assert len(refusals(ctx, cast.alice, cast.alice_dmp, nil)) == 3 * 4  # the malformed ids
    assert refusals(ctx, cast.lea, cast.lea_dmp, leas.id) == []


def test_a_session_after_logout_opens_nothing(alice_browser, ctx, cast, server):
    doc = add(ctx, cast.bruno, cast.alice_dmp)
    alice_browser.get("/documents")
    token, csrf = alice_browser.client.cookies.get("dmp_session"), alice_browser.csrf()
    assert alice_browser.post("/deconnexion", {}).status_code == 303
    replay = Browser(server)
    try:
        replay.client.cookies.set("dmp_session", token)
        before = held(ctx)
        for url in (f"/documents/{doc.id}", f"/documents/{doc.id}/contenu", "/documents"):
            answer = replay.get(url)
            assert answer.status_code == 303, url
            assert answer.headers["location"].startswith("/connexion"), url
        masked = replay.post(f"/documents/{doc.id}/masquer", {}, csrf=csrf)
        assert masked.status_code == 303
        assert masked.headers["location"].startswith("/connexion")
        assert held(ctx).changes(before) == {}
    finally:
        replay.close()


def test_a_legal_representative_never_sees_what_is_kept_from_them(browser, ctx, cast, last_code):
    shared = add(ctx, cast.bruno, cast.lea_dmp, title="Carnet de vaccination")
    secret = add(
        ctx, cast.bruno, cast.lea_dmp, title="Consultation confidentielle",
        invisible_representatives=True,
    )  # fmt: skip
    sign_in_representative(browser, ctx, cast.marc.account_id, last_code)
    page = browser.get("/documents")
    assert page.status_code == 200
    assert listed(page.text) == [str(shared.id)]
    assert "confidentielle" not in page.text
    assert browser.get(f"/documents/{shared.id}").status_code == 200
    assert browser.get(f"/documents/{shared.id}/contenu").content == PDF
    missing = browser.get(f"/documents/{uuid4()}")
    for suffix in ("", "/contenu", "/telecharger"):
        refused = browser.get(f"/documents/{secret.id}{suffix}")
        assert refused.status_code == 404
        assert refused.text.replace(browser.csrf(), "") == missing.text.replace(browser.csrf(), "")
    browser.get("/documents")
    assert browser.post(f"/documents/{secret.id}/masquer", {}).status_code == 404
    destroy = browser.get("/documents/detruire")
    assert str(secret.id) not in destroy.text
    # The refusals are in Léa's history, with their reason, and kept from Marc's sight.
    assert refusals(ctx, cast.lea, cast.lea_dmp, secret.id) == [
        ("document.mask", "invisible-representatives"),
        ("document.retrieve", "invisible-representatives"),
        ("document.retrieve", "invisible-representatives"),
        ("document.read", "invisible-representatives"),
    ]
    assert refusals(ctx, cast.marc, cast.lea_dmp, secret.id) == []

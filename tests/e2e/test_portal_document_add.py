"""The patient adds a document of their own (SPEC §4), over HTTP against a served app, on both
backends: the form, the upload, and what is refused with nothing stored (a wrong type, an
oversize file refused while it streams, a forged form)."""

from __future__ import annotations

import re
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from dmp.domain.valuesets import load_valuesets
from tests.e2e.portal_documents import entries, held, listed, sign_in_representative, upload
from tests.factories import PDF

MIB = 1024 * 1024
FIELDS = {"type": "DOCPAT01", "titre": "Mes directives anticipées", "date": "2026-02-14"}
PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 400


def test_the_form_offers_the_patients_types_and_a_progress_bar(alice_browser):
    page = alice_browser.get("/documents/ajouter")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    offered = re.findall(r'<option value="([^"]+)">([^<]+)</option>', page.text)
    expected = [(t.code, t.display) for t in load_valuesets().patient_types()]
    assert [(code, label.replace("&#39;", "'")) for code, label in offered] == expected
    assert {code for code, _ in offered} == {f"DOCPAT0{n}" for n in range(1, 10)} | {
        "EXPPAT_1",
        "EXPPAT_2",
        "EXPPAT_3",
    }
    assert 'enctype="multipart/form-data"' in page.text
    assert 'data-progress="progression"' in page.text
    assert '<progress id="progression"' in page.text
    assert '<label for="fichier">Fichier</label>' in page.text
    assert "2 Mio au plus" in page.text


def test_a_pdf_added_by_the_patient(alice_browser, ctx, cast):
    done = upload(alice_browser, FIELDS, ("directives.pdf", "application/pdf", [PDF]))
    assert done.status_code == 303
    assert done.headers["location"] == "/documents?fait=ajoute"
    listing = alice_browser.follow(done)
    assert "Votre document est ajouté à votre DMP." in listing.text
    [doc_id] = listed(listing.text)
    page = alice_browser.get(f"/documents/{doc_id}")
    assert "<h1>Mes directives anticipées</h1>" in page.text
    assert "<dd>Directives anticipées</dd>" in page.text
    assert "<dd>Document déposé par le patient</dd>" in page.text
    assert "<dd>14 février 2026</dd>" in page.text
    assert "<dd>Le patient</dd>" in page.text
    assert alice_browser.get(f"/documents/{doc_id}/contenu").content == PDF
    added = [e for e in entries(ctx, cast.alice, cast.alice_dmp) if e.action == "document.add"]
    assert [(e.allowed, e.target_id) for e in added] == [(True, doc_id)]


def test_the_type_is_known_by_the_extension_when_the_browser_says_nothing(alice_browser):
    text = "Allergie à la pénicilline.".encode()
    fields = {**FIELDS, "type": "DOCPAT04", "titre": "Allergies"}
    done = upload(alice_browser, fields, ("allergies.txt", "application/octet-stream", [text]))
    assert done.status_code == 303
    [doc_id] = listed(alice_browser.follow(done).text)
    shown = alice_browser.get(f"/documents/{doc_id}/contenu")
    assert shown.headers["content-type"] == "text/plain; charset=utf-8"
    assert shown.content == text


def _refused(browser, ctx, file, fields=FIELDS, **options):
    before = held(ctx)
    answer = upload(browser, fields, file, **options)
    assert held(ctx).changes(before) == {}
    return answer


def test_a_file_of_another_type_than_declared_is_refused(alice_browser, ctx, cast):
    answer = _refused(alice_browser, ctx, ("faux.pdf", "application/pdf", [PNG_HEAD]))
    assert answer.status_code == 415
    assert "Le contenu déclaré application/pdf est refusé" in answer.text
    assert "<h1>Ajouter un document</h1>" in answer.text  # the form again, to choose again
    refused = [e for e in entries(ctx, cast.alice, cast.alice_dmp) if e.action == "document.add"]
    assert [(e.allowed, e.reason) for e in refused] == [(False, "unsupported-content")]
    other = ("lettre.docx", "application/vnd.ms-word", [b"PK\x03\x04" + b"\x00" * 300])
    answer = _refused(alice_browser, ctx, other)
    assert answer.status_code == 415
    assert "Ce type de fichier n&#39;est pas accepté" in answer.text


def test_what_the_patient_may_not_add_is_refused(alice_browser, ctx):
    professional = {**FIELDS, "type": "11488-4"}  # a consultation report: a professional's
    answer = _refused(alice_browser, ctx, ("cr.pdf", "application/pdf", [PDF]), professional)
    assert answer.status_code == 403
    assert "Le patient ne peut déposer que des documents de la classe" in answer.text
    for fields, words in (
        ({**FIELDS, "type": "NOPE"}, "Type de document inconnu"),
        ({**FIELDS, "date": "14/02/2026"}, "date invalide"),
        ({**FIELDS, "titre": ""}, "obligatoire"),
    ):
        answer = _refused(alice_browser, ctx, ("d.pdf", "application/pdf", [PDF]), fields)
        assert answer.status_code == 400, fields
        assert words in answer.text, fields
    answer = _refused(alice_browser, ctx, None)
    assert answer.status_code == 400
    assert "Choisissez le fichier à ajouter." in answer.text


def _chunks(size: int) -> Iterator[bytes]:
    """A PDF's first bytes, then as many as asked, generated as they are sent."""
    sent = 0
    while sent < size:
        n = min(64 * 1024, size - sent)
        yield (PDF[:9] + b"\0" * (n - 9)) if sent == 0 else b"\x07" * n
        sent += n


def _peak(send: Callable[[], httpx.Response]) -> tuple[httpx.Response, int]:
    """The answer, and the most memory the test process (the server's threads with it) held
    while it was sent and answered."""
    tracemalloc.start()
    try:
        answer = send()
        return answer, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_oversize_file_is_refused_while_it_streams(alice_browser, ctx, cast):
    limit = ctx.settings.max_content_bytes
    peaks = {}
    for size in (limit + MIB, 12 * limit):
        file = ("gros.pdf", "application/pdf", _chunks(size))
        answer, peaks[size] = _peak(lambda file=file: _refused(alice_browser, ctx, file))
        assert answer.status_code == 413
        assert "Le fichier dépasse la taille autorisée (2 Mio) : rien n&#39;a été enregistré." in (
            answer.text
        )
    growth = peaks[12 * limit] - peaks[limit + MIB]
    assert growth < MIB / 2, f"{growth / MIB:.1f} MiB more held for {11 * limit / MIB:.0f} MiB more"
    assert peaks[12 * limit] < limit, f"{peaks[12 * limit] / MIB:.1f} MiB held"
    assert list((Path(ctx.settings.data_dir) / "spool").iterdir()) == []  # nothing in transit
    assert not [e for e in entries(ctx, cast.alice, cast.alice_dmp) if e.action == "document.add"]


def test_a_file_up_to_the_limit_streams_through(alice_browser, ctx, clock):
    limit = ctx.settings.max_content_bytes
    peaks = {}
    for size in (limit // 4, limit):
        file = ("limite.pdf", "application/pdf", _chunks(size))
        done, peaks[size] = _peak(lambda file=file: upload(alice_browser, FIELDS, file))
        assert done.status_code == 303, done.text
        clock.advance(minutes=1)  # the next one is the newer
    growth = peaks[limit] - peaks[limit // 4]
    assert growth < MIB / 4, f"{growth / MIB:.2f} MiB more held for {limit * 3 / 4 / MIB} MiB more"
    newest = listed(alice_browser.get("/documents").text)[0]
    assert len(alice_browser.get(f"/documents/{newest}/telecharger").content) == limit


def test_a_forged_upload_leaves_nothing(alice_browser, ctx):
    file = ("d.pdf", "application/pdf", [PDF])
    for token in ("", "forged-token"):
        answer = _refused(alice_browser, ctx, file, {**FIELDS, "csrf": token})
        assert answer.status_code == 403
        assert "Le formulaire a expiré" in answer.text
    # The token after the file: the file would be written before the form is known to be ours.
    answer = _refused(alice_browser, ctx, file, file_first=True)
    assert answer.status_code == 403


def test_a_legal_representative_adds_a_document(browser, ctx, cast, last_code):
    sign_in_representative(browser, ctx, cast.marc.account_id, last_code)
    fields = {**FIELDS, "type": "EXPPAT_3", "titre": "Mot du père"}
    done = upload(browser, fields, ("mot.txt", "text/plain", [b"Je suis joignable."]))
    assert done.status_code == 303
    [doc_id] = listed(browser.follow(done).text)
    assert "Expression du représentant légal" in browser.get(f"/documents/{doc_id}").text

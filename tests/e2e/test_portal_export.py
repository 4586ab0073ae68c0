"""The patient's copy of their whole DMP (``/export``), over HTTP against a served app, on both
backends: one ZIP with every document they may read (hash-identical), the FHIR Bundle of their
metadata, the history as a table and as sentences, a summary in French; nothing kept from them
(a document awaiting the announcement consultation; for a legal representative, what is kept
from the representatives and the minor's secret connections); audited; a closed DMP too."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile

import pytest

from dmp.services import history, records
from tests.e2e.fhir import validate
from tests.e2e.portal import Browser
from tests.e2e.portal_documents import add, entries, sign_in_representative
from tests.factories import CDA, PDF
from tests.personas import fresh


def _export(browser: Browser) -> zipfile.ZipFile:
    page = browser.get("/export")
    assert page.status_code == 200
    answer = browser.post("/export", {})
    assert answer.status_code == 200, answer.text[:500]
    assert answer.headers["content-type"] == "application/zip"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-disposition"] == 'attachment; filename="dmp-20260302.zip"'
    assert int(answer.headers["content-length"]) == len(answer.content)
    return zipfile.ZipFile(io.BytesIO(answer.content))


def _documents(archive: zipfile.ZipFile) -> dict[str, bytes]:
    return {n: archive.read(n) for n in archive.namelist() if n.startswith("documents/")}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_whole_dmp_in_one_archive(alice_browser, ctx, cast):
    report = add(ctx, cast.bruno, cast.alice_dmp, title="Compte rendu de consultation")
    structured = add(ctx, cast.bruno, cast.alice_dmp, CDA, "text/xml", title="Synthèse")
    hidden = add(
        ctx, cast.bruno, cast.alice_dmp, title="Résultat à annoncer", invisible_patient=True
    )
    archive = _export(alice_browser)
    names = archive.namelist()
    assert "LISEZMOI.txt" in names
    files = _documents(archive)
    assert sorted(_sha(v) for v in files.values()) == sorted([_sha(PDF), _sha(CDA)])
    assert {n.rsplit(".", 1)[-1] for n in files} == {"pdf", "xml"}
    # The metadata: a valid FHIR Bundle, each attachment pointing to its file.
    bundle = json.loads(archive.read("metadonnees/documents.fhir.json"))
    validate(bundle)
    assert bundle["type"] == "collection"
    refs = [e["resource"] for e in bundle["entry"]]
    assert {r["content"][0]["attachment"]["title"] for r in refs} == {
        "Compte rendu de consultation",
        "Synthèse",
    }
    for ref in refs:
        attachment = ref["content"][0]["attachment"]
        assert _sha(archive.read(attachment["url"])) == attachment["extension"][0]["valueString"]
    # The history, as a table and as sentences; the summary names every file.
    table = list(
        csv.reader(
            io.StringIO(archive.read("historique/historique.csv").decode("utf-8-sig")),
            delimiter=";",
        )
    )
    assert table[0][0] == "date"
    assert any(row[4] == "document.add" for row in table[1:])
    sentences = archive.read("historique/historique.txt").decode()
    assert "Dr Bruno Martin" in sentences
    summary = archive.read("LISEZMOI.txt").decode()
    assert "Alice Dupont" in summary
    assert "État : actif" in summary
    for name in files:
        assert name in summary
    assert "Résultat à annoncer" not in summary + sentences + json.dumps(bundle)
    # Audited: the export, and each content's retrieval.
    trail = entries(ctx, cast.alice, cast.alice_dmp)
    assert [(e.allowed, e.reason) for e in trail if e.action == "record.export"] == [
        (True, "holder")
    ]
    retrieved = {e.target_id for e in trail if e.action == "document.retrieve" and e.allowed}
    assert retrieved == {str(report.id), str(structured.id)}
    assert str(hidden.id) not in retrieved


def test_a_representatives_copy_leaves_out_what_is_kept_from_them(browser, ctx, cast, last_code):
    shared = add(ctx, cast.bruno, cast.lea_dmp, title="Vaccinations")
    secret = add(
        ctx,
        cast.bruno,
        cast.lea_dmp,
        b"%PDF-1.4 secret" + PDF[8:],
        title="Consultation confidentielle",
        invisible_representatives=True,
    )
    sign_in_representative(browser, ctx, cast.marc.account_id, last_code)
    archive = _export(browser)
    files = _documents(archive)
    assert list(map(_sha, files.values())) == [_sha(PDF)]
    everything = b"".join(archive.read(n) for n in archive.namelist()).decode("utf-8", "replace")
    assert "Consultation confidentielle" not in everything
    assert str(secret.id) not in everything
    bundle = json.loads(archive.read("metadonnees/documents.fhir.json"))
    assert [e["resource"]["content"][0]["attachment"]["title"] for e in bundle["entry"]] == [
        "Vaccinations"
    ]
    lea = history.read_history(ctx, cast.lea, cast.lea_dmp, limit=200).entries
    assert [(e.allowed, e.reason) for e in lea if e.action == "record.export"] == [
        (True, "legal-representative")
    ]
    assert {e.target_id for e in lea if e.action == "document.retrieve"} == {str(shared.id)}


def test_a_closed_dmp_is_exported_too(alice_browser, ctx, cast):
    add(ctx, cast.bruno, cast.alice_dmp)
    records.close_record(ctx, fresh(ctx, cast.alice), cast.alice_dmp, "Je n'en veux plus")
    archive = _export(alice_browser)
    assert len(_documents(archive)) == 1
    assert "État : fermé le 2 mars 2026" in archive.read("LISEZMOI.txt").decode()


def test_no_export_without_the_token_nor_after_logout(alice_browser, ctx, cast):
    add(ctx, cast.bruno, cast.alice_dmp)
    alice_browser.get("/export")
    token = alice_browser.csrf()
    for wrong in ("", "not-the-token"):
        assert alice_browser.post("/export", {}, csrf=wrong).status_code == 403
    cookie = alice_browser.client.cookies.get("dmp_session")
    alice_browser.post("/deconnexion", {}, csrf=token)
    alice_browser.client.cookies.set("dmp_session", cookie)
    after = alice_browser.client.post("/export", data={"csrf": token})
    assert after.status_code in (303, 403)
    assert after.headers.get("content-type") != "application/zip"
    trail = entries(ctx, cast.alice, cast.alice_dmp)
    assert [e for e in trail if e.action == "record.export"] == []


@pytest.mark.parametrize("formula", ['=HYPERLINK("x")', "+1", "-1", "@SUM(A1)"])
def test_history_cells_never_run_as_formulas(alice_browser, ctx, cast, formula):
    from dmp.domain.model import AccessMode
    from dmp.services.documents import find_documents
    from dmp.services.gate import Reading

    find_documents(ctx, Reading(cast.damien, AccessMode.EMERGENCY, formula), cast.alice_dmp)
    archive = _export(alice_browser)
    text = archive.read("historique/historique.csv").decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    cells = [row[8] for row in rows[1:] if row[8]]
    assert cells == ["'" + formula]

"""Storage faults answered cleanly, over HTTP, on both backends: the content store full (a real
1 MiB tmpfs) gives 507, unwritable (the same tmpfs remounted read-only) 503, the key store
unreachable (a key store URL on a closed port) 503; each with a French OperationOutcome from
the API, a French page from the portal's upload, and nothing stored: no row, no key, no content
file, no temporary file left behind."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dmp.adapters.crypto import parse_master_keys
from dmp.adapters.keystore import DataKeys, KeyStore
from dmp.entrypoints.app import create_app
from dmp.errors import DmpError, InvalidInput
from dmp.services.backup import restore_backup, take_backup
from tests.e2e.fhir import live_server, provide_bundle
from tests.e2e.portal_documents import BOUNDARY, held, multipart
from tests.personas import ALICE_INS

BIG_PDF = b"%PDF-1.4\n" + b"0" * (1536 * 1024) + b"\n%%EOF\n"  # 1.5 MiB, on a 1 MiB disk
SMALL_PDF = b"%PDF-1.4\n" + b"0" * 4000 + b"\n%%EOF\n"
FIELDS = {"type": "DOCPAT01", "titre": "Mes directives anticipées", "date": "2026-02-14"}


def _mount(*options: str, target: Path) -> None:
    subprocess.run(["mount", *options, target], check=True, capture_output=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real filesystem of 1 MiB (tmpfs), for the content store alone."""
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        _mount("-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", target=disk)
    except (subprocess.CalledProcessError, FileNotFoundError) as error:
        pytest.skip(f"mounting a tmpfs needs root (mount -t tmpfs): {error}")
    yield disk
    subprocess.run(["umount", "-l", disk], check=False)


@pytest.fixture
def settings(settings, small_disk):
    return settings.with_(blob_dir=small_disk / "blobs")


def _leftovers(ctx) -> list[Path]:
    """Temporary files of the content store: a partial write must not stay."""
    return list((ctx.settings.blob_dir / "tmp").iterdir())


def _outcome(answer: httpx.Response, status: int, words: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["resourceType"] == "OperationOutcome"
    text = body["issue"][0]["details"]["text"]
    assert words in text, text
    print(f"\n{status}: {text}")


def _deposit(api, content: bytes) -> httpx.Response:
    """Through the client itself: the suite's helper holds every answer under 500."""
    headers = {
        "Authorization": f"Bearer {api.tokens['bruno']}",
        "Content-Type": "application/fhir+json",
    }
    body = json.dumps(provide_bundle(ALICE_INS, content))
    return api.client.post("/fhir", content=body, headers=headers)


def test_a_full_content_store_is_a_507_and_keeps_nothing(api, ctx):
    assert _deposit(api, SMALL_PDF).status_code == 200  # the store works, while there is room
    before = held(ctx)
    answer = _deposit(api, BIG_PDF)
    _outcome(answer, 507, "plein")
    assert held(ctx).changes(before) == {}
    assert _leftovers(ctx) == []


def test_a_read_only_content_store_is_a_503_and_keeps_nothing(api, ctx, small_disk):
    before = held(ctx)
    _mount("-o", "remount,ro", target=small_disk)
    try:
        answer = _deposit(api, SMALL_PDF)
    finally:
        _mount("-o", "remount,rw", target=small_disk)
    _outcome(answer, 503, "indisponible")
    assert held(ctx).changes(before) == {}
    assert _leftovers(ctx) == []


@pytest.fixture
def keyless_api(ctx, tokens) -> Iterator[httpx.Client]:
    """The same service, its key store at an address where nothing listens."""
    store = KeyStore.from_url("postgresql+psycopg://postgres@127.0.0.1:9/keys?connect_timeout=2")
    cut_off = dataclasses.replace(
        ctx, keys=DataKeys(store, parse_master_keys(ctx.settings.master_keys))
    )
    headers = {"Authorization": f"Bearer {tokens['bruno']}"}
    with (
        live_server(create_app(cut_off)) as base,
        httpx.Client(base_url=base, timeout=60) as client,
    ):
        client.headers.update(headers)
        yield client
    store.engine.dispose()


def test_an_unreachable_key_store_is_a_503_and_keeps_nothing(keyless_api, ctx):
    before = held(ctx)
    answer = keyless_api.post(
        "/fhir",
        json=provide_bundle(ALICE_INS, SMALL_PDF),
        headers={"Content-Type": "application/fhir+json"},
    )
    _outcome(answer, 503, "magasin de clés")
    assert held(ctx).changes(before) == {}
    assert _leftovers(ctx) == []


def _upload(browser, content: bytes) -> httpx.Response:
    browser.get("/documents/ajouter")
    body = multipart({"csrf": browser.csrf(), **FIELDS}, ("d.pdf", "application/pdf", [content]))
    kind = f"multipart/form-data; boundary={BOUNDARY}"
    return browser.client.post("/documents/ajouter", content=body, headers={"Content-Type": kind})


def test_the_portal_says_in_french_that_the_store_is_full_or_unwritable(
    alice_browser, ctx, small_disk
):
    before = held(ctx)
    answer = _upload(alice_browser, BIG_PDF)
    assert answer.status_code == 507
    assert "Le stockage des documents est plein" in answer.text
    assert "<h1>Ajouter un document</h1>" in answer.text  # the form again
    _mount("-o", "remount,ro", target=small_disk)
    try:
        answer = _upload(alice_browser, SMALL_PDF)
    finally:
        _mount("-o", "remount,rw", target=small_disk)
    assert answer.status_code == 503
    assert "Le stockage des documents est indisponible" in answer.text
    assert held(ctx).changes(before) == {}
    assert _leftovers(ctx) == []


def test_a_backup_onto_a_full_disk_fails_clearly_and_is_not_mistaken_for_one(api, ctx, tmp_path):
    """``dmp backup`` onto a disk too small for it: a French error, and no manifest, so that
    the folder cannot be restored as if it were a backup."""
    assert _deposit(api, SMALL_PDF).status_code == 200
    target = tmp_path / "tiny"
    target.mkdir()
    _mount("-t", "tmpfs", "-o", "size=64k", "tmpfs", target=target)
    try:
        (target / "filler").write_bytes(b"\0" * 60 * 1024)  # 4 KiB left: less than any copy
        with pytest.raises(DmpError) as refused:
            take_backup(ctx, target / "sauvegarde")
        print(f"\n{refused.value.message}")
        assert any(w in refused.value.message.lower() for w in ("impossible", "échoué")), refused
        assert not (target / "sauvegarde" / "manifest.json").exists()
        with pytest.raises(InvalidInput, match="pas de sauvegarde complète"):
            restore_backup(ctx, target / "sauvegarde")
    finally:
        subprocess.run(["umount", "-l", target], check=False)

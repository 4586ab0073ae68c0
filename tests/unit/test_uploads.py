"""The portal's reading of a form with a file (dmp.entrypoints.portal.uploads): what is kept,
what is refused, and that a refused file is never written past the limit, nor at all without
the form's token."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from starlette.requests import Request

from dmp.entrypoints import transit
from dmp.entrypoints.portal import uploads
from dmp.errors import DmpError, InvalidInput, TooLarge
from dmp.services.sessions import CsrfRefused, WebSession
from tests.e2e.portal_documents import BOUNDARY, multipart

NOW = datetime(2026, 3, 2, tzinfo=UTC)
SESSION = WebSession("s", "signed-in", "tok", uuid4(), uuid4(), None, NOW, NOW, NOW, None)
KIND = f"multipart/form-data; boundary={BOUNDARY}".encode()


class Sent:
    """What the client sends, message by message, and how much of it the server read."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.messages = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
        self.messages.append({"type": "http.request", "body": b"", "more_body": False})
        self.read = 0

    async def receive(self) -> dict[str, object]:
        self.read += 1
        return self.messages.pop(0) if self.messages else {"type": "http.disconnect"}


@pytest.fixture
def written(monkeypatch) -> list[int]:
    """The bytes written to sealed files, write by write."""
    sizes: list[int] = []
    original = transit.SealedFile.write

    def write(self, data: bytes) -> None:
        sizes.append(len(data))
        original(self, data)

    monkeypatch.setattr(transit.SealedFile, "write", write)
    return sizes


def _read(sent: Sent, tmp_path: Path, limit: int = 1000, kind: bytes = KIND):
    scope = {"type": "http", "method": "POST", "path": "/", "headers": [(b"content-type", kind)]}

    async def run():
        async with uploads.receive(Request(scope, sent.receive), SESSION, limit, tmp_path) as got:
            return got.fields, got.file_name, got.content_type, b"".join(got.chunks())

    return asyncio.run(run())


def _body(fields, file=None, **options) -> list[bytes]:
    return list(multipart(fields, file, **options))


def test_the_fields_and_the_file(tmp_path, written):
    data = b"%PDF-" + bytes(range(256)) * 3
    pieces = [data[i : i + 100] for i in range(0, len(data), 100)]
    sent = Sent(_body({"csrf": "tok", "titre": "Été"}, ("à.pdf", "application/pdf", pieces)))
    fields, name, kind, content = _read(sent, tmp_path)
    assert (fields["csrf"], fields["titre"]) == ("tok", "Été")
    assert (name, kind, content) == ("à.pdf", "application/pdf", data)
    assert list(tmp_path.iterdir()) == []  # the sealed file is unlinked from the start


def test_an_oversize_file_is_never_written_past_the_limit_and_the_rest_is_drained(
    tmp_path, written
):
    file = ("gros.pdf", "application/pdf", [b"x" * 100] * 30)
    sent = Sent(_body({"csrf": "tok"}, file))
    with pytest.raises(TooLarge, match="rien n'a été enregistré"):
        _read(sent, tmp_path)
    assert sum(written) <= 1000
    assert sent.messages == []  # read to its end, so that the client hears the answer


def test_a_body_much_larger_than_the_form_is_refused(tmp_path, written):
    fields = {"csrf": "tok", **{f"f{n}": "y" * 5000 for n in range(15)}}  # 75 kB: no file
    with pytest.raises(TooLarge):
        _read(Sent(_body(fields)), tmp_path, limit=1000)
    assert written == []


@pytest.mark.parametrize(
    ("fields", "options"),
    [({"csrf": "wrong"}, {}), ({}, {}), ({"csrf": "tok"}, {"file_first": True})],
)
def test_nothing_of_the_file_is_written_without_the_token_first(tmp_path, written, fields, options):
    file = ("a.pdf", "application/pdf", [b"%PDF-" + b"x" * 500])
    with pytest.raises(CsrfRefused):
        _read(Sent(_body(fields, file, **options)), tmp_path)
    assert written == []


@pytest.mark.parametrize(
    ("body", "kind", "words"),
    [
        (_body({"csrf": "tok", **{f"f{n}": "" for n in range(20)}}), KIND, "trop de champs"),
        (_body({"csrf": "tok", "titre": "é" * 9000}), KIND, "trop long"),
        ([b"csrf=tok"], b"application/x-www-form-urlencoded", "multipart/form-data"),
        ([b"--nope\r\n\r\n"], KIND, "mal formé"),
    ],
)
def test_what_is_refused(tmp_path, written, body, kind, words):
    with pytest.raises(InvalidInput, match=words):
        _read(Sent(body), tmp_path, limit=100_000, kind=kind)


def test_two_files_are_refused(tmp_path, written):
    one = _body({"csrf": "tok"}, ("a.txt", "text/plain", [b"a"]))[:-1]
    two = _body({}, ("b.txt", "text/plain", [b"b"]))
    with pytest.raises(DmpError, match="Un seul fichier"):
        _read(Sent(one + two), tmp_path, limit=100_000)


def test_a_field_not_in_utf8(tmp_path, written):
    titre = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="titre"\r\n\r\n'
    body = [
        *_body({"csrf": "tok"})[:-1],
        titre.encode() + b"\xff\xfe\r\n",
        f"--{BOUNDARY}--\r\n".encode(),
    ]
    with pytest.raises(InvalidInput, match="UTF-8"):
        _read(Sent(body), tmp_path)

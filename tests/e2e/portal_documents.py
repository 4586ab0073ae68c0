"""Helpers of the tests of the portal's documents: documents added through the use case, a
legal representative signed in, the patient's history, what the deployment holds."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import select, update

from dmp.adapters.db.tables import accounts
from dmp.domain.model import Actor, ContentInput, Document
from dmp.services import history
from dmp.services.context import Context
from dmp.services.documents import Submission
from dmp.services.history import HistoryEntry
from dmp.services.submission import submit_documents
from tests.e2e.portal import STRONG, Browser, Codes, log_in
from tests.e2e.stored import AUDIT, Stored, stored
from tests.factories import PDF, metadata

# A deployment's state, but for the trail (refusals are audited) and the sessions (seen).
NOT_COMPARED = AUDIT | {"web_sessions"}
LINK = re.compile(r'href="/documents/([0-9a-f-]{36})"')


def add(
    ctx: Context,
    author: Actor,
    dmp_id: UUID,
    data: bytes = PDF,
    mime_type: str = "application/pdf",
    **meta: Any,
) -> Document:
    """A document stored through the use case, as a professional's software would."""
    [doc] = submit_documents(
        ctx, author, dmp_id, [Submission(metadata(**meta), [ContentInput(mime_type, [data])])]
    )
    return doc


def listed(html: str) -> list[str]:
    """The ids of the documents a list page links to, in their order (each once)."""
    return list(dict.fromkeys(LINK.findall(html)))


def held(ctx: Context) -> Stored:
    return stored(ctx, NOT_COMPARED)


def entries(ctx: Context, actor: Actor, dmp_id: UUID) -> list[HistoryEntry]:
    return list(history.read_history(ctx, actor, dmp_id, limit=200).entries)


def refusals(ctx: Context, actor: Actor, dmp_id: UUID, target: UUID) -> list[tuple[str, str]]:
    """The refused actions on this document in the DMP's history, as its holder reads it."""
    return [
        (e.action, e.reason)
        for e in entries(ctx, actor, dmp_id)
        if not e.allowed and e.target_id == str(target)
    ]


def sign_in_representative(
    browser: Browser, ctx: Context, account_id: UUID, last_code: Codes
) -> None:
    """The legal representative signed in: their password set to STRONG, then a normal login."""
    with ctx.engine.begin() as conn:
        login = conn.execute(select(accounts.c.login).where(accounts.c.id == account_id)).scalar()
        conn.execute(
            update(accounts)
            .where(accounts.c.id == account_id)
            .values(password_hash=ctx.password_hasher.hash(STRONG), must_change_password=False)
        )
    done = log_in(browser, login, STRONG, last_code)
    assert done.headers["location"] == "/tableau-de-bord", done.text


BOUNDARY = "----dmp-test-boundary-7MA4YWxkTrZu0gW"


def multipart(
    fields: dict[str, str],
    file: tuple[str, str, Iterable[bytes]] | None,
    *,
    file_first: bool = False,
) -> Iterator[bytes]:
    """A multipart/form-data body, generated as it is sent: ``file`` is (name, MIME type,
    chunks). The fields come first, as a browser sends the page's form, unless ``file_first``."""

    def field_parts() -> Iterator[bytes]:
        for name, value in fields.items():
            yield (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
            ).encode()

    def file_part() -> Iterator[bytes]:
        if file is None:
            return
        name, mime_type, chunks = file
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="fichier"; '
            f'filename="{name}"\r\nContent-Type: {mime_type}\r\n\r\n'
        ).encode()
        yield from chunks
        yield b"\r\n"

    parts = (file_part(), field_parts()) if file_first else (field_parts(), file_part())
    for part in parts:
        yield from part
    yield f"--{BOUNDARY}--\r\n".encode()


def upload(
    browser: Browser,
    fields: dict[str, str],
    file: tuple[str, str, Iterable[bytes]] | None,
    **options: bool,
) -> httpx.Response:
    """Post the add form as a browser does, the page's CSRF token first."""
    browser.get("/documents/ajouter")
    body = multipart({"csrf": browser.csrf(), **fields}, file, **options)
    kind = f"multipart/form-data; boundary={BOUNDARY}"
    answer = browser.client.post("/documents/ajouter", content=body, headers={"Content-Type": kind})
    assert answer.status_code < 500, answer.text
    return answer

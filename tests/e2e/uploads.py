"""Uploads of the crash and outage tests: ITI-65 provide bundles whose one PDF is generated
from a seed while it is sent (the test process never holds a content), each with its own
master identifier, so that whatever the server stored can be traced back to the upload and held
to its SHA-256; a pool of client threads that records what each upload was answered; and what
is stored only in part."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from dmp.adapters.db import tables as t
from dmp.domain.identifiers import Ins
from dmp.services.context import Context
from tests.e2e.fhir import FHIR_JSON, STREAM_BLOCK, document_reference, stream_bundle
from tests.factories import PDF

MIB = 1024 * 1024


@dataclass(frozen=True)
class Upload:
    """One document to deposit: ``size`` bytes of PDF, drawn from ``seed``."""

    seed: int
    size: int

    @property
    def master(self) -> str:
        return f"urn:oid:1.2.250.1.999.77.{self.seed}"

    def chunks(self) -> Iterator[bytes]:
        draw, sent = random.Random(self.seed), 0
        while sent < self.size:
            n = min(STREAM_BLOCK, self.size - sent)
            yield PDF[:9] + draw.randbytes(n - 9) if sent == 0 else draw.randbytes(n)
            sent += n

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for chunk in self.chunks():
            digest.update(chunk)
        return digest.hexdigest()

    def bundle(self, ins: Ins) -> Iterator[bytes]:
        """The transaction Bundle, streamed: its content in base64 as it is generated."""
        resource = document_reference(ins, data=b"", master=self.master)
        return stream_bundle(resource, self.chunks())


@dataclass
class Answer:
    """What the client saw of one upload: a status (None: the connection broke), and the
    transaction-response."""

    upload: Upload
    status: int | None
    body: dict[str, Any] | None = None
    error: str = ""
    at: float = field(default_factory=time.monotonic)

    @property
    def acknowledged(self) -> bool:
        """The transaction answered, its document created (\"201 Created\")."""
        if self.status != 200 or self.body is None:
            return False
        entries = self.body.get("entry", [])
        return bool(entries) and all(e["response"]["status"].startswith("201") for e in entries)


def deposit(client: httpx.Client, token: str, ins: Ins, upload: Upload) -> Answer:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": FHIR_JSON}
    try:
        response = client.post("/fhir", content=upload.bundle(ins), headers=headers)
    except httpx.HTTPError as error:  # the server died under it
        return Answer(upload, None, error=f"{type(error).__name__}: {error}")
    try:
        body = response.json()
    except ValueError:
        body = None
    return Answer(upload, response.status_code, body)


class Uploaders:
    """``threads`` clients, each depositing the next upload of ``plan`` until it is exhausted
    or ``stop()`` is called; every answer is kept, in order."""

    def __init__(
        self, base: str, threads: int, plan: list[Upload], send: Callable[..., Answer]
    ) -> None:
        self.base, self.plan, self.send = base, list(plan), send
        self.answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Uploaders:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
        self.join()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        assert not any(thread.is_alive() for thread in self._threads), "an upload never ended"

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def acknowledged(self) -> list[Answer]:
        with self._lock:
            return [a for a in self.answers if a.acknowledged]

    def _next(self) -> Upload | None:
        with self._lock:
            if self._stop.is_set() or not self.plan:
                return None
            return self.plan.pop(0)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=httpx.Timeout(300, connect=30)) as client:
            while (upload := self._next()) is not None:
                answer = self.send(client, upload)
                with self._lock:
                    self.answers.append(answer)


def half_stored(ctx: Context) -> list[Any]:
    """What is stored only in part: a document without contents, a content whose blob is
    missing, a document without its key."""
    with ctx.engine.connect() as conn:
        documents = set(conn.execute(select(t.documents.c.id)).scalars())
        contents = conn.execute(
            select(t.document_contents.c.document_id, t.document_contents.c.blob_key)
        ).all()
    with_contents = {row.document_id for row in contents}
    problems: list[Any] = [("no content", d) for d in documents - with_contents]
    problems += [("no blob", r.blob_key) for r in contents if not ctx.blobs.exists(r.blob_key)]
    keys = ctx.keys.store.get_many(sorted(documents))
    problems += [("no key", d) for d in documents if d not in keys]
    return problems

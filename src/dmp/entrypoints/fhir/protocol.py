"""The HTTP/1.1 protocol of the API server: uvicorn's httptools protocol, with a bounded request
head, and its own refusals (a head too large, a request that cannot be parsed) answered with a
FHIR ``OperationOutcome``.

uvicorn bounds the head of a request only with its h11 protocol
(``h11_max_incomplete_event_size``); with httptools, which ``uvicorn[standard]`` runs, it reads an
8 MiB header, or thousands of headers, into memory. Here the target (path and query) and the
headers of a request hold :data:`MAX_HEAD` bytes at most, in at most :data:`MAX_HEADERS` headers.
Beyond, the answer is 414 (the target) or 431 (the headers), a FHIR ``OperationOutcome`` in
French, and the connection is closed.

What is counted, at little cost on the hot path (one small override per read and one per
request): once the head is complete, its size and number of headers, computed only when the reads
that brought it were larger than the limit; while it is still incomplete (a header that does not
end, which the parser keeps growing in memory), the bytes received since the head began. Measured
in ``docs/performance.md``.

The refusal closes "lingering": the answer goes out with a FIN, and whatever the client is still
sending is read and dropped for a bounded time, so that its TCP stack reads the answer instead of
meeting a reset (closing a socket with unread data sends one).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from dmp.entrypoints.fhir.errors import FHIR_JSON, outcome

MAX_HEAD = 64 * 1024  # target and headers, together
MAX_HEADERS = 100
# An incomplete head is counted in raw bytes, request line and separators included: this margin
# covers those of MAX_HEADERS headers, so that the two counts refuse at the same size.
_RAW_MARGIN = 1024
LINGER_SECONDS = 2.0
LINGER_BYTES = 16 * 1024 * 1024


class HeadTooLarge(Exception):
    """Raised in a parser callback to stop the parser; the refusal is then sent."""


def _answer(status: int, text: str) -> bytes:
    body = json.dumps(
        outcome(status, text, "request-head"), ensure_ascii=False, separators=(",", ":")
    ).encode("utf-8")
    head = (
        f"content-type: {FHIR_JSON}\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n"
        "cache-control: no-store\r\n"
        "x-content-type-options: nosniff\r\n\r\n"
    )
    return STATUS_LINE[status] + head.encode("ascii") + body


ANSWERS = {
    400: _answer(
        400,
        "Requête HTTP mal formée : elle ne peut pas être lue. Vérifiez la ligne de requête "
        "(méthode, cible, version), les en-têtes et, pour un corps envoyé par morceaux "
        "(Transfer-Encoding: chunked), la taille de chaque morceau.",
    ),
    414: _answer(
        414,
        f"La cible de la requête (chemin et paramètres) est trop longue : {MAX_HEAD // 1024} Kio "
        "au plus, en-têtes compris.",
    ),
    431: _answer(
        431,
        f"Les en-têtes de la requête sont trop grands : {MAX_HEAD // 1024} Kio au plus avec la "
        f"cible, et {MAX_HEADERS} en-têtes au plus.",
    ),
}


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a request head past the limits (see the module).

    uvicorn gives each request a new ``scope`` when its head begins and sets its ``method`` when
    the head is complete: a scope without a method is a head being received."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._read = 0  # bytes of the read being parsed
        self._received = 0  # bytes of the earlier reads that brought an incomplete head
        self._refused: int | None = None  # the status of the refusal, once decided
        self._drained = 0
        self._linger: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        if self._refused is not None:
            self._drain(data)
            return
        before, self._read = self.scope, len(data)
        super().data_received(data)
        scope = self.scope
        if self._refused is None and scope is not None and "method" not in scope:
            # A head still incomplete: all of this read is its if it began before this read.
            self._received = self._received + self._read if scope is before else 0
            if self._received > MAX_HEAD + _RAW_MARGIN:
                self._refuse(414 if len(self.url) > MAX_HEAD else 431)

    def on_headers_complete(self) -> None:
        if len(self.headers) > MAX_HEADERS:
            self._stop(431)
        if self._received + self._read > MAX_HEAD:  # else the head is within the limit
            if len(self.url) > MAX_HEAD:
                self._stop(414)
            if len(self.url) + sum(len(n) + len(v) for n, v in self.headers) > MAX_HEAD:
                self._stop(431)
        self._received = 0
        super().on_headers_complete()

    def _stop(self, status: int) -> None:
        # The parser turns this into an HttpParserError; uvicorn then calls send_400_response.
        self._refused = status
        raise HeadTooLarge

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request it cannot parse, or to one stopped by a limit: here a
        FHIR OperationOutcome, like every other error of the API."""
        self._refuse(self._refused or 400)

    def _refuse(self, status: int) -> None:
        self._refused = status
        self.transport.write(ANSWERS[status])
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self._linger = self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def _drain(self, data: bytes) -> None:
        self._drained += len(data)
        if self._drained > LINGER_BYTES:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._linger is not None:
            self._linger.cancel()
        super().connection_lost(exc)

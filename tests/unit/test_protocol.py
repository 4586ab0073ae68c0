"""The bounded request head, read by read (``LimitedHttpToolsProtocol`` with a fake transport):
what is within the limits starts the application, however it arrives; what is past them is
refused once, with a FHIR OperationOutcome, and nothing more is parsed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from dmp.entrypoints.fhir.protocol import MAX_HEAD, MAX_HEADERS, LimitedHttpToolsProtocol


class Transport:
    def __init__(self) -> None:
        self.written = b""
        self.closed = self.eof = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name)

    def is_closing(self) -> bool:
        return self.closed

    def write(self, data: bytes) -> None:
        self.written += data

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof = True

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        return None

    def resume_reading(self) -> None:
        return None


class Server:
    """One connection; ``started`` lists the paths of the requests handed to the app."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        config = Config(lambda *_: None, http=LimitedHttpToolsProtocol, lifespan="off")
        config.load()
        self.protocol = LimitedHttpToolsProtocol(config, ServerState(), {}, _loop=self.loop)
        self.started: list[str] = []
        self.protocol._start_asgi_task = self._start  # type: ignore[method-assign]
        self.transport = Transport()
        self.protocol.connection_made(self.transport)  # type: ignore[arg-type]

    def _start(self, cycle: Any, app: Any) -> None:
        self.started.append(cycle.scope["path"])
        cycle.response_complete = True  # answered at once

    def feed(self, *reads: bytes) -> None:
        for data in reads:
            self.protocol.data_received(data)

    @property
    def status(self) -> int | None:
        if not self.transport.written:
            return None
        return int(self.transport.written.split(b" ", 2)[1])


@pytest.fixture
def server() -> Iterator[Server]:
    found = Server()
    yield found
    found.loop.close()


def head(target: str = "/fhir/metadata", headers: int = 0, size: int = 0, body: int = 0) -> bytes:
    lines = [f"POST {target} HTTP/1.1", "Host: h"]
    lines += [f"X-{n}: 1" for n in range(headers)]
    if size:
        lines.append("X-Pad: " + "p" * size)
    lines.append(f"Content-Length: {body}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + b"b" * body


def semantic_size(raw: bytes) -> int:
    """Target and header names and values, as the protocol counts them."""
    request_line, *lines = raw.split(b"\r\n\r\n")[0].split(b"\r\n")
    size = len(request_line.split(b" ")[1])
    return size + sum(len(line) - 2 for line in lines)  # "name: value" less ": "


def test_a_head_at_the_limit_starts_the_app(server):
    raw = head()
    raw = head(size=MAX_HEAD - semantic_size(raw) - len("X-Pad"))
    assert semantic_size(raw) == MAX_HEAD
    server.feed(raw)
    assert server.started == ["/fhir/metadata"]
    assert server.status is None


def test_one_byte_more_is_431(server):
    raw = head()
    raw = head(size=MAX_HEAD - semantic_size(raw) - len("X-Pad") + 1)
    server.feed(raw)
    assert server.started == []
    assert server.status == 431
    body = server.transport.written.split(b"\r\n\r\n", 1)[1]
    assert json.loads(body)["resourceType"] == "OperationOutcome"
    assert server.transport.eof


def test_a_large_body_in_the_same_read_as_its_head_is_not_counted(server):
    server.feed(head(body=512 * 1024))
    assert server.started == ["/fhir/metadata"]
    assert server.status is None


def test_a_large_body_then_a_pipelined_head_in_one_read(server):
    server.feed(head(body=200 * 1024) + head("/fhir/second")[:20], head("/fhir/second")[20:])
    assert server.started == ["/fhir/metadata", "/fhir/second"]
    assert server.status is None


def test_a_head_in_many_small_reads_under_the_limit(server):
    raw = head(size=60 * 1024)
    server.feed(*(raw[i : i + 100] for i in range(0, len(raw), 100)))
    assert server.started == ["/fhir/metadata"]


def test_a_header_that_never_ends_is_refused_within_a_read_of_the_limit(server):
    server.feed(b"GET / HTTP/1.1\r\nX-Endless: ")
    fed = 0
    while server.status is None and fed < 4 * MAX_HEAD:
        server.feed(b"x" * 4096)
        fed += 4096
    assert server.status == 431
    assert fed <= MAX_HEAD + 2 * 4096
    server.feed(b"x" * 4096, b"\r\n\r\n")  # drained, not parsed
    assert server.started == []


def test_a_target_that_never_ends_is_414(server):
    server.feed(b"GET /fhir/metadata?_pad=")
    while server.status is None:
        server.feed(b"a" * 4096)
    assert server.status == 414


@pytest.mark.parametrize(("count", "started"), [(MAX_HEADERS - 2, True), (MAX_HEADERS - 1, False)])
def test_at_most_100_headers(server, count, started):
    server.feed(head(headers=count))  # plus Host and Content-Length
    assert bool(server.started) is started
    assert server.status == (None if started else 431)

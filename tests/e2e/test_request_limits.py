"""The request head is bounded (64 KiB for the target and the headers, 100 headers), against a
real ``dmp serve`` over raw sockets: past the limits the answer is 414 or 431, a FHIR
OperationOutcome in French, and the connection is closed; within them, the request is served."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from dmp.adapters.crypto import generate_master_key_spec
from dmp.services.audit import AuditSigner
from tests.e2e.fhir import free_port, validate

CLI = "from dmp.entrypoints.cli.main import app; app()"
KIB = 1024


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """One ``dmp serve`` (one worker, the production options) for the whole module."""
    data = tmp_path_factory.mktemp("limits")
    chosen = free_port()
    env = {
        **os.environ,
        "DMP_DATA_DIR": str(data),
        "DMP_MASTER_KEYS": generate_master_key_spec("k1"),
        "DMP_AUDIT_SIGNING_KEY": AuditSigner.generate(),
        "DMP_HOST": "127.0.0.1",
        "DMP_PORT": str(chosen),
        "DMP_WORKERS": "1",
        "DMP_NOTIFICATIONS": "off",
    }
    subprocess.run([sys.executable, "-c", CLI, "db", "upgrade"], env=env, check=True)
    log = (data / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-c", CLI, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        _wait_listening(server, chosen)
        yield chosen
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _wait_listening(server: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "dmp serve exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("dmp serve never listened")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server closed the connection after its answer


def exchange(port: int, head: bytes) -> Answer:
    """Send a request head as is, read until the server closes (or 10 s of silence)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        received, closed = b"", False
        try:
            while chunk := sock.recv(64 * KIB):
                received += chunk
            closed = True
        except TimeoutError:
            pass
    status_line, _, rest = received.partition(b"\r\n")
    raw_headers, _, body = rest.partition(b"\r\n\r\n")
    headers = {}
    for line in raw_headers.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split()[1]), headers, body, closed)


def request(target: str = "/fhir/metadata", headers: list[tuple[str, str]] = ()) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def check_refusal(answer: Answer, status: int, words: str) -> None:
    assert answer.status == status
    assert answer.headers["content-type"].startswith("application/fhir+json")
    assert answer.headers["connection"] == "close"
    assert answer.closed
    outcome = json.loads(answer.body)
    validate(outcome)
    assert outcome["resourceType"] == "OperationOutcome"
    assert words in outcome["issue"][0]["details"]["text"]


def test_a_head_within_the_limits_is_served(port):
    target = "/fhir/metadata?_pad=" + "a" * (20 * KIB)
    headers = [(f"X-Pad-{n}", "b" * 400) for n in range(96)]  # 98 headers, ~59 KiB in all
    answer = exchange(port, request(target, headers))
    assert answer.status == 200
    assert json.loads(answer.body)["resourceType"] == "CapabilityStatement"


def test_a_target_past_64_kib_is_414_and_the_connection_is_closed(port):
    answer = exchange(port, request("/fhir/metadata?_pad=" + "a" * (65 * KIB)))
    check_refusal(answer, 414, "cible de la requête")


def test_an_8_mib_header_is_431_and_the_connection_is_closed(port):
    answer = exchange(port, request(headers=[("X-Big", "x" * (8 * 1024 * KIB))]))
    check_refusal(answer, 431, "en-têtes de la requête sont trop grands")


def test_headers_past_64_kib_in_all_are_431(port):
    headers = [(f"X-Pad-{n}", "b" * 1000) for n in range(70)]
    check_refusal(exchange(port, request(headers=headers)), 431, "64 Kio")


def test_5000_headers_are_431(port):
    headers = [(f"X-H{n}", "1") for n in range(5000)]
    check_refusal(exchange(port, request(headers=headers)), 431, "100 en-têtes")


def test_101_headers_are_431_and_100_are_served(port):
    # The request line's Host and Connection count: 98 more make 100.
    served = exchange(port, request(headers=[(f"X-H{n}", "1") for n in range(98)]))
    assert served.status == 200
    refused = exchange(port, request(headers=[(f"X-H{n}", "1") for n in range(99)]))
    check_refusal(refused, 431, "100 en-têtes")


def test_a_head_sent_slowly_past_the_limit_is_refused_before_it_ends(port):
    """A header that never ends is not kept growing in memory: refused once past the limit."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /fhir/metadata HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        received = b""
        for _ in range(40):
            try:
                sock.sendall(b"y" * (4 * KIB))
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.005)
        while chunk := sock.recv(64 * KIB):
            received += chunk
    assert received.startswith(b"HTTP/1.1 431 ")


def test_the_refusals_leave_the_server_serving(port):
    exchange(port, request(headers=[(f"X-H{n}", "1") for n in range(5000)]))
    assert exchange(port, request()).status == 200


def test_a_request_that_cannot_be_parsed_is_an_operation_outcome_too(port):
    answer = exchange(port, b"GET /fhir/metadata HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n")
    check_refusal(answer, 400, "Requête HTTP mal formée")


def test_a_bad_chunked_body_is_an_operation_outcome(port):
    """The body's framing is broken (a chunk size that is not hexadecimal): the parser stops,
    and the answer is still a FHIR OperationOutcome in French, the connection closed."""
    head = (
        b"POST /fhir HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer dmp_x\r\n"
        b"Content-Type: application/fhir+json\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"ZZ\r\nabc\r\n0\r\n\r\n"
    )
    check_refusal(exchange(port, head), 400, "taille de chaque morceau")


def test_an_over_long_request_line_is_an_operation_outcome(port):
    """A request line past the limit, whatever part of it is long (the method here)."""
    line = b"A" * (70 * KIB) + b" /fhir/metadata HTTP/1.1\r\nHost: x\r\n\r\n"
    check_refusal(exchange(port, line), 400, "Vérifiez la ligne de requête")

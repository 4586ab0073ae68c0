"""What the bounded request head costs (``dmp.entrypoints.fhir.protocol``): uvicorn's httptools
protocol against dmp's, on the same request heads.

1. In-process: microseconds per request head through ``data_received`` (the parser and its
   callbacks; the application is not started), an ITI-67 head as a client sends it.
2. ``--wrk``: requests per second of the floor app's ``GET /ping`` served by one uvicorn worker
   with each protocol in turn, wrk with 16 connections and the same headers.

    python -m benchmarks.head_limits [--rounds 3] [--wrk --seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import socket
import subprocess
import sys
import time
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from benchmarks.load import LOOPBACK
from dmp.entrypoints.fhir.protocol import LimitedHttpToolsProtocol

HEADERS = {
    "Accept": "application/fhir+json",
    "Authorization": "Bearer dmp_vjuCpf_5_mle6H4pwb5ei7y8s4v2WWTUhkrI-no8s94",
    "User-Agent": "python-httpx/0.28.1",
    "X-DMP-Access-Mode": "normal",
}
HEAD = (
    "GET /fhir/DocumentReference?patient.identifier=urn%3Aoid%3A1.2.250.1.213.1.4.8"
    "%7C285037512345688&_count=20 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
    "Accept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n"
    + "".join(f"{name}: {value}\r\n" for name, value in HEADERS.items())
    + "\r\n"
).encode("ascii")
PROTOCOLS = {
    "uvicorn httptools": "httptools",
    "dmp (bounded head)": "dmp.entrypoints.fhir.protocol:LimitedHttpToolsProtocol",
}


async def _app(scope: Any, receive: Any, send: Any) -> None:  # never started
    return None


class _Transport:
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": (LOOPBACK, 8000), "peername": (LOOPBACK, 50000)}.get(name, default)

    def is_closing(self) -> bool:
        return False

    def write(self, data: bytes) -> None:
        return None


def per_head(protocol: type[HttpToolsProtocol], count: int) -> float:
    """Microseconds per request head parsed by ``protocol``."""
    loop = asyncio.new_event_loop()
    try:
        config = Config(_app, http=protocol, lifespan="off")
        config.load()
        connection = protocol(config, ServerState(), {}, _loop=loop)
        connection._start_asgi_task = lambda cycle, app: None  # type: ignore[method-assign]
        connection.connection_made(_Transport())  # type: ignore[arg-type]
        start = time.perf_counter()
        for _ in range(count):
            connection.data_received(HEAD)
            connection.cycle = None  # as if its answer had been sent
        return (time.perf_counter() - start) / count * 1e6
    finally:
        loop.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def with_wrk(http: str, seconds: int) -> str:
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import uvicorn; from benchmarks.floor_app import create_app; "
            f"uvicorn.run(create_app(), host={LOOPBACK!r}, port={port}, http={http!r}, "
            "log_level='warning', access_log=False, server_header=False)",
        ]
    )
    try:
        time.sleep(2)
        headers = [arg for name, value in HEADERS.items() for arg in ("-H", f"{name}: {value}")]
        out = subprocess.run(
            ["wrk", "-t1", "-c16", f"-d{seconds}s", *headers, f"http://{LOOPBACK}:{port}/ping"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        server.terminate()
        server.wait()
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    latency = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", out)
    if rate is None or latency is None:
        raise RuntimeError(f"wrk said: {out}")
    return f"{float(rate.group(1)):8.0f} req/s, latency mean {latency.group(1)}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--heads", type=int, default=200_000)
    parser.add_argument("--wrk", action="store_true")
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args(argv)
    classes = {
        "uvicorn httptools": HttpToolsProtocol,
        "dmp (bounded head)": LimitedHttpToolsProtocol,
    }
    for round_ in range(1, args.rounds + 1):
        for name, protocol in classes.items():
            print(f"round {round_}  {name:20} {per_head(protocol, args.heads):5.2f} µs per head")
    if args.wrk:
        for round_ in range(1, args.rounds + 1):
            for name, http in PROTOCOLS.items():
                print(f"round {round_}  {name:20} {with_wrk(http, args.seconds)}")


if __name__ == "__main__":
    main()

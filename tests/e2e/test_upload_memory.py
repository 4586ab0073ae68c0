"""Uploads stream: the server's peak memory for a 50 MiB document stays within a few MiB of its
peak for a 1 MiB one (SPEC §4), plus one part's copies when the contents go to S3. The server
runs in its own process (``server.run``, as in production); its resident memory is sampled in a
thread, and its high-water mark (VmHWM) read.

Its figures are in the run's « figures » section."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from dmp.adapters.crypto import generate_master_key_spec
from dmp.adapters.s3 import PART_SIZE
from dmp.bootstrap import build
from dmp.services.audit import AuditSigner
from dmp.services.directory import issue_token
from dmp.settings import load_settings
from tests.e2e.fhir import free_port, streamed_bundle, streamed_xml_bundle
from tests.personas import ALICE_INS, populate

MIB = 1024 * 1024


class Sampler:
    """Samples a process's resident set size every few milliseconds."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.002)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _high_water_mark(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


# What the content store may hold on top: nothing for local files (64 KiB writes); one S3 part,
# in up to three copies while it is sent (docs/adr/0003-storage-layout.md).
STORE_ALLOWANCE = {"local": 0, "s3": 3 * PART_SIZE}


@pytest.fixture(params=sorted(STORE_ALLOWANCE))
def store(request: pytest.FixtureRequest) -> dict[str, str]:
    """The content store's settings: local files, or a bucket of the S3 server's."""
    if request.param == "local":
        return {}
    server = request.getfixturevalue("s3_server")
    return server.env(server.new_bucket())


@pytest.fixture
def served(tmp_path: Path, store: dict[str, str]) -> Iterator[tuple[str, str, psutil.Process]]:
    port = free_port()
    env = {
        **store,
        **os.environ,
        "DMP_DATA_DIR": str(tmp_path / "data"),
        "DMP_MASTER_KEYS": generate_master_key_spec("mem-1"),
        "DMP_AUDIT_SIGNING_KEY": AuditSigner.generate(),
        "DMP_HOST": "127.0.0.1",
        "DMP_PORT": str(port),
        "DMP_MAX_CONTENT_BYTES": str(50 * MIB),
        "DMP_NOTIFICATIONS": "off",
    }
    ctx = build(load_settings(env), migrate=True)
    cast = populate(ctx)
    token = issue_token(ctx, cast.professionals["bruno"].rpps).token
    ctx.engine.dispose()
    code = (
        "from dmp.entrypoints.fhir.server import run; from dmp.settings import load_settings;"
        " run(load_settings(), workers=1)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, "the server process died"
            try:
                if httpx.get(f"{base}/fhir/metadata", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield base, token, psutil.Process(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


FORMATS = {
    "json": (streamed_bundle, "application/fhir+json"),
    "xml": (streamed_xml_bundle, "application/fhir+xml"),
}


def _upload(client: httpx.Client, token: str, size: int, body_format: str) -> None:
    stream, media = FORMATS[body_format]
    response = client.post(
        "/fhir",
        content=stream(ALICE_INS, size),
        headers={"Authorization": f"Bearer {token}", "Content-Type": media},
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("body_format", sorted(FORMATS))
def test_peak_memory_does_not_grow_with_the_upload(served, figures, body_format, request):
    base, token, process = served
    with httpx.Client(base_url=base, timeout=300) as client:
        for _ in range(2):  # warm up: imports, caches, connection pools
            _upload(client, token, 1 * MIB, body_format)
        peaks = {}
        for size in (1, 50):
            hwm_before = _high_water_mark(process.pid)
            with Sampler(process) as sampler:
                _upload(client, token, size * MIB, body_format)
            peaks[size] = (sampler.peak, _high_water_mark(process.pid) - hwm_before)
    small, large = peaks[1][0], peaks[50][0]
    chosen = request.node.callspec.params["store"]
    allowance = STORE_ALLOWANCE[chosen]
    figures(
        f"{body_format}, {chosen}: server peak RSS: 1 MiB upload {small / MIB:.1f} MiB, "
        f"50 MiB upload {large / MIB:.1f} MiB, difference {(large - small) / MIB:.1f} MiB; "
        f"high-water mark growth during the 50 MiB upload {peaks[50][1] / MIB:.1f} MiB"
    )
    assert large - small < 16 * MIB + allowance
    assert peaks[50][1] < 16 * MIB + allowance

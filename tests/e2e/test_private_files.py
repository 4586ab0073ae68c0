"""An operator's run, from a shell whose umask lets others read: ``dmp demo`` seeds, ``dmp jobs
run`` sends the notices to the development outbox, ``dmp serve`` creates a DMP and stores a
document. Then every folder under the data folder is 0700 and every file 0600."""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx

from dmp.services.brochure import current_brochure
from tests.e2e.fhir import free_port, parameters, provide_bundle
from tests.factories import PDF
from tests.personas import ins

CLI = "from dmp.entrypoints.cli.main import app; app()"


def _run(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", CLI, *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=lambda: os.umask(0o022),
    )
    return result.stdout


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-c", CLI, "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: os.umask(0o022),  # noqa: PLW1509
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, "dmp serve exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.1)
    raise AssertionError("dmp serve never listened")


def _feed(base: str, token: str, brochure: str) -> None:
    new = ins("1690512345678")
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        created = client.post(
            "/fhir/Patient/$dmp-create",
            json=parameters(
                ins=new.value,
                family="Garnier",
                given="Zoé",
                birthDate={"valueDate": "1969-05-20"},
                gender={"valueCode": "female"},
                email="zoe@example.org",
                brochureVersion=brochure,
                informed=True,
                consent=True,
            ),
        )
        assert created.status_code == 200, created.text
        stored = client.post("/fhir", json=provide_bundle(new, PDF))
        assert stored.status_code == 200, stored.text


def test_a_seeded_and_served_demo_keeps_its_files_private(tmp_path: Path):
    data, port = tmp_path / "demo", free_port()
    env = {
        **os.environ,
        "DMP_DATA_DIR": str(data),
        "DMP_DEMO": "1",
        "DMP_HOST": "127.0.0.1",
        "DMP_PORT": str(port),
        "DMP_WORKERS": "1",
    }
    seeded = _run(env, "demo", "--no-serve")
    _run(env, "jobs", "run")
    token = re.search(r"RPPS \d+ : (dmp_\S+)", seeded)
    assert token is not None, seeded
    server = _serve(env, port)
    try:
        _feed(f"http://127.0.0.1:{port}", token.group(1), current_brochure().version)
        found = {p: stat.S_IMODE(p.stat().st_mode) for p in [data, *data.rglob("*")]}
    finally:
        server.terminate()
        server.wait(timeout=30)
    names = {p.name for p in found}
    assert {"dmp.sqlite3", "keys.sqlite3", "demo-secrets.env", "spool", "outbox"} <= names
    wide = {str(p): oct(m) for p, m in found.items() if m != (0o700 if p.is_dir() else 0o600)}
    assert wide == {}

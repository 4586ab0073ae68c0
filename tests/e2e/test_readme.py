"""The README's "first document in two minutes", run as a newcomer would: a real ``dmp demo``
(seeded, then serving), the token and the INS it printed for the people the README names, then
the README's ``sh`` block, command for command, with ``curl``."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.fhir import free_port

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SECTION = "## First document in two minutes"
CLI = "from dmp.entrypoints.cli.main import app; app()"
PROFESSIONAL, PATIENT = "Sophie Faure", "Hugo Roussel"

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl n'est pas installé")


def section_block() -> str:
    """The ``sh`` block of the README's section."""
    text = README.read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```sh\n(.*?)```", section, flags=re.DOTALL)
    return block


def commands(block: str) -> list[str]:
    """The block's commands: its lines, with their continuations (``\\``, a trailing ``|``)."""
    found, current = [], ""
    for line in block.splitlines():
        current += line + "\n"
        if not line.endswith(("\\", "|")):
            found.append(current)
            current = ""
    return [c for c in found if c.strip()]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``dmp demo`` serving on a free port; what it printed, and the API's base."""
    port = free_port()
    env = {**os.environ, "DMP_DATA_DIR": str(tmp_path / "demo"), "DMP_PORT": str(port)}
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", CLI, "demo"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, log.read_text(encoding="utf-8")
            try:
                if httpx.get(f"{base}/fhir/metadata", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the demo never served"
            time.sleep(0.2)
        yield log.read_text(encoding="utf-8"), base
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_block_is_found_and_split():
    found = commands(section_block())
    assert sum("curl" in c for c in found) == 4
    assert found[0].startswith("DOC=$(sed")


def test_the_readme_names_who_the_test_uses():
    section = README.read_text(encoding="utf-8").split(SECTION, 1)[1]
    assert PROFESSIONAL in section
    assert PATIENT in section


def test_the_first_document_in_two_minutes(demo, tmp_path):
    printed, base = demo
    assert f"API FHIR des professionnels (base) : {base}/fhir" in printed
    assert f"Portail des patients : {base}/" in printed
    assert f"Portail des professionnels : {base}/pro" in printed
    assert f"Description OpenAPI : {base}/openapi.json" in printed
    token = re.search(rf"{PROFESSIONAL}\s+RPPS [0-9]+ : (dmp_\S+)", printed)
    ins = re.search(rf"{PATIENT}, né\(e\) le [0-9/]+, INS ([0-9AB]{{15}})", printed)
    assert token, printed
    assert ins, printed
    env = {**os.environ, "DMP": f"{base}/fhir", "TOKEN": token[1], "INS": ins[1]}
    (tmp_path / "docs").symlink_to(ROOT / "docs")  # as at the root of the repository
    state = tmp_path / "state.sh"
    state.write_text("")
    outputs = []
    for command in commands(section_block()):
        # Each command in its own shell, the variables it sets kept for the next ones.
        script = f"set -euo pipefail\n. {shlex.quote(str(state))}\n{command}\n" + (
            f"declare -p DOC > {shlex.quote(str(state))} 2>/dev/null || true\n"
        )
        done = subprocess.run(
            ["bash", "-c", script],
            check=False,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        outputs.append(done.stdout)
    deposited = re.fullmatch(r"Document déposé : ([a-z2-7]{26}\.[a-z2-7]{26})\n", outputs[1])
    assert deposited, outputs[1]
    assert '"type":"searchset"' in outputs[2]
    assert f'"id":"{deposited[1]}"' in outputs[2]
    assert outputs[4].startswith("Compte rendu de consultation")
    assert '"code":"MASQUE_PS"' in outputs[5]
    assert '"versionId":"2"' in outputs[5]


def test_the_root_page_leads_a_newcomer_everywhere(browser):
    home = browser.get("/")
    assert home.status_code == 200
    for link in ("/connexion", "/pro", "/fhir/metadata", "/openapi.json"):
        assert f'href="{link}"' in home.text, link
        reached = browser.client.get(link, follow_redirects=True)  # /pro: to its login
        assert reached.status_code == 200, link

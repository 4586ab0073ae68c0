"""A PostgreSQL cluster of the test's own (``initdb``, ``pg_ctl``), on a free loopback port in a
temporary directory, that the test may stop as a crash would (``pg_ctl stop -m immediate``: no
shutdown checkpoint, recovery from the WAL at the next start) and start again. PostgreSQL refuses
to run as root: when the tests do, its commands run as the ``postgres`` user (``runuser``)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.e2e.fhir import free_port

SERVER_USER = "postgres"


def bin_dir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are: Debian's versioned directory, or the ``PATH``."""
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").is_file() and (candidate / "pg_ctl").is_file():
            return candidate
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def missing() -> str | None:
    """Why no cluster can be started here, or None."""
    if bin_dir() is None:
        return "initdb and pg_ctl not found (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root, and no {SERVER_USER} user to run PostgreSQL as"
        if shutil.which("runuser") is None:
            return "running as root, and no runuser to run PostgreSQL as another user"
    return None


class Cluster:
    def __init__(self) -> None:
        found = bin_dir()
        assert found is not None, missing()
        self.bin = found
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="dmp-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        if os.geteuid() == 0:  # the server's user owns its directory
            user = pwd.getpwnam(SERVER_USER)
            os.chown(self.root, user.pw_uid, user.pw_gid)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c max_connections=100"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-t", "120", "-w",
            "start",
        )  # fmt: skip

    def crash(self) -> None:
        """Stop at once, as a crash would: the server processes quit without a checkpoint."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, command: str, *args: str, check: bool = True) -> None:
        argv = [str(self.bin / command), *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", SERVER_USER, "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
        if check and done.returncode != 0:
            raise AssertionError(f"{command} failed: {done.stdout}{done.stderr}\n{self._log()}")

    def _log(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

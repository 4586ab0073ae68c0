"""The patient's login over HTTP, as a patient does it: the login page, identifier + password,
the one-time code read from the e-mail, the overview; then logout.

    python -m benchmarks.login                       # SQLite, 2 workers, 16 clients, 20 s
    python -m benchmarks.login --backend postgresql --concurrency 32 --seconds 30

Starts ``dmp serve`` (the production server: ``DMP_WORKERS`` processes, Argon2id at the
service's parameters) on a fresh data set of ``--patients`` patients sharing one password (its
hash computed once; each check costs the same), with an SMTP server of its own on loopback that
receives the codes (aiosmtpd, in this process) — the code goes by real SMTP, as in production.
Prints logins per second, the latency of a whole login and of each step, the server's CPU per
login, and, in the same run, the floor: Argon2id checks per second on the same cores. A patient
gets at most 10 codes an hour (SPEC §5): the patients are many enough that no login meets the
limit within a run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher
from psycopg import sql

from benchmarks.env import pg_conninfo, pg_url
from benchmarks.load import LOOPBACK
from benchmarks.server import Server
from benchmarks.stats import Figure, figure, table
from dmp.adapters.crypto import generate_master_key_spec
from dmp.bootstrap import build
from dmp.domain.identifiers import Ins, luhn_check_digit, nir_key
from dmp.domain.model import ContactChannels, PatientIdentity
from dmp.services import records
from dmp.services.audit import AuditSigner
from dmp.services.context import password_hasher
from dmp.services.directory import NewProfessional, add_professional, professional_actor
from dmp.settings import DeliverySettings, load_settings

PASSWORD = "une phrase de passe du banc d'essai"  # noqa: S105 (a benchmark input)
DOCTOR_RPPS = "1000990000" + luhn_check_digit("1000990000")  # who creates the DMPs
CODE = re.compile(r"\b([0-9]{6})\b")
CSRF = re.compile(r'name="csrf" value="([^"]*)"')
DMP_SERVE = ["-c", "from dmp.entrypoints.cli.main import app; app(['serve'])"]


# --- the codes, as the patients receive them -----------------------------------------------------


class Mailboxes:
    """An SMTP server's handler: the last code each address received, and a wait for the next."""

    def __init__(self) -> None:
        self._codes: dict[str, list[str]] = defaultdict(list)
        self._lock = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        body = message_from_bytes(envelope.content, policy=default).get_content()
        found = CODE.search(str(body))
        with self._lock:
            for address in envelope.rcpt_tos:
                if found:
                    self._codes[address].append(found.group(1))
            self._lock.notify_all()
        return "250 OK"

    def next_code(self, address: str, seen: int, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._codes[address]) <= seen:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no code for {address}")
                self._lock.wait(left)
            return self._codes[address][seen]

    def count(self, address: str) -> int:
        with self._lock:
            return len(self._codes[address])


# --- the data set ---------------------------------------------------------------------------------


def ins_of(n: int) -> Ins:
    nir = f"1850375{n:06d}"
    return Ins.parse(f"{nir}{nir_key(nir):02d}")


def environment(
    folder: Path, backend: str, smtp_port: int, port: int, workers: int
) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DMP_DATA_DIR": str(folder),
        "DMP_MASTER_KEYS": generate_master_key_spec("bench-1"),
        "DMP_AUDIT_SIGNING_KEY": AuditSigner.generate(),
        "DMP_HOST": LOOPBACK,
        "DMP_PORT": str(port),
        "DMP_WORKERS": str(workers),
        "DMP_SMTP_HOST": LOOPBACK,
        "DMP_SMTP_PORT": str(smtp_port),
        "DMP_SMTP_SECURITY": "none",
        "DMP_MAIL_FROM": "ne-pas-repondre@dmp.example",
        "DMP_COOKIE_SECURE": "false",
    }
    if backend == "postgresql":
        env["DMP_DATABASE_URL"] = pg_url("dmp_bench_login")
    return env


def fresh_postgres() -> None:
    with psycopg.connect(pg_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS dmp_bench_login WITH (FORCE)"))
        conn.execute(sql.SQL("CREATE DATABASE dmp_bench_login"))


def seed(env: dict[str, str], patients: int) -> list[tuple[str, str]]:
    """``patients`` DMPs, each patient with a login, an e-mail and the benchmark's password
    (one Argon2id hash at the service's parameters, shared: each check costs the same)."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        settings = load_settings().with_(delivery=DeliverySettings(enabled=False))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    ctx = build(settings, migrate=True)
    ctx.password_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    doctor = add_professional(ctx, NewProfessional(DOCTOR_RPPS, "Banc", "Ema", "10"))
    actor = professional_actor(ctx, doctor.professional)
    consent = records.Consent(ctx.brochure.version, informed=True, consented=True)
    hashed = password_hasher().hash(PASSWORD)
    logins = []
    for n in range(patients):
        email = f"patient{n}@bench.example"
        created = records.create_record(
            ctx,
            actor,
            ins=ins_of(n),
            identity=PatientIdentity("Banc", f"Patient{n}", date(1980, 1, 1), "female"),
            contacts=ContactChannels(email=email),
            consent=consent,
        )
        with ctx.uow() as uow:
            uow.accounts.update(
                created.patient.account_id, password_hash=hashed, must_change_password=False
            )
            uow.commit()
        logins.append((created.patient.login, email))
    ctx.engine.dispose()
    return logins


# --- one login -----------------------------------------------------------------------------------


class Logins:
    """Logins as patients do them, each patient at most a few times a run."""

    def __init__(self, base: str, accounts: list[tuple[str, str]], boxes: Mailboxes) -> None:
        self.base, self.accounts, self.boxes = base, accounts, boxes
        self.next = 0
        self.steps: dict[str, list[float]] = defaultdict(list)
        self.whole: list[float] = []
        self.errors = 0

    def _account(self) -> tuple[str, str]:
        chosen = self.accounts[self.next % len(self.accounts)]
        self.next += 1
        return chosen

    async def one(self) -> None:
        login, email = self._account()
        started = time.perf_counter()
        async with httpx.AsyncClient(base_url=self.base, timeout=60) as http:
            try:
                await self._steps(http, login, email)
            except (httpx.HTTPError, AssertionError, TimeoutError) as error:
                if not self.errors:  # the first failure says what goes wrong
                    print(f"first failed login: {error!r}", file=sys.stderr)
                self.errors += 1
                return
        self.whole.append(time.perf_counter() - started)

    async def _timed(self, step: str, request: Any) -> httpx.Response:
        started = time.perf_counter()
        response: httpx.Response = await request
        self.steps[step].append(time.perf_counter() - started)
        return response

    async def _steps(self, http: httpx.AsyncClient, login: str, email: str) -> None:
        page = await self._timed("1 page", http.get("/connexion"))
        csrf = CSRF.search(page.text).group(1)  # type: ignore[union-attr]
        seen = self.boxes.count(email)
        sent = await self._timed(
            "2 password",
            http.post(
                "/connexion",
                data={
                    "csrf": csrf,
                    "identifiant": login,
                    "mot_de_passe": PASSWORD,
                    "canal": "email",
                },
            ),
        )
        assert sent.status_code == 303, sent.status_code
        code = await asyncio.to_thread(self.boxes.next_code, email, seen)
        done = await self._timed(
            "3 code", http.post("/connexion/code", data={"csrf": csrf, "code": code})
        )
        assert done.headers.get("location") == "/tableau-de-bord", done.status_code
        board = await self._timed("4 overview", http.get("/tableau-de-bord"))
        assert board.status_code == 200, board.status_code
        out = CSRF.search(board.text).group(1)  # type: ignore[union-attr]
        await http.post("/deconnexion", data={"csrf": out})


async def _load(logins: Logins, concurrency: int, seconds: float) -> float:
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            await logins.one()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


def _server_cpu(server: Server) -> float:
    assert server.process is not None
    root = psutil.Process(server.process.pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


# --- the floor ----------------------------------------------------------------------------------


def _checks(count: int) -> int:
    hasher = password_hasher()
    hashed = hasher.hash(PASSWORD)
    for _ in range(count):
        hasher.verify(hashed, PASSWORD)
    return count


def argon2_floor(workers: int, seconds: float) -> float:
    """Argon2id checks per second, ``workers`` processes, the service's parameters."""
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_checks, [1] * workers))
        started, done = time.perf_counter(), 0
        while time.perf_counter() - started < seconds:
            done += sum(pool.map(_checks, [20] * workers))
        return done / (time.perf_counter() - started)


# --- the run -------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> list[Figure]:
    folder = Path(tempfile.mkdtemp(prefix="dmp-bench-login-"))
    boxes = Mailboxes()
    smtp_port = free_port()
    smtp = Controller(boxes, hostname=LOOPBACK, port=smtp_port)
    smtp.start()
    try:
        port = free_port()
        env = environment(folder, args.backend, smtp_port, port, args.workers)
        if args.backend == "postgresql":
            fresh_postgres()
        print(f"seeding {args.patients} patients …", flush=True)
        accounts = seed(env, args.patients)
        with Server([sys.executable, *DMP_SERVE], env, port, folder / "server.log") as server:
            server.wait_ready("/connexion")
            logins = Logins(server.base_url, accounts, boxes)
            asyncio.run(_load(logins, 2, 3))  # warm up: imports, connections, caches
            warmed = logins.next
            logins = Logins(server.base_url, accounts, boxes)
            logins.next = warmed  # past the warm-up's patients
            cpu = _server_cpu(server)
            elapsed = asyncio.run(_load(logins, args.concurrency, args.seconds))
            cpu = _server_cpu(server) - cpu
        count = max(len(logins.whole), 1)
        note = f"{args.concurrency} clients, server CPU {1000 * cpu / count:.1f} ms/login"
        figures = [
            figure("login", "whole (4 requests)", logins.whole, elapsed, logins.errors, note=note)
        ]
        for step, latencies in sorted(logins.steps.items()):
            figures.append(figure("login", step, latencies, elapsed))
        floor = argon2_floor(args.workers, min(args.seconds, 10))
        figures.append(
            Figure(
                "login floor", "Argon2id check", 0, round(floor, 1), 0, 0, 0, 0, note="same cores"
            )
        )
        print(f"logins/s ÷ Argon2id checks/s = {len(logins.whole) / elapsed / floor:.2f}")
        return figures
    finally:
        smtp.stop()
        shutil.rmtree(folder, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--patients", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=psutil.cpu_count() or 1)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    print(table(run(parse_args(argv))))


if __name__ == "__main__":
    main()

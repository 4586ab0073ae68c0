"""A soak: a bounded mixed load for minutes against ``dmp serve`` on PostgreSQL, with a fixed seed.

    python -m benchmarks.soak                          # 10 minutes, 8 clients, 30 s windows
    python -m benchmarks.soak --minutes 2 --window 10  # a short look

Seeds a fresh database through the services (``--patients`` DMPs, each with a few documents of
200 KiB through the API's own use case, and a patient login with a known password), starts the
production server (``DMP_WORKERS`` processes) with an SMTP server of its own on loopback for the
login codes, then runs ``--clients`` clients, each drawing its next operation with a seeded
generator: a consult (ITI-67 by INS, then ITI-68 of one document found) 70 %, a feed (ITI-65 of
one 200 KiB PDF) 20 %, a patient's login over HTTP (the page, identifier + password, the code
read from the e-mail, the overview) 10 %.

Prints, for every window: operations per second and latency percentiles of each kind, errors, and
the server's resident memory (all its processes, sampled each second); at the end, the memory's
first and last windows and its peak, so that growth shows. A benchmark: it reports, it does not
judge; ``docs/performance.md`` keeps its figures.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx
import psutil
from aiosmtpd.controller import Controller

from benchmarks import login as logins
from benchmarks.http_scenarios import bundle_body, pdf_base64
from benchmarks.load import LOOPBACK, HttpError, check
from benchmarks.server import Server
from benchmarks.stats import percentile
from dmp.domain.identifiers import INS_NIR_SYSTEM

KINDS = (("consult", 70), ("feed", 20), ("login", 10))


def _seed(env: dict[str, str], patients: int) -> tuple[list[tuple[str, str]], list[str], str]:
    """The patients' logins, their INS and a médecin's token (the médecin created them all)."""
    accounts = logins.seed(env, patients)
    saved = dict(logins.os.environ)
    logins.os.environ.update(env)
    try:
        from dmp.bootstrap import build
        from dmp.services.directory import issue_token
        from dmp.settings import DeliverySettings, load_settings

        settings = load_settings().with_(delivery=DeliverySettings(enabled=False))
        ctx = build(settings)
        token = issue_token(ctx, logins.DOCTOR_RPPS).token
        ctx.engine.dispose()
    finally:
        logins.os.environ.clear()
        logins.os.environ.update(saved)
    ins = [logins.ins_of(n).value for n in range(patients)]
    return accounts, ins, token


class Soak:
    """The clients' operations, their latencies by window, and the errors."""

    def __init__(self, base: str, token: str, ins: list[str], people: logins.Logins) -> None:
        self.base, self.token, self.ins, self.people = base, token, ins, people
        self.pdfs = [pdf_base64(200 * 1024, s) for s in range(4)]
        self.latencies: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self.errors: dict[int, int] = defaultdict(int)
        self.samples: list[str] = []
        self.started = time.perf_counter()
        self.window = 30.0

    def _at(self) -> int:
        return int((time.perf_counter() - self.started) // self.window)

    async def consult(self, http: httpx.AsyncClient, rng: random.Random) -> None:
        auth = {"Authorization": f"Bearer {self.token}"}
        params = {"patient.identifier": f"{INS_NIR_SYSTEM}|{rng.choice(self.ins)}"}
        found = check(await http.get("/fhir/DocumentReference", params=params, headers=auth))
        entries = found.json().get("entry", [])
        if entries:
            url = rng.choice(entries)["resource"]["content"][0]["attachment"]["url"]
            async with http.stream("GET", url, headers=auth) as stream:
                check(stream)
                async for _chunk in stream.aiter_raw():
                    pass

    async def feed(self, http: httpx.AsyncClient, rng: random.Random) -> None:
        body = bundle_body({"ins": rng.choice(self.ins)}, rng.choice(self.pdfs))
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/fhir+json",
        }
        check(await http.post("/fhir", content=body, headers=headers))

    async def login(self, _http: httpx.AsyncClient, _rng: random.Random) -> None:
        before = self.people.errors
        await self.people.one()
        if self.people.errors != before:
            raise HttpError("a login failed")

    async def client(self, number: int, seed: int, deadline: float) -> None:
        rng = random.Random(seed * 1000 + number)
        names, weights = zip(*KINDS, strict=True)
        async with httpx.AsyncClient(base_url=self.base, timeout=60) as http:
            while time.perf_counter() < deadline:
                kind = rng.choices(names, weights)[0]
                window, started = self._at(), time.perf_counter()
                try:
                    await getattr(self, kind)(http, rng)
                except (httpx.HTTPError, HttpError, KeyError, ValueError) as error:
                    self.errors[window] += 1
                    if len(self.samples) < 5:
                        self.samples.append(f"{kind}: {type(error).__name__}: {str(error)[:160]}")
                    continue
                self.latencies[window][kind].append(time.perf_counter() - started)


class Memory:
    """The server's resident memory, every second, by window."""

    def __init__(self, server: Server, soak: Soak) -> None:
        self.server, self.soak = server, soak
        self.by_window: dict[int, list[float]] = defaultdict(list)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.is_set():
            self.by_window[self.soak._at()].append(self.server.rss_mib())
            self._stop.wait(1.0)

    def __enter__(self) -> Memory:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _report(soak: Soak, memory: Memory) -> list[str]:
    kinds = [name for name, _ in KINDS]
    head = ["window", *(f"{k}/s p50 p99 ms" for k in kinds), "errors", "RSS MiB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for window in sorted(set(soak.latencies) | set(soak.errors)):
        cells = [f"{window * soak.window:.0f}–{(window + 1) * soak.window:.0f} s"]
        for kind in kinds:
            values = soak.latencies[window][kind]
            rate = len(values) / soak.window
            cells.append(
                f"{rate:.1f} · {1000 * percentile(values, 50):.0f} · "
                f"{1000 * percentile(values, 99):.0f}"
            )
        rss = memory.by_window.get(window, [])
        cells += [str(soak.errors[window]), f"{max(rss):.0f}" if rss else "–"]
        lines.append("| " + " | ".join(cells) + " |")
    every = [m for values in memory.by_window.values() for m in values]
    windows = sorted(memory.by_window)
    if every and windows:
        first, last = memory.by_window[windows[0]], memory.by_window[windows[-1]]
        lines.append(
            f"memory: first window {max(first):.0f} MiB, last {max(last):.0f} MiB, "
            f"peak {max(every):.0f} MiB"
        )
    total = sum(len(v) for w in soak.latencies.values() for v in w.values())
    lines.append(f"operations: {total}, errors: {sum(soak.errors.values())} {soak.samples}")
    return lines


def run(args: argparse.Namespace) -> list[str]:
    folder = Path(tempfile.mkdtemp(prefix="dmp-soak-"))
    boxes = logins.Mailboxes()
    smtp_port, port = logins.free_port(), logins.free_port()
    smtp = Controller(boxes, hostname=LOOPBACK, port=smtp_port)
    smtp.start()
    try:
        env = logins.environment(folder, "postgresql", smtp_port, port, args.workers)
        logins.fresh_postgres()
        print(f"seeding {args.patients} patients …", flush=True)
        accounts, ins, token = _seed(env, args.patients)
        argv = [sys.executable, *logins.DMP_SERVE]
        with Server(argv, env, port, folder / "server.log") as server:
            server.wait_ready("/connexion")
            people = logins.Logins(server.base_url, accounts, boxes)
            soak = Soak(server.base_url, token, ins, people)
            print("filling the DMPs …", flush=True)
            asyncio.run(_fill(soak, args.documents))
            soak.window, soak.started = args.window, time.perf_counter()
            deadline = soak.started + 60 * args.minutes
            with Memory(server, soak) as memory:
                asyncio.run(_clients(soak, args, deadline))
        return _report(soak, memory) + _first_traceback(folder / "server.log")
    finally:
        smtp.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _first_traceback(log: Path, most: int = 60) -> list[str]:
    """The server's first traceback, if any: what an error of the run was, before the server's
    folder goes."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Traceback")), None)
    return [] if start is None else ["server's first traceback:", *lines[start : start + most]]


async def _fill(soak: Soak, per_patient: int) -> None:
    rng = random.Random(0)
    async with httpx.AsyncClient(base_url=soak.base, timeout=60) as http:
        for _ in range(per_patient):
            for ins in soak.ins:
                body = bundle_body({"ins": ins}, rng.choice(soak.pdfs))
                headers = {
                    "Authorization": f"Bearer {soak.token}",
                    "Content-Type": "application/fhir+json",
                }
                check(await http.post("/fhir", content=body, headers=headers))


async def _clients(soak: Soak, args: argparse.Namespace, deadline: float) -> None:
    await asyncio.gather(*(soak.client(n, args.seed, deadline) for n in range(args.clients)))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--window", type=float, default=30)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--documents", type=int, default=2, help="per patient, before the load")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workers", type=int, default=psutil.cpu_count() or 1)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    print("\n".join(run(parse_args(argv))))


if __name__ == "__main__":
    main()

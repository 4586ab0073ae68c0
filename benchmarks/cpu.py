"""The CPU one consult's service calls cost, in-process (no HTTP), and authentication alone:
``time.process_time`` over many calls, the steady figure on a shared machine.

    python -m benchmarks.cpu --name dmp_bench_quick
    PYTHONPATH=<checkout of another version>/src python -m benchmarks.cpu --name dmp_bench_quick

Counts this process only (not PostgreSQL's), after a warm-up over the first patients.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import http_scenarios as web
from benchmarks.env import DEFAULT_ROOT, BenchEnv
from benchmarks.local_scenarios import consult_once
from dmp.bootstrap import build
from dmp.services.directory import authenticate


def cpu_per_call(call: Callable[[int], object], count: int) -> float:
    """Milliseconds of this process's CPU per call, after ``count // 10`` calls to warm up."""
    for n in range(count // 10):
        call(n)
    start = time.process_time()
    for n in range(count):
        call(n)
    return (time.process_time() - start) / count * 1000


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cpu", description=__doc__)
    parser.add_argument("--name", default="dmp_bench_10k")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--count", type=int, default=600)
    args = parser.parse_args(argv)
    env = BenchEnv(args.name, args.root, args.backend)
    patients = web.consult_patients(env.manifest())
    ctx = build(env.settings())

    def consult(n: int) -> None:
        consult_once(ctx, patients[n % len(patients)])

    def login(n: int) -> None:
        authenticate(ctx, patients[n % len(patients)]["token"])

    print(f"consult (2 requests' service calls): {cpu_per_call(consult, args.count):.2f} ms CPU")
    print(f"authentication: {cpu_per_call(login, args.count * 3) * 1000:.0f} µs CPU")


if __name__ == "__main__":
    main()

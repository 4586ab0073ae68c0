"""The CPU one consult's service calls cost, in-process (no HTTP), and authentication alone:
``time.process_time`` over many calls, the steady figure on a shared machine.

    python -m benchmarks.cpu --name dmp_bench_quick
    PYTHONPATH=<checkout of another version>/src python -m benchmarks.cpu --name dmp_bench_quick
    python -m benchmarks.cpu --name dmp_bench_10k --instructions

Counts this process only (not PostgreSQL's), after a warm-up over the first patients.

``--instructions`` counts instructions instead of seconds, under ``valgrind --tool=callgrind``
(a tool, not a dependency: ``apt-get install valgrind``): the same consults run twice, 40 then
140 of them, and the difference divided by 100 is what one consult costs, start-up and warm-up
left out. Slow (about a minute a run) but the same from run to run on a machine whose other
tenants make seconds vary by a quarter; compare versions with it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import http_scenarios as web
from benchmarks.env import DEFAULT_ROOT, BenchEnv
from benchmarks.local_scenarios import consult_once
from dmp.bootstrap import build
from dmp.services.directory import authenticate

WARM_UP = 20
FEW, MANY = 40, 140  # consults counted in the two runs under callgrind


def cpu_per_call(call: Callable[[int], object], count: int) -> float:
    """Milliseconds of this process's CPU per call, after ``count // 10`` calls to warm up."""
    for n in range(count // 10):
        call(n)
    start = time.process_time()
    for n in range(count):
        call(n)
    return (time.process_time() - start) / count * 1000


def instructions(args: argparse.Namespace, count: int) -> int:
    """The instructions this script executes to run ``count`` consults after the warm-up."""
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "benchmarks.cpu",
        "--name",
        args.name,
        "--root",
        str(args.root),
        "--backend",
        args.backend,
        "--consults",
        str(count),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same sets and dicts in both runs
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"callgrind did not report a count:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cpu", description=__doc__)
    parser.add_argument("--name", default="dmp_bench_10k")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--count", type=int, default=600)
    parser.add_argument("--instructions", action="store_true", help="count them (callgrind)")
    parser.add_argument("--consults", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.instructions:
        if shutil.which("valgrind") is None:
            raise SystemExit("valgrind is needed for --instructions: apt-get install valgrind")
        per_consult = (instructions(args, MANY) - instructions(args, FEW)) / (MANY - FEW)
        print(f"consult (2 requests' service calls): {per_consult / 1e6:.3f} M instructions")
        return
    env = BenchEnv(args.name, args.root, args.backend)
    patients = web.consult_patients(env.manifest())
    ctx = build(env.settings())

    def consult(n: int) -> None:
        consult_once(ctx, patients[n % len(patients)])

    if args.consults is not None:  # one of the runs under callgrind
        for n in range(WARM_UP + args.consults):
            consult(n)
        return

    def login(n: int) -> None:
        authenticate(ctx, patients[n % len(patients)]["token"])

    print(f"consult (2 requests' service calls): {cpu_per_call(consult, args.count):.2f} ms CPU")
    print(f"authentication: {cpu_per_call(login, args.count * 3) * 1000:.0f} µs CPU")


if __name__ == "__main__":
    main()

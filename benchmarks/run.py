"""Run the benchmarks: ``make bench`` (= ``python -m benchmarks.run``).

    python -m benchmarks.run --quick                # < 2 min: a 1 000-patient set, short runs
    python -m benchmarks.run --name dmp_bench_10k   # a set made by benchmarks.generate

Starts the dmp FHIR server as ``dmp serve`` would (production settings from ``bench.env``:
PostgreSQL, separate key store, ``workers`` = cores) and the floor app, then runs each scenario
``--repeat`` times with a bounded load (``--concurrency`` connections for ``--seconds``, at most
``--max-ops`` operations, 127.0.0.1 only) and prints a Markdown table: requests/s, p50/p95/p99,
errors and the server's peak RSS. Figures are also written to ``<data set>/results-*.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import http_scenarios as web
from benchmarks import local_scenarios as local
from benchmarks import wrk
from benchmarks.env import DEFAULT_ROOT, BenchEnv
from benchmarks.generate import generate
from benchmarks.generate import parse_args as generate_args
from benchmarks.load import LoadResult, run_load, warm_up
from benchmarks.server import RssWatch, Server, WaitWatch, dmp_server, floor_server
from benchmarks.stats import Figure, figure, table
from dmp.bootstrap import build

SCENARIOS = ("floor", "consult", "feed", "sql", "any", "history", "login", "memory")
MIB = 1024 * 1024


def _figures(
    scenario: str, result: LoadResult, rss: float, note: str = "", detail: str = ""
) -> list[Figure]:
    figures = []
    for step, latencies in result.latencies.items():
        errors = result.errors.get(step, 0)
        figures.append(figure(scenario, step, latencies, result.elapsed, errors, note=note))
    figures[-1].rss_mib = round(rss, 1)
    figures[-1].note = f"{note}{detail}client {result.client_cpu:.2f} cores"
    for sample in result.samples:
        print(f"  error sample: {sample}", file=sys.stderr)
    return figures


def _load(
    server: Server, scenario: str, operation: Any, args: argparse.Namespace, **kw: Any
) -> list[Figure]:
    asyncio.run(warm_up(server.base_url, operation, 5))
    concurrency = kw.get("concurrency", args.concurrency)
    with RssWatch(server) as watch, WaitWatch(_database(args)) as waits:
        result = run_load(
            server.base_url,
            operation,
            concurrency=concurrency,
            seconds=kw.get("seconds", args.seconds),
            max_ops=args.max_ops,
        )
    # The HTTP requests served: an operation of several steps is also timed whole ("op").
    steps = [step for step in result.latencies if step != "op"] or list(result.latencies)
    requests = sum(len(result.latencies[step]) + result.errors.get(step, 0) for step in steps)
    note = watch.cpu_note(requests) + waits.note()
    return _figures(scenario, result, watch.peak, f"c={concurrency}; ", note)


def _wrk(server: Server, scenario: str, requests: Any, args: argparse.Namespace) -> list[Figure]:
    if not args.wrk:
        return []
    step = (
        "GET " + requests[0][0].split("?")[0] if len(requests) == 1 else "ITI-67/ITI-68 alternating"
    )
    port = int(server.base_url.rsplit(":", 1)[1])
    with RssWatch(server) as watch, WaitWatch(_database(args)) as waits:
        found = wrk.run_wrk(
            port,
            requests,
            scenario=scenario,
            step=step,
            connections=args.concurrency,
            seconds=args.seconds,
        )
    found.rss_mib = round(watch.peak, 1)
    found.note += watch.cpu_note(found.count) + waits.note()
    return [found]


def _database(args: argparse.Namespace) -> str | None:
    """The data set's database, whose backends ``WaitWatch`` samples (PostgreSQL only)."""
    return args.name if args.backend == "postgresql" else None


def http_scenarios(
    env: BenchEnv, manifest: dict[str, Any], args: argparse.Namespace
) -> list[Figure]:
    figures: list[Figure] = []
    log_dir = env.folder / "logs"
    if "floor" in args.only:
        with floor_server(args.port + 1, args.workers, log_dir / "floor.log") as floor:
            floor.wait_ready("/ping")
            figures += _load(floor, "floor", web.get("/ping"), args)
            figures += _wrk(floor, "floor", [("/ping", {})], args)
    with dmp_server(env.environ(), args.port, args.workers, log_dir / "dmp.log") as server:
        server.wait_ready("/fhir/metadata")
        if "floor" in args.only:
            figures += _load(server, "floor", web.get("/fhir/metadata"), args)
            figures += _wrk(server, "floor", [("/fhir/metadata", {})], args)
        if "consult" in args.only:
            patients = web.consult_patients(manifest, args.band)
            figures += _load(server, "consult", web.consult(patients), args)
            requests = web.wrk_consult_requests(server.base_url, patients) if args.wrk else []
            figures += _wrk(server, "consult", requests, args)
        if "feed" in args.only:
            feed = web.feed(web.feed_patients(manifest))
            figures += _load(server, "feed", feed, args, concurrency=args.feed_concurrency)
    return figures


def local_scenarios(
    env: BenchEnv, manifest: dict[str, Any], args: argparse.Namespace
) -> list[Figure]:
    figures: list[Figure] = []
    if "sql" in args.only and env.postgres:
        figures.append(
            local.sql_floor(env, web.consult_patients(manifest, args.band)[:20], args.seconds)
        )
    if "sql" in args.only:
        patients = web.consult_patients(manifest, args.band)
        figures.append(_in_process_consult(env, patients, args.seconds))
    if "any" in args.only and env.postgres:
        # Other patients at each repetition and each invocation (patients read once stay in
        # memory): the seed is printed in the figure's note, to draw the same ones again.
        seed = args.any_seed + len(args.done_any)
        args.done_any.append(seed)
        figures.append(local.any_patient_search(env, args.any_patients, seed))
    if "history" in args.only and manifest.get("history_patient"):
        ctx = build(env.settings())
        figures += local.history(ctx, manifest, args.history_reads)
        ctx.engine.dispose()
    if "login" in args.only:
        figures.append(local.login_floor(args.workers, min(args.seconds, 10)))
    return figures


def _in_process_consult(env: BenchEnv, patients: list[dict[str, Any]], seconds: float) -> Figure:
    """The consult through the services, in this process, one at a time: dmp without HTTP."""
    ctx = build(env.settings())
    latencies, started = [], time.perf_counter()
    while time.perf_counter() - started < seconds:
        patient = patients[len(latencies) % len(patients)]
        latencies.append(local.timed(lambda p=patient: local.consult_once(ctx, p)))
    elapsed = time.perf_counter() - started
    ctx.engine.dispose()
    return figure("services", "consult in-process (1 thread)", latencies, elapsed)


def memory_scenario(
    env: BenchEnv, manifest: dict[str, Any], args: argparse.Namespace
) -> list[Figure]:
    """Peak server RSS while one upload of each size goes through ITI-65, a fresh server each."""
    figures = []
    patient = web.feed_patients(manifest)[0]
    for size in (MIB, 50 * MIB - 64 * 1024):
        log = env.folder / "logs" / f"memory-{size}.log"
        with dmp_server(env.environ(), args.port + 2, args.workers, log) as server:
            server.wait_ready("/fhir/metadata")
            idle = server.rss_mib()
            with RssWatch(server, every=0.01) as watch:
                seconds = web.upload_once(server.base_url, patient, size)
            note = f"idle {idle:.0f} MiB, +{watch.peak - idle:.0f} MiB during the upload"
            figures.append(
                figure("memory", f"ITI-65 {size / MIB:.0f} MiB", [seconds], seconds, note=note)
            )
            figures[-1].rss_mib = round(watch.peak, 1)
    return figures


QUICK_SET = ["--patients", "1000", "--docs", "10", "--sample", "40", "--history-entries", "2000"]
DEFAULT_SET = ["--patients", "10000", "--docs", "20"]  # what `make bench` measures


def _dataset(args: argparse.Namespace) -> BenchEnv:
    """The data set to measure; the quick and the default ones are generated when absent."""
    env = BenchEnv(args.name, args.root, args.backend)
    recipe = {"dmp_bench_quick": QUICK_SET, "dmp_bench_10k": DEFAULT_SET}.get(args.name)
    if not env.exists() and recipe is not None:
        print(f"generating the data set {args.name}…", file=sys.stderr)
        where = ["--backend", args.backend, "--root", str(args.root)]
        generate(generate_args(["--name", args.name, *recipe, *where]))
    if not env.exists():
        sys.exit(f"no data set {args.name}: run python -m benchmarks.generate --name {args.name}")
    return env


def run(args: argparse.Namespace) -> list[Figure]:
    env = _dataset(args)
    manifest = env.manifest()
    steps: list[tuple[str, Callable[..., list[Figure]]]] = [
        ("http", http_scenarios),
        ("local", local_scenarios),
        ("memory", memory_scenario),
    ]
    figures: list[Figure] = []
    for repetition in range(1, args.repeat + 1):
        for name, step in steps:
            if name == "memory" and "memory" not in args.only:
                continue
            found = step(env, manifest, args)
            for f in found:
                f.note = f"run {repetition}; {f.note}"
            figures += found
    _save(env, args, manifest, figures)
    return figures


def _save(
    env: BenchEnv, args: argparse.Namespace, manifest: dict[str, Any], figures: list[Figure]
) -> None:
    path = env.folder / f"results-{time.strftime('%Y%m%d-%H%M%S')}.json"
    summary = {k: v for k, v in manifest.items() if k not in ("samples", "history_patient")}
    payload = {"dataset": summary, "args": {k: str(v) for k, v in vars(args).items()}}
    payload["figures"] = [f.as_dict() for f in figures]
    path.write_text(json.dumps(payload, indent=1))
    print(f"results: {path}", file=sys.stderr)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small set, 5 s runs (< 2 min)")
    parser.add_argument("--name", default=None, help="data set (default dmp_bench_10k)")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--only", default=None, help=f"comma-separated subset of {SCENARIOS}")
    parser.add_argument("--seconds", type=float, default=20.0, help="per scenario")
    parser.add_argument("--max-ops", type=int, default=200_000, help="per scenario")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--feed-concurrency", type=int, default=8)
    parser.add_argument("--history-reads", type=int, default=200)
    parser.add_argument(
        "--any-patients", type=int, default=300, help="patients drawn at random ('any')"
    )
    parser.add_argument(
        "--any-seed", type=int, default=None, help="seed of the draw (default: from the clock)"
    )
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--port", type=int, default=8870)
    parser.add_argument(
        "--band", default="1,1000000000", help="consult patients with LO,HI documents only"
    )
    parser.add_argument("--no-wrk", dest="wrk", action="store_false", help="httpx client only")
    args = parser.parse_args(argv)
    if args.quick:
        args.name = args.name or "dmp_bench_quick"
        args.seconds, args.repeat, args.history_reads = 5.0, 1, 30
        args.only = args.only or ",".join(s for s in SCENARIOS if s != "memory")
    args.name = args.name or "dmp_bench_10k"
    args.only = set((args.only or ",".join(SCENARIOS)).split(","))
    low, high = (int(x) for x in args.band.split(","))
    args.band = (low, high)
    args.wrk = args.wrk and wrk.available()
    args.done_any = []
    if args.any_seed is None:
        args.any_seed = int(time.time()) % 1_000_000
    return args


def mean_of(
    figures: list[Figure], scenario: str, step: str, wrk_run: bool, key: str
) -> float | None:
    """The mean of ``key`` over the repetitions of one step (wrk's runs or the others)."""
    found = [
        getattr(f, key)
        for f in figures
        if (f.scenario, f.step) == (scenario, step) and ("wrk" in f.note) == wrk_run
    ]
    return sum(found) / len(found) if found else None


def ratios(figures: list[Figure]) -> list[str]:
    """dmp against the floors measured in the same run (means over the repetitions)."""
    lines = []
    consult = mean_of(figures, "consult", "ITI-67/ITI-68 alternating", True, "rate")
    for step in ("GET /ping", "GET /fhir/metadata"):
        floor = mean_of(figures, "floor", step, True, "rate")
        if consult and floor:
            lines.append(
                f"throughput, wrk: floor {step} {floor:.0f} req/s / consult {consult:.0f} req/s"
                f" = {floor / consult:.1f}x"
            )
    services = mean_of(figures, "services", "consult in-process (1 thread)", False, "p50_ms")
    sql = mean_of(figures, "SQL floor", "consult SQL (psycopg)", False, "p50_ms")
    if services and sql:
        lines.append(
            f"latency p50: consult through the services {services:.1f} ms / its SQL alone "
            f"{sql:.1f} ms = {services / sql:.1f}x"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    figures = run(parse_args(argv))
    print(table(figures))
    for line in ratios(figures):
        print(f"- {line}")


if __name__ == "__main__":
    main()

"""Profile the consult hot path.

    python -m benchmarks.profile --name dmp_bench_10k            # in-process, pyinstrument
    python -m benchmarks.profile --name dmp_bench_10k --server   # the server under load, py-spy
    python -m benchmarks.profile --name dmp_bench_10k --server --scenario feed

In-process: the service calls of a consult (``local_scenarios.consult_once``) under pyinstrument,
with a cold key cache per patient as in production. ``--server``: the dmp server (1 worker) under
the consult load (or the feed's, ``--scenario feed``), sampled by ``py-spy record`` (a speedscope
file in the data set's folder).
pyinstrument and py-spy are profiling tools, not dependencies: ``pip install pyinstrument py-spy``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from benchmarks import http_scenarios as web
from benchmarks.env import DEFAULT_ROOT, BenchEnv
from benchmarks.load import run_load
from benchmarks.local_scenarios import consult_once
from benchmarks.server import dmp_server
from dmp.bootstrap import build


def in_process(env: BenchEnv, count: int) -> str:
    from pyinstrument import Profiler

    patients = web.consult_patients(env.manifest())
    ctx = build(env.settings())
    consult_once(ctx, patients[0])  # imports and first connections out of the picture
    profiler = Profiler(interval=0.0005)
    with profiler:
        for n in range(count):
            consult_once(ctx, patients[n % len(patients)])
    return str(profiler.output_text(unicode=True, color=False, show_all=False))


def server(
    env: BenchEnv, seconds: float, port: int, scenario: str = "consult", gil: bool = True
) -> Path:
    """py-spy on the single worker of a dmp server while the consult (or feed) load runs."""
    out = env.folder / f"{scenario}-profile.speedscope.json"
    manifest = env.manifest()
    if scenario == "feed":
        load = web.feed(web.feed_patients(manifest))
    else:
        load = web.consult(web.consult_patients(manifest))
    with dmp_server(env.environ(), port, 1, env.folder / "logs" / "profile.log") as srv:
        srv.wait_ready("/fhir/metadata")
        # The venv's py-spy, even when the venv is not activated.
        tool = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        spy = [tool, "record", "-p", str(srv.processes()[0].pid), "-d", str(int(seconds))]
        spy += ["-f", "speedscope", "-o", str(out), "-r", "200", "--nonblocking"]
        # --gil: only the thread holding the GIL, i.e. where the Python time goes; without it,
        # every running thread, C code that released the GIL included (hashing, ciphers, I/O).
        spy += ["--gil"] if gil else []
        recorder = threading.Thread(target=subprocess.run, args=(spy,), daemon=True)
        recorder.start()
        run_load(srv.base_url, load, concurrency=8, seconds=seconds, max_ops=10**5)
        recorder.join(timeout=seconds + 30)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    parser.add_argument("--name", default="dmp_bench_10k")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--server", action="store_true")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--port", type=int, default=8880)
    parser.add_argument("--scenario", choices=("consult", "feed"), default="consult")
    parser.add_argument("--all-threads", action="store_true", help="not only the GIL's holder")
    args = parser.parse_args(argv)
    env = BenchEnv(args.name, args.root)
    if args.server:
        out = server(env, args.seconds, args.port, args.scenario, gil=not args.all_threads)
        print(f"speedscope profile: {out}")
        return
    sys.stdout.write(in_process(env, args.count))


if __name__ == "__main__":
    main()

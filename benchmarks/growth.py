"""How the consult's latency grows with the number of patients: the same scenarios on data sets
of different sizes, and the ratio between the largest and the smallest.

    python -m benchmarks.growth --sets dmp_bench_10k,dmp_bench_100k,dmp_bench_1m

For each set (made beforehand by ``benchmarks.generate``), one connection, patients with 14–20
documents so that every set does the same work per consult:

* the consult over HTTP (httpx, and wrk when installed) and through the services in-process,
  for the sampled patients, read over and over (their pages stay in memory);
* ITI-67 for patients drawn at random among all (``any``), each read once: at 1 M patients the
  data no longer fits in memory, and this is what a patient not seen lately costs.

Prints each set's p50 and p95, then the ratio largest / smallest set for each measure.
"""

from __future__ import annotations

import argparse
import sys

from benchmarks.run import mean_of, parse_args, run
from benchmarks.stats import Figure

MEASURES = (  # (label, scenario, step, wrk run)
    ("consult over HTTP (httpx c=1, 2 requests)", "consult", "op", False),
    ("one request over HTTP (wrk c=1)", "consult", "ITI-67/ITI-68 alternating", True),
    ("consult through the services", "services", "consult in-process (1 thread)", False),
    ("ITI-67, a patient drawn at random", "any patient", "ITI-67 in-process (1 thread)", False),
)


def report(by_set: dict[str, list[Figure]]) -> list[str]:
    names = list(by_set)
    lines = ["| measure | " + " | ".join(f"{n} p50 / p95 ms" for n in names) + " | ratio p50 |"]
    lines.append("|---" * (len(names) + 2) + "|")
    for label, scenario, step, wrk_run in MEASURES:
        cells, p50s = [], []
        for name in names:
            p50 = mean_of(by_set[name], scenario, step, wrk_run, "p50_ms")
            p95 = mean_of(by_set[name], scenario, step, wrk_run, "p95_ms")
            p50s.append(p50)
            cells.append("—" if p50 is None or p95 is None else f"{p50:.1f} / {p95:.1f}")
        first, last = p50s[0], p50s[-1]
        ratio = f"{last / first:.2f}x" if first and last else "—"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {ratio} |")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.growth", description=__doc__)
    parser.add_argument("--sets", required=True, help="data sets, smallest first, comma-separated")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args(argv)
    by_set: dict[str, list[Figure]] = {}
    for name in args.sets.split(","):
        print(f"measuring {name}…", file=sys.stderr)
        by_set[name] = run(
            parse_args(
                [
                    *("--name", name, "--only", "consult,sql,any", "--band", "14,20"),
                    *("--concurrency", "1", "--repeat", str(args.repeat)),
                    *("--seconds", str(args.seconds)),
                ]
            )
        )
    print("\n".join(report(by_set)))
    print(f"ratio: {args.sets.split(',')[-1]} / {args.sets.split(',')[0]}, p50 (means of the runs)")


if __name__ == "__main__":
    main()

"""The key-store pages a search reads: its DMP's keys looked up by their ids (each in the primary
key's B-tree, then its table row) against the same keys read from their DMP's group (one range of
``ix_data_keys_group``, which holds the wrapped keys: an index-only scan).

    python -m benchmarks.key_pages --name dmp_bench_1m --patients 300

For ``--patients`` DMPs drawn at random (``TABLESAMPLE BERNOULLI``, a new seed at each run unless
``--seed``), both statements run on the data set's key store under ``EXPLAIN (ANALYZE, BUFFERS)``
with the ids of the DMP's key and of all its documents' keys, what a search of all its documents
prefetches. Pages are counted, not timed: the pages a statement touches (found in PostgreSQL's
buffers or read) do not depend on what else runs on the machine; those it had to read show how
cold the key store was. The two statements touch different pages (a table and its primary key;
the group index), so neither warms the other's. PostgreSQL only.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg

from benchmarks.env import DEFAULT_ROOT, BenchEnv, pg_conninfo
from benchmarks.stats import percentile

_DRAW = (
    "SELECT r.dmp_id, array_agg(d.id) FROM records r TABLESAMPLE BERNOULLI (%(percent)s)"
    " REPEATABLE (%(seed)s) JOIN documents d ON d.dmp_id = r.dmp_id"
    " GROUP BY r.dmp_id LIMIT %(count)s"
)
_BY_ID = "SELECT dmp_id, key_id, wrapped FROM data_keys WHERE dmp_id = ANY(%(ids)s)"
_BY_GROUP = _BY_ID + " AND group_id = %(group)s"
STATEMENTS = (("by id (before)", _BY_ID), ("by group (now)", _BY_GROUP))


@dataclass
class Tally:
    """What one statement cost, per search."""

    touched: list[int] = field(default_factory=list)
    read: list[int] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)
    plans: set[str] = field(default_factory=set)

    def add(self, plan: dict[str, Any], keys: int) -> None:
        node = plan["Plan"]
        assert node["Actual Rows"] == keys, (node["Actual Rows"], keys)  # every key found
        self.touched.append(node["Shared Hit Blocks"] + node["Shared Read Blocks"])
        self.read.append(node["Shared Read Blocks"])
        self.ms.append(plan["Execution Time"])
        self.plans.add(f"{node['Node Type']} using {node.get('Index Name', '-')}")


def draw(env: BenchEnv, count: int, seed: int) -> list[tuple[UUID, list[UUID]]]:
    patients = env.manifest()["patients"]
    percent = min(100.0, 100.0 * 2 * count / patients)
    with psycopg.connect(pg_conninfo(env.name)) as conn:
        params = {"percent": percent, "seed": seed, "count": count}
        return [(dmp, docs) for dmp, docs in conn.execute(_DRAW, params)]


def measure(env: BenchEnv, drawn: list[tuple[UUID, list[UUID]]]) -> dict[str, Tally]:
    tallies = {label: Tally() for label, _ in STATEMENTS}
    with psycopg.connect(pg_conninfo(env.keys_db), autocommit=True) as conn:
        for i, (dmp, docs) in enumerate(drawn):
            ids = [dmp, *docs]
            order = STATEMENTS if i % 2 == 0 else STATEMENTS[::-1]  # neither always goes first
            for label, statement in order:
                explained = conn.execute(
                    "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement,
                    {"ids": ids, "group": dmp},
                ).fetchone()
                assert explained is not None
                tallies[label].add(_plan(explained[0]), len(ids))
    return tallies


def _plan(value: Any) -> dict[str, Any]:
    plans = json.loads(value) if isinstance(value, str) else value
    return dict(plans[0])


def report(
    name: str, seed: int, drawn: list[tuple[UUID, list[UUID]]], tallies: dict[str, Tally]
) -> str:
    keys = [1.0 + len(docs) for _, docs in drawn]
    lines = [
        f"{name}: {len(drawn)} DMPs drawn at random (seed {seed}), "
        f"{sum(keys) / len(keys):.1f} keys each (p50 {percentile(keys, 50):.0f})",
        "",
        "| statement | plan | pages touched, mean / p50 / p95 | pages read, mean | ms, p50 / p95 |",
        "|---|---|---|---|---|",
    ]
    for label, tally in tallies.items():
        touched = [float(n) for n in tally.touched]
        lines.append(
            f"| {label} | {', '.join(sorted(tally.plans))} | "
            f"{sum(touched) / len(touched):.1f} / {percentile(touched, 50):.0f} / "
            f"{percentile(touched, 95):.0f} | {sum(tally.read) / len(tally.read):.1f} | "
            f"{percentile(tally.ms, 50):.3f} / {percentile(tally.ms, 95):.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="dmp_bench_10k")
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    args = parser.parse_args(argv)
    env = BenchEnv(args.name, args.root)
    if not env.exists():
        print(f"no data set {args.name}: make it with benchmarks.generate", file=sys.stderr)
        return 2
    seed = args.seed if args.seed is not None else random.randrange(1, 1_000_000)
    drawn = draw(env, args.patients, seed)
    print(report(args.name, seed, drawn, measure(env, drawn)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

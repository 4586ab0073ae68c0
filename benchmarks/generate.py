"""Generate a benchmark data set: N patients x M documents (mean), REAL encrypted rows.

    python -m benchmarks.generate --name dmp_bench_10k --patients 10000 --docs 20

Creates the databases ``<name>`` and ``<name>_keys`` (PostgreSQL; ``--backend sqlite`` for small
scales), migrates them, writes a directory, then the patients in batches, in ``--jobs`` worker
processes, with binary ``COPY``. Each DMP and each document has its own data key wrapped by the
master key in the key store; identities and titles are sealed; every audit chain is hashed with
``entry_hash`` and its head signed. Contents: the patients whose index is a multiple of
``--sample-every`` get real encrypted files (a PDF of log-normal size, median 200 KiB); the other
documents are metadata-only (no blob: a shared blob cannot be read, since each content is bound to
its own document's key and associated data, and ``blob_key`` is unique). Patient 0 holds the long
audit chain of the history scenario (``--history-entries``); ``--audit-extra`` adds past reads to
every chain to grow the audit table. Finally it issues API tokens (through the service) for the
sampled patients' professionals, writes the audit witness's first checkpoint, and writes
``manifest.json`` for the scenarios.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from argon2 import PasswordHasher

from benchmarks.env import DEFAULT_ROOT, BenchEnv, pg_conninfo
from benchmarks.loader import (
    BULK_TABLES,
    PgSink,
    SqlSink,
    defer_constraints,
    restore_constraints,
    write_blobs,
)
from benchmarks.patients import HISTORY_PATIENT, PatientFactory, Plan
from benchmarks.progress import Progress, duration
from benchmarks.region import build_directory, directory_rows
from benchmarks.synth import Crypto, Directory, Rows
from dmp.adapters.blindindex import InsIndexer
from dmp.adapters.blobs import LocalBlobStore
from dmp.adapters.crypto import KeyRing, parse_master_keys
from dmp.adapters.db.engine import make_engine
from dmp.adapters.db.migrate import upgrade
from dmp.adapters.keystore import INS_INDEX_KEY, DataKeys, KeyStore
from dmp.bootstrap import build
from dmp.services.audit import AuditSigner
from dmp.services.brochure import current_brochure
from dmp.services.directory import issue_token
from dmp.services.witness import checkpoint

BENCH_PASSWORD = "bench-password-not-a-secret"  # noqa: S105 (synthetic accounts only)


@dataclass(frozen=True)
class Job:
    """What every worker process needs to build and write its share of the patients."""

    env: BenchEnv
    plan: Plan
    directory: Directory
    batch: int


@dataclass
class Tally:
    patients: int = 0
    documents: int = 0
    audit_entries: int = 0
    keys: int = 0
    rows: int = 0
    blob_bytes: int = 0

    def add(self, other: Tally) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


# --- worker processes ---------------------------------------------------------------------------

_worker: dict[str, Any] = {}


def _crypto(env: BenchEnv) -> Crypto:
    secrets = env.secrets()
    keyring = parse_master_keys(secrets["DMP_MASTER_KEYS"])
    return Crypto(keyring, AuditSigner(secrets["DMP_AUDIT_SIGNING_KEY"]), _indexer(env, keyring))


def _indexer(env: BenchEnv, keyring: KeyRing) -> InsIndexer:
    """The INS index under the key store's index key (created by ``_prepare``)."""
    keystore = KeyStore.from_url(env.keys_url)
    try:
        return InsIndexer(DataKeys(keystore, keyring).get(INS_INDEX_KEY))
    finally:
        keystore.engine.dispose()


def _sink(env: BenchEnv) -> PgSink | SqlSink:
    if env.postgres:
        return PgSink(pg_conninfo(env.name), pg_conninfo(env.keys_db))
    return SqlSink(make_engine(env.data_url), make_engine(env.keys_url))


def _init_worker(job: Job) -> None:
    d = job.directory
    _worker["factory"] = PatientFactory(job.plan, _crypto(job.env), d.pros, d.gps)
    _worker["sink"] = _sink(job.env)
    _worker["blobs"] = LocalBlobStore(job.env.blob_dir)


def _sample_info(rows: Rows, factory: PatientFactory) -> dict[str, Any]:
    record = rows.tables["records"][0]
    readers = {p.id: p for p in factory.pros}
    reader = readers[record["medecin_traitant_id"] or record["created_by"]]
    return {
        "dmp_id": str(record["dmp_id"]),
        "ins": rows.ins[record["dmp_id"]],
        "account_id": str(record["patient_account_id"]),
        "reader_rpps": reader.rpps,
        "reader_finess": reader.finess,
        "documents": len(rows.tables.get("documents", [])),
        "audit_entries": len(rows.tables.get("audit_entries", [])),
    }


def _run_batch(span: tuple[int, int]) -> tuple[Tally, list[dict[str, Any]]]:
    factory: PatientFactory = _worker["factory"]
    rows, samples = Rows(), []
    for index in range(*span):
        patient = factory.rows(index)
        if factory.plan.sampled(index):
            samples.append({"index": index, **_sample_info(patient, factory)})
        rows.extend(patient)
    tally = Tally(
        patients=span[1] - span[0],
        documents=len(rows.tables.get("documents", [])),
        audit_entries=len(rows.tables.get("audit_entries", [])),
        keys=len(rows.keys),
        rows=rows.count(),
        blob_bytes=write_blobs(_worker["blobs"], rows.blobs),
    )
    _worker["sink"].write(rows)
    return tally, samples


def _spans(patients: int, batch: int) -> Iterator[tuple[int, int]]:
    for start in range(0, patients, batch):
        yield start, min(patients, start + batch)


def _load_patients(job: Job, patients: int, jobs: int) -> tuple[Tally, list[dict[str, Any]]]:
    total, samples = Tally(), []
    progress = Progress("patients", patients, "patients")
    spans = _spans(patients, job.batch)
    if jobs <= 1:
        _init_worker(job)
        results: Iterator[tuple[Tally, list[dict[str, Any]]]] = map(_run_batch, spans)
        pool = None
    else:
        pool = multiprocessing.get_context("spawn").Pool(jobs, _init_worker, (job,))
        results = pool.imap_unordered(_run_batch, spans)
    for tally, found in results:
        total.add(tally)
        samples += found
        progress.advance(tally.patients)
    progress.close()
    if pool is not None:
        pool.close()
        pool.join()
    else:
        _worker["sink"].close()
    return total, sorted(samples, key=lambda s: s["index"])


# --- the steps of a generation ------------------------------------------------------------------


def _prepare(env: BenchEnv) -> None:
    """Fresh databases at the latest revision, and a key store holding the INS index key."""
    env.create_databases()
    env.write_secrets()
    engine = make_engine(env.data_url)
    upgrade(engine)
    engine.dispose()
    keystore = KeyStore.from_url(env.keys_url)
    keystore.create_schema()
    keyring = parse_master_keys(env.secrets()["DMP_MASTER_KEYS"])
    DataKeys(keystore, keyring).open_or_create(INS_INDEX_KEY)
    keystore.engine.dispose()


def _defer(env: BenchEnv) -> tuple[list[str], list[str]]:
    with psycopg.connect(pg_conninfo(env.name)) as data:
        data_ddl = defer_constraints(data, BULK_TABLES)
    with psycopg.connect(pg_conninfo(env.keys_db)) as keys:
        keys_ddl = defer_constraints(keys, ["data_keys"])
    return data_ddl, keys_ddl


def _finish(env: BenchEnv, ddl: tuple[list[str], list[str]] | None) -> dict[str, float]:
    timings = {}
    started = time.perf_counter()
    for database, statements in zip((env.name, env.keys_db), ddl or ([], []), strict=True):
        with psycopg.connect(pg_conninfo(database)) as conn:
            restore_constraints(conn, statements)
    timings["constraints_s"] = time.perf_counter() - started
    started = time.perf_counter()
    for database in (env.name, env.keys_db):
        with psycopg.connect(pg_conninfo(database), autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
    timings["vacuum_analyze_s"] = time.perf_counter() - started
    return timings


def _issue_tokens(env: BenchEnv, samples: list[dict[str, Any]]) -> None:
    """One token per professional who reads a sampled patient, through the real service; then
    the witness's first checkpoint (every head), as ``dmp db upgrade`` writes on an install."""
    ctx = build(env.settings())
    tokens: dict[str, str] = {}
    for sample in samples:
        rpps = sample["reader_rpps"]
        if rpps not in tokens:
            tokens[rpps] = issue_token(ctx, rpps, finess=sample["reader_finess"], days=30).token
        sample["token"] = tokens[rpps]
    checkpoint(ctx)
    ctx.engine.dispose()
    ctx.keys.store.engine.dispose()


def _plan(args: argparse.Namespace, now: datetime) -> Plan:
    audit_extra = 0.0
    if args.audit_rows:
        base = 6 + 1.2 * args.docs  # creation, team, documents and a few reads per patient
        audit_extra = max(0.0, (args.audit_rows - args.history_entries) / args.patients - base)
    return Plan(
        seed=args.seed,
        docs_per_patient=args.docs,
        sample_every=max(1, args.patients // args.sample) if args.sample else 0,
        audit_extra=audit_extra,
        history_entries=args.history_entries,
        now=now,
        password_hash=PasswordHasher().hash(BENCH_PASSWORD),  # one hash shared by all accounts
        brochure_version=current_brochure().version,
    )


def generate(args: argparse.Namespace) -> dict[str, Any]:
    env = BenchEnv(args.name, args.root, args.backend)
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    _prepare(env)
    plan = _plan(args, now)
    directory = build_directory(args.seed, args.patients, now)
    sink = _sink(env)
    sink.write(directory_rows(_crypto(env), directory))
    sink.close()
    ddl = _defer(env) if env.postgres and not args.keep_indexes else None
    jobs = args.jobs if env.postgres else 1
    loading = time.perf_counter()
    tally, samples = _load_patients(Job(env, plan, directory, args.batch), args.patients, jobs)
    load_s = time.perf_counter() - loading
    timings = _finish(env, ddl) if env.postgres else {}
    _issue_tokens(env, samples)
    manifest = {
        "name": env.name,
        "backend": env.backend,
        "generated_at": now.isoformat(),
        "seed": args.seed,
        "docs_per_patient": args.docs,
        "jobs": jobs,
        **asdict(tally),
        "professionals": len(directory.pros),
        "establishments": len(directory.establishments),
        "load_s": round(load_s, 1),
        **{k: round(v, 1) for k, v in timings.items()},
        "total_s": round(time.perf_counter() - started, 1),
        "patients_per_s": round(tally.patients / load_s, 1),
        "rows_per_s": round(tally.rows / load_s),
        "history_patient": next((s for s in samples if s["index"] == HISTORY_PATIENT), None),
        "samples": samples,
    }
    env.write_manifest(manifest)
    return manifest


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generate", description=__doc__)
    parser.add_argument("--name", default="dmp_bench_10k", help="data set (database) name")
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--docs", type=float, default=20.0, help="mean documents per patient")
    parser.add_argument("--seed", type=int, default=2012)
    parser.add_argument("--sample", type=int, default=200, help="patients with real contents")
    parser.add_argument("--history-entries", type=int, default=10_000)
    parser.add_argument("--audit-rows", type=int, default=0, help="grow the audit table to this")
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch", type=int, default=500, help="patients per COPY batch")
    parser.add_argument("--keep-indexes", action="store_true", help="load with indexes in place")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    manifest = generate(parse_args(argv))
    summary = {k: v for k, v in manifest.items() if k not in ("samples", "history_patient")}
    for key, value in summary.items():
        print(f"{key:>18}: {value}")
    rate = manifest["patients_per_s"]
    if rate:  # the sampled contents are a fixed cost: at 1 M they weigh less than here
        print(f"{'1 M patients':>18}: ~{duration(1_000_000 / rate)} of loading at this rate")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

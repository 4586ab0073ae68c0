"""The scenarios that run in this process, without HTTP.

* login floor: there is no patient login endpoint yet, so the floor of a login is measured: an
  Argon2id ``verify`` with the parameters the service hashes with (``Context.password_hasher``,
  argon2-cffi's defaults), in a pool of one process per core;
* history: ``dmp.services.history.read_history`` for the patient whose chain holds 10 000
  entries, newest page first (and the oldest page, the worst case of the ``seq`` index);
* SQL floor: the consult path's own SQL. One consult is run through the services with every
  statement captured (data database and key store, cold key cache); the statements are then
  replayed as they are with psycopg, in one transaction per database that is rolled back (so the
  audit inserts can be replayed; a rolled-back transaction skips the commit's WAL flush);
* any patient: ITI-67 through the services for patients drawn at random among all of them, read by
  one of their authorized professionals. The other consult scenarios read the same sampled
  patients over and over, whose pages stay in memory; a patient not seen lately is what this
  one measures, and at 1 M patients the data no longer fits in the machine's memory.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg
from argon2 import PasswordHasher
from sqlalchemy import Engine, event, text

from benchmarks.env import BenchEnv, pg_conninfo
from benchmarks.stats import Figure, figure
from dmp.adapters.crypto import parse_master_keys
from dmp.adapters.fieldcipher import FieldCipher
from dmp.adapters.keystore import DataKeys
from dmp.bootstrap import build
from dmp.domain.identifiers import Ins
from dmp.domain.model import PatientActor
from dmp.services.context import Context
from dmp.services.directory import authenticate, professional_actor
from dmp.services.documents import find_documents, open_content
from dmp.services.gate import Reading
from dmp.services.history import read_history

_PASSWORD = "correct horse battery staple"  # noqa: S105 (a benchmark input)


# --- login floor --------------------------------------------------------------------------------

_HASH: dict[str, str] = {}


def _verify_batch(count: int) -> list[float]:
    hasher = PasswordHasher()
    encoded = _HASH.setdefault("h", hasher.hash(_PASSWORD))
    times = []
    for _ in range(count):
        started = time.perf_counter()
        hasher.verify(encoded, _PASSWORD)
        times.append(time.perf_counter() - started)
    return times


def login_floor(workers: int, seconds: float) -> Figure:
    hasher = PasswordHasher()
    params = f"t={hasher.time_cost}, m={hasher.memory_cost} KiB, p={hasher.parallelism}"
    per_batch = max(1, int(seconds / 0.06 / 4))  # about a quarter of the time per batch
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_verify_batch, [1] * workers))  # start the workers, hash once each
        started = time.perf_counter()
        latencies: list[float] = []
        while time.perf_counter() - started < seconds:
            for times in pool.map(_verify_batch, [per_batch] * workers):
                latencies += times
        elapsed = time.perf_counter() - started
    return figure("login floor", f"Argon2id verify ({params})", latencies, elapsed)


# --- history ------------------------------------------------------------------------------------


def history(ctx: Context, manifest: dict[str, Any], count: int) -> list[Figure]:
    patient = manifest["history_patient"]
    dmp_id = UUID(patient["dmp_id"])
    actor = PatientActor(UUID(patient["account_id"]), dmp_id)
    note = f"chain of {patient['audit_entries']:,} entries"
    figures = []
    for label, before in (("newest page (50)", None), ("oldest page (50)", 52)):
        read_history(ctx, actor, dmp_id, before_seq=before)  # warm
        latencies, started = [], time.perf_counter()
        for _ in range(count):
            begun = time.perf_counter()
            read_history(ctx, actor, dmp_id, before_seq=before)
            latencies.append(time.perf_counter() - begun)
        elapsed = time.perf_counter() - started
        figures.append(figure("history", label, latencies, elapsed, note=note))
    return figures


# --- the consult path's own SQL -----------------------------------------------------------------


@contextmanager
def capture(engines: dict[str, Engine]) -> Iterator[list[tuple[str, str, Any]]]:
    """Record (database, statement, parameters) of everything the engines execute."""
    found: list[tuple[str, str, Any]] = []
    listeners = []
    for name, engine in engines.items():

        def listen(
            _c: Any, _cur: Any, statement: str, params: Any, *_a: Any, name: str = name
        ) -> None:
            found.append((name, statement, params))

        event.listen(engine, "before_cursor_execute", listen)
        listeners.append((engine, listen))
    try:
        yield found
    finally:
        for engine, listen in listeners:
            event.remove(engine, "before_cursor_execute", listen)


def consult_once(ctx: Context, patient: dict[str, Any]) -> None:
    """The service calls of one consult, as the API makes them: ITI-67 by INS (authenticate,
    search), then ITI-68 (authenticate, retrieve, the content read and decrypted)."""
    actor = authenticate(ctx, patient["token"])
    docs = find_documents(ctx, Reading(actor), Ins.parse(patient["ins"]))
    actor = authenticate(ctx, patient["token"])
    _, chunks = open_content(ctx, Reading(actor), docs[0].dmp_id, docs[0].id)
    for _ in chunks:
        pass


def captured_consults(env: BenchEnv, patients: list[dict[str, Any]]) -> list[list[Any]]:
    captured = []
    for patient in patients:
        ctx = build(env.settings())  # a cold key cache, as for a patient not seen lately
        with capture({"data": ctx.engine, "keys": ctx.keys.store.engine}) as statements:
            consult_once(ctx, patient)
        captured.append(statements)
        ctx.engine.dispose()
        ctx.keys.store.engine.dispose()
    return captured


def _replayable(statement: str, params: Any) -> Any:
    """The captured audit insert was committed: replay it under a free sequence number (alone,
    or with the head's move in one statement on PostgreSQL: ``entry_seq``)."""
    if "INSERT INTO audit_entries" in statement and isinstance(params, dict):
        key = "entry_seq" if "entry_seq" in params else "seq"
        return {**params, key: params[key] + 10**12}
    return params or None


def _replay(conns: dict[str, psycopg.Connection], statements: list[Any]) -> None:
    for database, statement, params in statements:
        conns[database].execute(statement, _replayable(statement, params))
    for conn in conns.values():
        conn.rollback()


def sql_floor(env: BenchEnv, patients: list[dict[str, Any]], seconds: float) -> Figure:
    captured = captured_consults(env, patients)
    statements = sum(len(c) for c in captured) / len(captured)
    conns = {
        "data": psycopg.connect(pg_conninfo(env.name)),
        "keys": psycopg.connect(pg_conninfo(env.keys_db)),
    }
    rng, latencies = random.Random(3), []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        begun = time.perf_counter()
        _replay(conns, rng.choice(captured))
        latencies.append(time.perf_counter() - begun)
    elapsed = time.perf_counter() - started
    for conn in conns.values():
        conn.close()
    note = f"{statements:.0f} statements per consult, 1 connection, rolled back"
    return figure("SQL floor", "consult SQL (psycopg)", latencies, elapsed, note=note)


# --- any patient (cold) ---------------------------------------------------------------------------

# A random sample of rows (PostgreSQL's TABLESAMPLE BERNOULLI: a scan of the records table, which
# leaves the drawn patients' record rows in memory, but not their documents, contents, keys or
# audit heads; sampling pages instead would draw neighbours, whose documents share pages). The
# professional is one the patient authorized. The INS is sealed: it is opened with the DMP's key,
# read through a key cache of its own (the measured context's stays cold; the key rows' pages of
# the key store are read, as the consult reads them anyway).
_ANY_PATIENTS = text(
    "SELECT r.dmp_id, r.ins_enc, (SELECT a.subject_id FROM authorizations a"
    " WHERE a.dmp_id = r.dmp_id"
    " AND a.subject_kind = 'professional' ORDER BY a.subject_id LIMIT 1) AS reader"
    " FROM records r TABLESAMPLE BERNOULLI (:percent) REPEATABLE (:seed) LIMIT :count"
)


def any_patient_search(env: BenchEnv, count: int, seed: int) -> Figure:
    """ITI-67 by INS through the services, for ``count`` patients drawn at random (PostgreSQL)."""
    ctx = build(env.settings())
    manifest = env.manifest()
    percent = min(100.0, 100.0 * 2 * count / manifest["patients"])
    with ctx.engine.connect() as conn:
        params = {"percent": percent, "seed": seed, "count": count}
        rows = [r for r in conn.execute(_ANY_PATIENTS, params) if r.reader]
    drawn = [(ins, r.reader) for r, ins in zip(rows, _opened_ins(ctx, rows), strict=True)]
    with ctx.uow() as uow:
        found = {i: uow.directory.professional(i) for i in {reader for _, reader in drawn}}
    readers = {i: professional_actor(ctx, p) for i, p in found.items() if p is not None}
    latencies, started = [], time.perf_counter()
    for ins, reader in drawn:
        actor = readers[reader]
        latencies.append(
            timed(lambda a=actor, i=ins: find_documents(ctx, Reading(a), Ins.parse(i)))
        )
    elapsed = time.perf_counter() - started
    ctx.engine.dispose()
    note = f"{len(latencies)} patients drawn at random (seed {seed}), each read once"
    return figure("any patient", "ITI-67 in-process (1 thread)", latencies, elapsed, note=note)


def _opened_ins(ctx: Context, rows: list[Any]) -> list[str]:
    """The drawn patients' INS, opened with their DMPs' keys through a key cache of its own."""
    keys = DataKeys(ctx.keys.store, parse_master_keys(ctx.settings.master_keys))
    keys.prefetch([r.dmp_id for r in rows])
    return [
        FieldCipher(r.dmp_id, keys.get(r.dmp_id)).open("ins", "record", r.ins_enc) for r in rows
    ]


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started

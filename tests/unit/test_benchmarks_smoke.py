"""The benchmark generator at tiny scale, on SQLite: what it writes must be what the services
read — valid audit chains with signed heads, decryptable identities, titles and contents."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from uuid import UUID, uuid4

import psycopg
import pytest
from benchmarks import cpu, key_pages
from benchmarks.env import BenchEnv, pg_conninfo
from benchmarks.generate import generate, parse_args
from benchmarks.server import WaitWatch
from benchmarks.synth import unique_ins, unique_login
from psycopg import sql

from dmp.bootstrap import build
from dmp.domain.identifiers import Ins
from dmp.domain.model import PatientActor
from dmp.services.directory import authenticate, list_professionals, search
from dmp.services.documents import Reading, find_documents, open_content
from dmp.services.history import read_history
from dmp.services.operations import verify_audit
from tests.conftest import require_postgres


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> BenchEnv:
    root = tmp_path_factory.mktemp("bench")
    argv = ["--name", "tiny", "--backend", "sqlite", "--root", str(root), "--patients", "12"]
    generate(parse_args([*argv, "--docs", "4", "--sample", "3", "--history-entries", "120"]))
    return BenchEnv("tiny", Path(root), "sqlite")


def test_every_audit_chain_verifies(dataset: BenchEnv) -> None:
    ctx = build(dataset.settings())
    result = verify_audit(ctx)
    assert result.ok, result.breaks
    assert result.chains == 13  # 12 DMPs and the system chain


def test_a_professional_reads_a_sampled_patient_through_the_services(dataset: BenchEnv) -> None:
    ctx = build(dataset.settings())
    sample = next(s for s in dataset.manifest()["samples"] if s["documents"])
    actor = authenticate(ctx, sample["token"])
    dmp_id = UUID(sample["dmp_id"])
    docs = find_documents(ctx, Reading(actor), dmp_id)
    assert docs
    assert all(d.metadata.title for d in docs)
    content, stream = open_content(ctx, Reading(actor), dmp_id, docs[0].id)
    assert len(b"".join(stream)) == content.size


def test_the_cpu_script_counts_a_consult_and_an_authentication(
    dataset: BenchEnv, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--name", "tiny", "--root", str(dataset.root), "--backend", "sqlite"]
    cpu.main([*where, "--count", "20"])
    printed = capsys.readouterr().out
    figures = re.findall(r"^(consult|authentication)\b.*: ([0-9.]+) (ms|µs) CPU$", printed, re.M)
    assert [name for name, _, _ in figures] == ["consult", "authentication"], printed
    assert all(float(value) > 0 for _, value, _ in figures), printed


def test_the_history_patient_has_the_long_chain(dataset: BenchEnv) -> None:
    ctx = build(dataset.settings())
    patient = dataset.manifest()["history_patient"]
    dmp_id = UUID(patient["dmp_id"])
    page = read_history(ctx, PatientActor(UUID(patient["account_id"]), dmp_id), dmp_id)
    assert patient["audit_entries"] == 120
    assert len(page.entries) == 50
    assert page.next_before is not None


def test_the_region_is_found_by_name(dataset: BenchEnv) -> None:
    ctx = build(dataset.settings())
    for professional in list_professionals(ctx)[:5]:
        found = search(ctx, f"{professional.given_name} {professional.family_name}")
        assert professional.id in {entry.id for entry in found.professionals}


def test_generated_identifiers_are_valid_and_unique() -> None:
    from datetime import date

    ins = {unique_ins(i, date(1980, 5, 1), "female") for i in range(0, 3_000_000, 997)}
    assert len(ins) == len(range(0, 3_000_000, 997))
    assert all(Ins.parse(value) for value in list(ins)[:200])
    assert len({unique_login(i) for i in range(50_000)}) == 50_000


@pytest.mark.postgres
def test_the_key_pages_script_counts_both_lookups_on_postgresql(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    require_postgres()
    name = f"dmp_bench_smoke_{uuid4().hex[:8]}"
    argv = ["--name", name, "--root", str(tmp_path), "--patients", "40", "--docs", "6"]
    generate(parse_args([*argv, "--sample", "2", "--history-entries", "20"]))
    env = BenchEnv(name, tmp_path)
    try:
        capsys.readouterr()
        assert key_pages.main(["--name", name, "--root", str(tmp_path), "--patients", "10"]) == 0
    finally:
        env.drop_databases()
    printed = capsys.readouterr().out
    rows = {
        row[0]: row[1:]
        for row in (
            [cell.strip() for cell in line.strip("|").split("|")]
            for line in printed.splitlines()
            if line.startswith("| by ")
        )
    }
    assert set(rows) == {"by id (before)", "by group (now)"}, printed
    assert "Index Only Scan using ix_data_keys_group" in rows["by group (now)"][0], printed
    touched = {label: float(row[1].split(" / ")[0]) for label, row in rows.items()}
    assert 0 < touched["by group (now)"] < touched["by id (before)"], printed


@pytest.mark.postgres
def test_the_wait_watch_sees_a_statement_waiting_on_a_row_lock() -> None:
    """The runner's ``WaitWatch`` tells what PostgreSQL's backends wait on: here one backend
    holds a row and another one waits for it."""
    require_postgres()
    name = f"dmp_bench_waits_{uuid4().hex[:8]}"
    admin = psycopg.connect(pg_conninfo("postgres"), autocommit=True)
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        with psycopg.connect(pg_conninfo(name), autocommit=True) as setup:
            setup.execute("CREATE TABLE heads (id int PRIMARY KEY, seq int)")
            setup.execute("INSERT INTO heads VALUES (1, 0)")
        holder = psycopg.connect(pg_conninfo(name))
        holder.execute("UPDATE heads SET seq = seq + 1 WHERE id = 1")  # holds the row
        waiter = psycopg.connect(pg_conninfo(name), autocommit=True)
        blocked = threading.Thread(
            target=waiter.execute, args=("UPDATE heads SET seq = seq + 1 WHERE id = 1",)
        )
        blocked.start()
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'"
        )
        deadline = time.monotonic() + 10
        while admin.execute(waiting, (name,)).fetchone() != (1,):  # the waiter is blocked
            assert time.monotonic() < deadline, "the second update never waited"
            time.sleep(0.01)
        with WaitWatch(name, every=0.01) as waits:
            time.sleep(0.3)
        holder.commit()
        blocked.join(timeout=10)
        holder.close()
        waiter.close()
    finally:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()
    note = waits.note()
    assert re.search(r"active 1\.00 on average \(Lock:transactionid 1\.00\)", note), note
    assert WaitWatch(None).note() == ""  # SQLite: nothing sampled

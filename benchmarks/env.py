"""Where a benchmark data set lives: its two databases (data and key store), its blob folder,
its secrets and its manifest.

A data set is named (``dmp_bench_10k``). On PostgreSQL it is two databases created for it,
``<name>`` and ``<name>_keys`` (the key store is always a separate database, as in production),
and a folder ``<root>/<name>`` holding the blob store, the audit trail's witness (``witness/``),
``bench.env`` (the master and audit keys, mode 0600) and ``manifest.json`` (what the scenarios
need: sample patients and their tokens). On SQLite both databases are files in that folder.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from dmp.adapters.crypto import generate_master_key_spec
from dmp.services.audit import AuditSigner
from dmp.settings import DeliverySettings, Settings

PG_HOST = "127.0.0.1"
PG_USER = "postgres"
DEFAULT_ROOT = Path(os.environ.get("DMP_BENCH_ROOT", "/tmp/dmp-bench"))  # noqa: S108 (scratch data)
SECRETS_FILE = "bench.env"
MANIFEST_FILE = "manifest.json"


def pg_url(database: str) -> str:
    return f"postgresql+psycopg://{PG_USER}@{PG_HOST}:5432/{database}"


def pg_conninfo(database: str) -> str:
    return f"host={PG_HOST} port=5432 user={PG_USER} dbname={database}"


@dataclass(frozen=True)
class BenchEnv:
    """One named data set: its databases, its folder and its secrets."""

    name: str
    root: Path = DEFAULT_ROOT
    backend: str = "postgresql"  # or "sqlite" (small scales only)

    @property
    def folder(self) -> Path:
        return self.root / self.name

    @property
    def blob_dir(self) -> Path:
        return self.folder / "blobs"

    @property
    def keys_db(self) -> str:
        return f"{self.name}_keys"

    @property
    def data_url(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.folder / 'dmp.sqlite3'}"
        return pg_url(self.name)

    @property
    def keys_url(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.folder / 'keys.sqlite3'}"
        return pg_url(self.keys_db)

    @property
    def postgres(self) -> bool:
        return self.backend == "postgresql"

    # --- secrets --------------------------------------------------------------------------------

    def write_secrets(self) -> None:
        """Fresh master and audit keys for this data set, readable by its owner only."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / SECRETS_FILE
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"DMP_MASTER_KEYS={generate_master_key_spec('bench-1')}\n")
            handle.write(f"DMP_AUDIT_SIGNING_KEY={AuditSigner.generate()}\n")

    def secrets(self) -> dict[str, str]:
        text = (self.folder / SECRETS_FILE).read_text()
        return dict(line.split("=", 1) for line in text.split())

    def environ(self) -> dict[str, str]:
        """The ``DMP_*`` variables a production server of this data set runs with."""
        return {
            **self.secrets(),
            "DMP_DATA_DIR": str(self.folder),
            "DMP_DATABASE_URL": self.data_url,
            "DMP_KEYSTORE_URL": self.keys_url,
            "DMP_BLOB_DIR": str(self.blob_dir),
            "DMP_NOTIFICATIONS": "off",  # the benchmarks send nothing
        }

    def settings(self, **changes: Any) -> Settings:
        keys = self.secrets()
        base = Settings(
            data_dir=self.folder,
            database_url=self.data_url,
            keystore_url=self.keys_url,
            blob_dir=self.blob_dir,
            master_keys=keys["DMP_MASTER_KEYS"],
            audit_signing_key=keys["DMP_AUDIT_SIGNING_KEY"],
            delivery=DeliverySettings(enabled=False),  # the benchmarks send nothing
        )
        return base.with_(**changes) if changes else base

    # --- manifest -------------------------------------------------------------------------------

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        path = self.folder / MANIFEST_FILE
        path.write_text(json.dumps(manifest, indent=1, default=str))
        path.chmod(0o600)  # it holds API tokens

    def manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.folder / MANIFEST_FILE).read_text())
        return data

    def exists(self) -> bool:
        return (self.folder / MANIFEST_FILE).exists()

    # --- databases ------------------------------------------------------------------------------

    def create_databases(self) -> None:
        self.drop_databases()
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.postgres:
            for name in (self.name, self.keys_db):
                _admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_databases(self) -> None:
        """Drop the databases, and the witness of their audit trail with them: a new data set's
        witness starts afresh."""
        shutil.rmtree(self.folder / "witness", ignore_errors=True)
        if self.postgres:
            for name in (self.name, self.keys_db):
                _admin(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
        else:
            for file in ("dmp.sqlite3", "keys.sqlite3"):
                (self.folder / file).unlink(missing_ok=True)


def _admin(statement: sql.Composable) -> None:
    with psycopg.connect(pg_conninfo("postgres"), autocommit=True) as conn:
        conn.execute(statement)

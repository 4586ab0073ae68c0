"""Typed settings, read once from the environment. Nothing else in dmp reads ``os.environ``.

SQLite and local files are the defaults; a URL switches to PostgreSQL. Outside demo mode there is
no default secret: the master key and the audit signing key must be given.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from dmp.domain.inputs import ascii_int
from dmp.errors import ConfigurationError

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    database_url: str
    keystore_url: str
    blob_dir: Path
    master_keys: str  # "id:base64,id:base64", the first one current
    audit_signing_key: str  # base64 of a 32-byte Ed25519 seed
    demo: bool = False
    max_content_bytes: int = 50 * MIB
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    step_up_max_age_seconds: int = 600
    # The session cookie goes over HTTPS only, except for a demo on the loopback interface.
    cookie_secure: bool = True
    smtp_host: str | None = None
    smtp_port: int = 25
    mail_from: str = "ne-pas-repondre@dmp.invalid"
    # The audit trail's witness (docs/adr/0004-audit-chain.md): None means <data_dir>/witness.
    witness_dir: Path | None = None
    witness_interval_seconds: int = 10

    @property
    def witness_path(self) -> Path:
        """Where the witness's checkpoints are written: apart from the database, and in
        production owned by another user or on an append-only volume."""
        return self.witness_dir or self.data_dir / "witness"

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    value = ascii_int(raw.strip())
    if value is None:
        raise ConfigurationError(
            f"{name} doit être un nombre entier positif, en chiffres ASCII (reçu : {raw[:40]!r})."
        )
    return value


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value <= 0:
        raise ConfigurationError(f"{name} doit être un nombre entier positif (reçu : {value}).")
    return value


def _bool(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _cookie_secure(env: Mapping[str, str], demo: bool, host: str) -> bool:
    """``DMP_COOKIE_SECURE`` if given; else on, but for a demo served on the loopback
    interface (plain HTTP on the machine itself)."""
    raw = env.get("DMP_COOKIE_SECURE", "").strip().lower()
    if raw:
        return raw in {"1", "true", "yes", "on"}
    return not (demo and host in {"127.0.0.1", "localhost", "::1"})


def load_settings(env: Mapping[str, str] | None = None, *, demo: bool | None = None) -> Settings:
    """Read the settings once. ``demo`` forces demo mode (the ``dmp demo`` command)."""
    env = os.environ if env is None else env
    is_demo = _bool(env, "DMP_DEMO") if demo is None else demo
    data_dir = Path(env.get("DMP_DATA_DIR") or "var").resolve()
    master_keys = env.get("DMP_MASTER_KEYS", "")
    audit_key = env.get("DMP_AUDIT_SIGNING_KEY", "")
    if not is_demo and (not master_keys or not audit_key):
        raise ConfigurationError(
            "DMP_MASTER_KEYS et DMP_AUDIT_SIGNING_KEY sont obligatoires hors mode démo "
            "(générez-les avec « dmp keys generate »)."
        )
    host = env.get("DMP_HOST") or "127.0.0.1"
    return Settings(
        data_dir=data_dir,
        database_url=env.get("DMP_DATABASE_URL") or f"sqlite:///{data_dir / 'dmp.sqlite3'}",
        keystore_url=env.get("DMP_KEYSTORE_URL") or f"sqlite:///{data_dir / 'keys.sqlite3'}",
        blob_dir=Path(env.get("DMP_BLOB_DIR") or data_dir / "blobs").resolve(),
        master_keys=master_keys,
        audit_signing_key=audit_key,
        demo=is_demo,
        max_content_bytes=_int(env, "DMP_MAX_CONTENT_BYTES", 50 * MIB),
        host=host,
        cookie_secure=_cookie_secure(env, is_demo, host),
        port=_int(env, "DMP_PORT", 8000),
        workers=_int(env, "DMP_WORKERS", os.cpu_count() or 1),
        step_up_max_age_seconds=_int(env, "DMP_STEP_UP_MAX_AGE", 600),
        smtp_host=env.get("DMP_SMTP_HOST") or None,
        smtp_port=_int(env, "DMP_SMTP_PORT", 25),
        mail_from=env.get("DMP_MAIL_FROM") or "ne-pas-repondre@dmp.invalid",
        witness_dir=Path(env.get("DMP_WITNESS_DIR") or data_dir / "witness").resolve(),
        witness_interval_seconds=_positive(env, "DMP_WITNESS_INTERVAL", 10),
    )

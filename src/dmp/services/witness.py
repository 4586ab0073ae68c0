"""The witness of the audit trail: signed checkpoints of the chain heads, written outside the
database, so that a chain put back to an older (genuinely signed) head, or deleted together with
its head, is caught by ``dmp audit verify``. See docs/adr/0004-audit-chain.md.

A checkpoint is one line of JSON::

    {"n": 7, "at": "2026-03-02T09:30:00.000000+00:00",
     "heads": [["<chain id>", 12, "<hash of entry 12>"], ...],
     "prev": "<SHA-256 of line 6>", "root": "<SHA-256 of root 6 and these heads>",
     "sig": "<Ed25519 signature of n, at and root, base64>"}

``n`` counts from 1 without a gap; ``heads`` are the chain heads that moved since the previous
checkpoint, sorted by chain id; ``root`` chains every head the witness has ever been shown; the
signature is the audit signing key's, over a message of its own kind (``dmp-witness:``).

A **restore** (``dmp restore``) writes lines of its own: they carry ``"restore": {...}`` (when
the backup was taken, its manifest's hash, how many lines list the restored heads), covered by
``root`` and so by the signature, and list *every* head of the restored database. From them on,
the witness holds the restored heads, and ``dmp audit verify`` tells what the restore lost (see
``witness_check`` and docs/adr/0013-backup-and-restore.md).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dmp.adapters.witness import WitnessLog, WitnessUnavailable
from dmp.services.audit import GENESIS, AuditSigner
from dmp.services.context import Context

# A head signed by a transaction that commits after a checkpoint has read the heads carries a
# time before that checkpoint's: each checkpoint looks back this far before the previous one.
# It must exceed the longest transaction plus the clock differences between the servers.
MARGIN = timedelta(minutes=5)
# The first checkpoint of a large install lists millions of heads: several lines, none huge.
MAX_HEADS_PER_LINE = 10_000

Head = tuple[str, int, str]  # chain id, sequence number, hash of that entry


@dataclass(frozen=True, slots=True)
class Checkpoint:
    n: int
    at: str  # ISO 8601, signed as written
    heads: tuple[Head, ...]
    prev: str
    root: str
    sig: str
    restore: dict[str, Any] | None = None  # on the lines a restore writes

    def line(self) -> bytes:
        body: dict[str, Any] = {
            "n": self.n,
            "at": self.at,
            "heads": [list(head) for head in self.heads],
        }
        if self.restore is not None:
            body["restore"] = self.restore
        body.update(prev=self.prev, root=self.root, sig=self.sig)
        return json.dumps(body, separators=(",", ":")).encode()


def parse(line: bytes) -> Checkpoint | None:
    """The checkpoint a line holds, or None when it holds none, whatever else it holds."""
    try:
        data = json.loads(line)
        return Checkpoint(
            _number(data["n"]),
            _time(data["at"]),
            tuple(_head(head) for head in data["heads"]),
            _digest(data["prev"]),
            _digest(data["root"]),
            _text(data["sig"]),
            _restore(data.get("restore")),
        )
    except (ValueError, KeyError, TypeError):
        return None


def moment(checkpoint: Checkpoint) -> datetime:
    return datetime.fromisoformat(checkpoint.at)


def heads_root(previous: str, heads: Iterable[Head], restore: dict[str, Any] | None = None) -> str:
    """SHA-256 of the previous root and the canonical list of this checkpoint's heads (and, on
    a restore's line, of what it says of the restore)."""
    canonical = json.dumps([list(head) for head in heads], separators=(",", ":")).encode()
    if restore is not None:
        canonical += json.dumps(restore, separators=(",", ":"), sort_keys=True).encode()
    return hashlib.sha256(bytes.fromhex(previous) + canonical).hexdigest()


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


# Checked by pattern rather than by building UUIDs: a checkpoint's writer reads back the
# last few minutes of heads (hundreds of thousands at a busy hour) every ten seconds.
_DIGEST = re.compile(r"[0-9a-f]{64}")
_CHAIN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")  # as str(UUID)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def _number(value: Any) -> int:
    if type(value) is not int or value < 1:
        raise ValueError(value)
    return value


def _digest(value: Any) -> str:
    if not _DIGEST.fullmatch(_text(value)):
        raise ValueError(value)
    return str(value)


def _time(value: Any) -> str:
    if datetime.fromisoformat(_text(value)).tzinfo is None:
        raise ValueError(value)
    return str(value)


def _restore(value: Any) -> dict[str, Any] | None:
    """What a restore's line says of it: the backup's time, its manifest's hash, and how many
    lines (this one first) list the restored heads."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"backup_at", "manifest", "lines", "part"}:
        raise ValueError(value)
    _time(value["backup_at"])
    _digest(value["manifest"])
    if _number(value["part"]) > _number(value["lines"]):
        raise ValueError(value)
    return value


def _head(value: Any) -> Head:
    chain, seq, digest = value
    if not _CHAIN.fullmatch(_text(chain)):  # one spelling per chain
        raise ValueError(chain)
    return chain, _number(seq), _digest(digest)


# --- writing ------------------------------------------------------------------------------------


@dataclass
class _Tail:
    """Where the witness's own chain stands: the last checkpoint's number, line hash and root."""

    n: int = 0
    prev: str = GENESIS
    root: str = GENESIS

    def extend(
        self,
        signer: AuditSigner,
        at: str,
        heads: list[Head],
        restore: dict[str, Any] | None = None,
    ) -> bytes:
        heads.sort()
        n, root = self.n + 1, heads_root(self.root, heads, restore)
        sig = signer.sign_checkpoint(n, at, root)
        line = Checkpoint(n, at, tuple(heads), self.prev, root, sig, restore).line()
        self.n, self.prev, self.root = n, line_hash(line), root
        return line


def checkpoint(ctx: Context) -> int:
    """Write to the witness the heads that moved since its last checkpoint (all of them the
    first time); returns the number of the last checkpoint written. Writers may run at once
    (the server, ``dmp jobs run``, ``dmp audit checkpoint``): each holds the witness alone from
    reading its last line to appending its own."""
    with ctx.witness.writer() as log:
        tail, since, known = _recent(log, ctx.witness.location)
        at = ctx.now().isoformat(timespec="microseconds")
        with ctx.uow() as uow:
            moved = _moved(uow.audit.heads_signed_since(since), known)
            log.append(tail.extend(ctx.signer, at, batch) for batch in _batches(moved))
    return tail.n


def record_restore(ctx: Context, backup_at: datetime, manifest_sha256: str) -> int:
    """After a restore, before anything else is written to the database: lines listing every
    head of the restored database, marked as a restore's. Returns the number of the first."""
    with ctx.witness.writer() as log:
        tail, _since, _known = _recent(log, ctx.witness.location)
        first = tail.n + 1
        at = ctx.now().isoformat(timespec="microseconds")
        with ctx.uow() as uow:
            heads = [(str(c), seq, digest) for c, seq, digest in uow.audit.heads_signed_since(None)]
        batches = list(_batches(iter(heads)))
        lines = []
        for part, batch in enumerate(batches, 1):
            about = {
                "backup_at": backup_at.isoformat(timespec="microseconds"),
                "manifest": manifest_sha256,
                "lines": len(batches),
                "part": part,
            }
            lines.append(tail.extend(ctx.signer, at, batch, about))
        log.append(lines)
    return first


def _recent(
    log: WitnessLog, location: str
) -> tuple[_Tail, datetime | None, dict[str, tuple[int, str]]]:
    """The witness's last checkpoint, the time from which to look for moved heads, and the heads
    the witness recorded since then: those need not be written again. Without this, every
    checkpoint would list again all the heads of the last MARGIN (thirty times the volume at one
    checkpoint every ten seconds)."""
    lines = log.backwards()
    last_line = next(lines, None)
    if last_line is None:
        return _Tail(), None, {}
    last = parse(last_line)
    if last is None:
        raise WitnessUnavailable(
            f"La dernière ligne du témoin du journal d'audit {location} n'est pas un point de "
            "contrôle : aucun autre ne sera ajouté avant qu'il ait été examiné "
            "(« dmp audit verify »)."
        )
    since = moment(last) - MARGIN
    known: dict[str, tuple[int, str]] = {}
    for line in itertools.chain([last_line], lines):
        if not _known_heads(line, since, known):
            break
    return _Tail(last.n, line_hash(last_line), last.root), since, known


def _known_heads(line: bytes, since: datetime, known: dict[str, tuple[int, str]]) -> bool:
    """Add a line's heads to ``known`` if it was written at or after ``since``; False when it
    was not (or is no checkpoint): the lines before it are older. Unchecked, unlike ``parse``
    (twice as fast on a busy window): a head taken from here only ever spares writing the
    very same head again, and ``dmp audit verify`` checks every line."""
    try:
        data = json.loads(line)
        if datetime.fromisoformat(data["at"]) < since:
            return False
        for chain, seq, digest in data["heads"]:
            known.setdefault(chain, (seq, digest))  # read backwards: the first is the latest
    except (ValueError, KeyError, TypeError):
        return False
    return True


def _moved(
    rows: Iterable[tuple[Any, int, str]], known: dict[str, tuple[int, str]]
) -> Iterator[Head]:
    for dmp_id, seq, digest in rows:
        chain = str(dmp_id)
        if known.get(chain) != (seq, digest):
            yield chain, seq, digest


def _batches(heads: Iterable[Head]) -> Iterator[list[Head]]:
    """The heads by lines of at most MAX_HEADS_PER_LINE; one line even when none moved, which
    says the witness was written to at that time."""
    batch: list[Head] = []
    written = False
    for head in heads:
        batch.append(head)
        if len(batch) == MAX_HEADS_PER_LINE:
            yield batch
            batch, written = [], True
    if batch or not written:
        yield batch

"""Reading the witness back, for ``dmp audit verify``: replay its checkpoints, then hold each
chain of the database against the latest head the witness saw of it. See
``dmp.services.witness`` for what a checkpoint is, and docs/adr/0004-audit-chain.md.

What is found:

- a witness line edited, removed, inserted or cut short (its signature, its number, its link to
  the previous line, its root), and a witness missing, or empty while the database is not;
- a chain that a later checkpoint shows behind an earlier one (rolled back, and seen);
- a chain whose database head is behind the witness's (rolled back, even to an older head that
  we did sign), whose entry at the witnessed number has another hash (rewritten), or that is no
  longer in the database at all (vanished), unless the system chain records its destruction.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple
from uuid import UUID

from dmp.adapters.witness import Witness
from dmp.domain.trail import AuditEntry, ChainHead
from dmp.services.audit import GENESIS, SYSTEM_CHAIN, AuditSigner, Break
from dmp.services.witness import Checkpoint, heads_root, line_hash, parse

DESTROYED = "record.destroyed"  # the system chain's entry for a DMP destroyed in full


@dataclass(frozen=True, slots=True)
class WitnessBreak:
    """A witness line that does not hold (``line`` from 1), or a witness that is not there."""

    line: int | None
    problem: str

    def __str__(self) -> str:
        return self.problem if self.line is None else f"témoin, ligne {self.line} : {self.problem}"


class Seen(NamedTuple):
    seq: int
    hash: str
    n: int  # the checkpoint that showed it


class WitnessedHeads:
    """The latest head the witness saw of each chain, packed: about 180 bytes a chain against
    about 390 as Python objects, for the millions of chains of a region."""

    _PACK = struct.Struct(">QQ32s")

    def __init__(self) -> None:
        self._heads: dict[bytes, bytes] = {}

    def get(self, chain: UUID) -> Seen | None:
        packed = self._heads.get(chain.bytes)
        if packed is None:
            return None
        seq, n, digest = self._PACK.unpack(packed)
        return Seen(seq, digest.hex(), n)

    def __getitem__(self, chain: UUID) -> Seen:
        seen = self.get(chain)
        if seen is None:
            raise KeyError(chain)
        return seen

    def put(self, chain: UUID, seen: Seen) -> None:
        self._heads[chain.bytes] = self._PACK.pack(seen.seq, seen.n, bytes.fromhex(seen.hash))

    def chains(self) -> Iterator[UUID]:
        return (UUID(bytes=key) for key in self._heads)


@dataclass
class Restoration:
    """A restore the witness recorded (``dmp restore``), and what it lost of what the witness
    had seen: chains put back to an earlier head (and how many entries that is), chains the
    backup did not hold at all (created, or destroyed, after it was taken)."""

    n: int  # the first checkpoint of the restore
    at: str
    backup_at: str
    chains: int = 0  # restored heads
    chains_behind: int = 0
    chains_lost: int = 0
    entries_lost: int = 0

    def __str__(self) -> str:
        return (
            f"restauration du {self.at} (point de contrôle n° {self.n}) d'une sauvegarde du "
            f"{self.backup_at} : {self.chains} chaîne(s) restaurée(s) ; par rapport à ce que le "
            f"témoin avait vu, {self.chains_behind} chaîne(s) revenue(s) à une tête antérieure "
            f"et {self.chains_lost} absente(s) de la sauvegarde, soit {self.entries_lost} "
            "entrée(s) perdue(s) avec la restauration"
        )


@dataclass
class Replay:
    heads: WitnessedHeads = field(default_factory=WitnessedHeads)
    breaks: list[Break | WitnessBreak] = field(default_factory=list)
    found: bool = True
    lines: int = 0
    checkpoints: int = 0  # lines that are signed checkpoints
    restorations: list[Restoration] = field(default_factory=list)


def replay(witness: Witness, signer: AuditSigner) -> Replay:
    """Read every checkpoint, check that each follows the previous one (signature, number, link
    to the previous line, root), and gather the latest head of every chain. A chain that a later
    checkpoint shows behind an earlier one was rolled back under the witness's eyes."""
    if not witness.exists():
        missing = WitnessBreak(None, f"témoin introuvable : {witness.location}")
        return Replay(breaks=[missing], found=False)
    reader = _Replayer(signer)
    with witness.reader() as lines:
        for number, raw in enumerate(lines, 1):
            reader.read(number, raw)
    return reader.result


class _Replayer:
    """The state of a replay: the previous checkpoint's number, line hash and root (None when
    unknown, after a line that could not be read), and what was found so far."""

    def __init__(self, signer: AuditSigner) -> None:
        self.signer = signer
        self.result = Replay()
        self.n: int | None = 0
        self.prev: str | None = GENESIS
        self.root: str | None = GENESIS
        self.before: WitnessedHeads | None = None  # the heads seen before a restore's lines

    def read(self, number: int, raw: bytes) -> None:
        self.result.lines += 1
        problem = self._check(raw)
        if problem is not None:
            self.result.breaks.append(WitnessBreak(number, problem))

    def _check(self, raw: bytes) -> str | None:
        body = raw.removesuffix(b"\n")
        checkpoint = parse(body)
        if body == raw or checkpoint is None:
            self.n = self.prev = self.root = None
            return (
                "ligne incomplète (écriture interrompue ?)"
                if body == raw
                else "ligne illisible : ce n'est pas un point de contrôle"
            )
        if not self.signer.valid_checkpoint(
            checkpoint.n, checkpoint.at, checkpoint.root, checkpoint.sig
        ):
            self.n = self.prev = self.root = None
            return "signature invalide : ligne modifiée, ou écrite avec une autre clé"
        self.result.checkpoints += 1
        return self._follow(checkpoint, body)

    def _follow(self, checkpoint: Checkpoint, body: bytes) -> str | None:
        """Check a signed checkpoint against the previous one, then take it as the previous one:
        a line removed or edited is reported once, not again on every line after it."""
        problem = self._link(checkpoint)
        edited = (
            problem is None
            and self.root is not None
            and heads_root(self.root, checkpoint.heads, checkpoint.restore) != checkpoint.root
        )
        if edited:
            problem = "les têtes ne correspondent plus à l'empreinte signée (root) : ligne modifiée"
        if problem is None and self.root is not None and self.n is not None:
            self._merge(checkpoint)
        self.n, self.root = checkpoint.n, checkpoint.root
        self.prev = None if edited else line_hash(body)
        return problem

    def _link(self, checkpoint: Checkpoint) -> str | None:
        if self.n is not None and checkpoint.n != self.n + 1:
            return (
                f"point de contrôle n° {checkpoint.n} à la place du n° {self.n + 1} : "
                "ligne supprimée, insérée ou déplacée"
            )
        if self.prev is not None and checkpoint.prev != self.prev:
            return "la ligne précédente a été modifiée (son empreinte n'est plus celle attendue)"
        return None

    def _merge(self, checkpoint: Checkpoint) -> None:
        restore = checkpoint.restore
        if restore is not None and restore["part"] == 1:
            self.before, self.result.heads = self.result.heads, WitnessedHeads()
            self.result.restorations.append(
                Restoration(checkpoint.n, checkpoint.at, restore["backup_at"])
            )
        self._merge_heads(checkpoint)
        if restore is not None and restore["part"] == restore["lines"] and self.before is not None:
            self._account(self.before, self.result.restorations[-1])
            self.before = None

    def _account(self, before: WitnessedHeads, restoration: Restoration) -> None:
        """What the restore lost of what the witness had seen; a restored head under the same
        number as a witnessed one but with another hash is no earlier state: a break."""
        after = self.result.heads
        restoration.chains = sum(1 for _ in after.chains())
        for chain in before.chains():
            seen, now = before[chain], after.get(chain)
            if now is None:
                restoration.chains_lost += 1
                restoration.entries_lost += seen.seq
            elif now.seq < seen.seq:
                restoration.chains_behind += 1
                restoration.entries_lost += seen.seq - now.seq
            elif now.seq == seen.seq and now.hash != seen.hash:
                self.result.breaks.append(
                    Break(
                        chain,
                        now.seq,
                        f"la restauration (point de contrôle n° {now.n}) a remis sous ce numéro "
                        f"une autre entrée que celle que le témoin avait vue (point de contrôle "
                        f"n° {seen.n}) : ce n'est pas un état antérieur de la chaîne",
                    )
                )

    def _merge_heads(self, checkpoint: Checkpoint) -> None:
        heads = self.result.heads
        for chain_id, seq, digest in checkpoint.heads:
            chain = UUID(chain_id)
            seen = heads.get(chain)
            if seen is not None:
                problem = _moved_back(chain, seen, Seen(seq, digest, checkpoint.n))
                if problem is not None:
                    self.result.breaks.append(problem)
            if seen is None or seq > seen.seq:
                heads.put(chain, Seen(seq, digest, checkpoint.n))


def _moved_back(chain: UUID, before: Seen, after: Seen) -> Break | None:
    if after.seq < before.seq:
        return Break(
            chain,
            None,
            f"le témoin l'a vue revenir en arrière : n° {before.seq} au point de contrôle "
            f"n° {before.n}, puis n° {after.seq} au point de contrôle n° {after.n}",
        )
    if after.seq == before.seq and after.hash != before.hash:
        return Break(
            chain,
            after.seq,
            f"le témoin a vu deux entrées différentes sous ce numéro (points de contrôle "
            f"n° {before.n} et n° {after.n}) : chaîne réécrite",
        )
    return None


def empty_witness(witness: Witness) -> WitnessBreak:
    return WitnessBreak(
        None,
        f"témoin vide : {witness.location} (aucun point de contrôle, alors que la base "
        "contient des entrées)",
    )


class Tap:
    """Watches a chain's entries on their way to ``verify_chain``, to hold the chain against
    the witness without reading it twice: the hash of the entry the witness saw, the last
    number read, and (on the system chain) the destructions of ``gone`` DMPs it records."""

    def __init__(self, seen: Seen | None, gone: set[UUID]) -> None:
        self.seen = seen
        self.gone = {str(dmp_id) for dmp_id in gone}
        self.last: int | None = None
        self.hash_at_seen: str | None = None
        self.destroyed: set[UUID] = set()

    def watch(self, entries: Iterable[AuditEntry]) -> Iterator[AuditEntry]:
        for entry in entries:
            self.last = entry.seq
            if self.seen is not None and entry.seq == self.seen.seq:
                self.hash_at_seen = entry.hash
            if entry.action == DESTROYED and entry.target_id in self.gone:
                self.destroyed.add(UUID(entry.target_id))
            yield entry

    def compare(self, dmp_id: UUID, head: ChainHead | None) -> Break | None:
        """The chain in the database against the latest head the witness saw of it."""
        seen = self.seen
        if seen is None:
            return None
        if head is None and self.last is None:
            return vanished(dmp_id, seen)
        reached = head.seq if head is not None else self.last  # a head deleted alone
        if reached is not None and reached < seen.seq:
            return Break(
                dmp_id,
                None,
                f"la chaîne est revenue en arrière : la base s'arrête au n° {reached} alors "
                f"que le témoin a vu le n° {seen.seq} (point de contrôle n° {seen.n})",
            )
        rewritten = self.hash_at_seen not in (None, seen.hash) or (
            head is not None and head.seq == seen.seq and head.hash != seen.hash
        )
        if rewritten:
            return Break(
                dmp_id,
                seen.seq,
                f"l'entrée n'est plus celle que le témoin a vue (point de contrôle n° {seen.n}) "
                ": chaîne réécrite",
            )
        return None


def vanished(dmp_id: UUID, seen: Seen) -> Break:
    after = "" if dmp_id == SYSTEM_CHAIN else ", et aucune destruction de ce DMP n'est enregistrée"
    return Break(
        dmp_id,
        None,
        f"la chaîne a disparu de la base alors que le témoin l'a vue jusqu'au n° {seen.seq} "
        f"(point de contrôle n° {seen.n}){after}",
    )

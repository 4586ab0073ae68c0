"""Bring the database to the latest revision: ``dmp db upgrade``, and ``dmp demo`` at start.

Alembic revisions change the schema. Some changes also need the keys, which a migration script
does not have: such a revision is followed by an application step, run here while the database
stands at that revision, before the next one. Revision 0003 adds the sealed columns; its step
seals every clear INS and address into them (and names an INS by its blind index in the audit
trail), emptying the clear columns; revision 0004 drops those, and refuses to while a clear
value is left — so a plain ``alembic upgrade head`` cannot lose data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from uuid import UUID

from dmp.adapters.db.legacy import CLEAR_INS_TARGET, ClearRecord, LegacyRepository
from dmp.adapters.db.migrate import compact, current_revision, pending_revisions, upgrade
from dmp.adapters.fieldcipher import FieldCipher
from dmp.adapters.keystore import KeyDestroyed
from dmp.domain.model import SystemActor
from dmp.domain.trail import AuditEntry
from dmp.errors import IntegrityError, MigrationRefused
from dmp.services import audit
from dmp.services.context import Context
from dmp.services.witness import checkpoint

_PageSealer = Callable[[Context, LegacyRepository], int]
SEALING_REVISION = "0003"
MIGRATION = SystemActor("migration")
_PAGE = 500
_LABELS = {
    "records": "INS de DMP scellés et indexés",
    "tombstones": "INS de stèles remplacés par leur index",
    "accounts": "comptes aux coordonnées scellées",
    "messages": "messages en attente aux adresses scellées",
    "audit": "entrées du journal nommant un INS par son index",
}


@dataclass(frozen=True)
class Migration:
    """Where the database stands, and what the sealing step did (nothing if it did not run)."""

    revision: str | None
    sealed: dict[str, int] = field(default_factory=dict)
    postgresql: bool = False
    checkpoint: int = 0  # the witness's checkpoint written after it
    grouped: int = 0  # keys put in their DMP's group (a key store of an earlier version)

    def lines(self) -> list[str]:
        lines = [f"Base à jour (révision {self.revision})."]
        lines += [f"{_LABELS[what]} : {n}" for what, n in self.sealed.items() if n]
        if self.grouped:
            lines.append(f"clés rangées avec celles de leur DMP : {self.grouped}")
        if self.postgresql and any(self.sealed.values()):
            lines.append(
                "PostgreSQL garde les anciennes versions des lignes jusqu'à leur réécriture : "
                "lancez « VACUUM FULL records, tombstones, accounts, outbox, audit_entries » "
                "(voir le README)."
            )
        return lines


def migrate_database(ctx: Context) -> Migration:
    """Apply the pending revisions one at a time, each followed by its application step; then
    write a checkpoint to the audit trail's witness (on a new install its first one, so that
    ``dmp audit verify`` has a witness from the start)."""
    sealed: dict[str, int] = {}
    while True:
        if current_revision(ctx.engine) == SEALING_REVISION:
            _witness_not_yet_written(ctx)
            sealed = seal_clear_values(ctx)
        pending = pending_revisions(ctx.engine)
        if not pending:
            break
        upgrade(ctx.engine, pending[0])
    if any(sealed.values()):
        compact(ctx.engine)
    grouped = group_keys(ctx)
    postgresql = ctx.engine.dialect.name == "postgresql"
    return Migration(current_revision(ctx.engine), sealed, postgresql, checkpoint(ctx), grouped)


def group_keys(ctx: Context) -> int:
    """Put each key the key store holds without a group (written by an earlier version) in its
    group: a document's key in its DMP's, any other key in its own (docs/adr/0002). Page by page
    (an interrupted run resumes); how many keys it grouped."""
    done = 0
    while ungrouped := ctx.keys.store.ungrouped(_PAGE):
        with ctx.uow() as uow:
            documents = uow.documents.owners(ungrouped)
        done += ctx.keys.store.group({key: documents.get(key, key) for key in ungrouped})
    return done


def _witness_not_yet_written(ctx: Context) -> None:
    """The sealing step rewrites, once, the audit entries that named an INS. A witness that
    already holds checkpoints of those chains would then rightly report them rewritten: refuse,
    and let the operator keep that witness aside (it attests the trail before the upgrade) and
    start a new one."""
    with ctx.uow() as uow:
        rewritten = LegacyRepository(uow.connection).chains_naming_ins()
    if rewritten and ctx.witness.exists() and _has_checkpoints(ctx):
        raise MigrationRefused(
            f"Le témoin du journal d'audit ({ctx.witness.location}) a déjà enregistré des "
            "chaînes que cette mise à jour réécrit une fois (les entrées qui nommaient un INS) : "
            "conservez-le à part comme attestation du journal avant la mise à jour, retirez-le, "
            "puis relancez « dmp db upgrade », qui en commencera un nouveau."
        )


def _has_checkpoints(ctx: Context) -> bool:
    with ctx.witness.reader() as lines:
        return next(iter(lines), None) is not None


def seal_clear_values(ctx: Context) -> dict[str, int]:
    """The step after revision 0003: seal what was in clear, page by page (an interrupted run
    resumes where it stopped). Returns how many rows of each kind it sealed."""
    return {
        "records": _pages(ctx, _seal_records),
        "tombstones": _pages(ctx, _seal_tombstones),
        "accounts": _pages(ctx, _seal_accounts),
        "messages": _pages(ctx, _seal_messages),
        "audit": _rewrite_audit(ctx),
    }


def _pages(ctx: Context, seal_page: _PageSealer) -> int:
    """Run ``seal_page`` in one transaction per page until it finds nothing left."""
    done = 0
    while True:
        with ctx.uow() as uow:
            count = seal_page(ctx, LegacyRepository(uow.connection))
            uow.commit()
        if not count:
            return done
        done += count


def _seal_records(ctx: Context, legacy: LegacyRepository) -> int:
    page = legacy.records(_PAGE)
    ctx.keys.prefetch([record.dmp_id for record in page])
    for record in page:
        legacy.seal_record(record.dmp_id, ctx.index.ins(record.ins), _sealed_ins(ctx, record))
    return len(page)


def _sealed_ins(ctx: Context, record: ClearRecord) -> bytes | None:
    """The INS sealed under its DMP's key; None when that key is already shredded (a
    destruction cut short: the tombstone will need only the index)."""
    try:
        key = ctx.keys.get(record.dmp_id)
    except KeyDestroyed:
        return None
    return FieldCipher(record.dmp_id, key).seal("ins", "record", record.ins)


def _seal_tombstones(ctx: Context, legacy: LegacyRepository) -> int:
    page = legacy.tombstones(_PAGE)
    for tomb in page:
        legacy.seal_tombstone(tomb.id, ctx.index.ins(tomb.ins))
    return len(page)


def _seal_accounts(ctx: Context, legacy: LegacyRepository) -> int:
    """Each account gets its key (kept if a previous, interrupted run created it)."""
    page = legacy.accounts(_PAGE)
    for account in page:
        cipher = FieldCipher(account.id, ctx.keys.open_or_create(account.id))
        legacy.seal_account(
            account.id,
            cipher.seal_optional("email", "account", account.email),
            cipher.seal_optional("phone", "account", account.phone),
        )
    return len(page)


def _seal_messages(ctx: Context, legacy: LegacyRepository) -> int:
    """A message to a bare address keeps it sealed under a key of its own until it is sent; a
    message already sent keeps no address at all."""
    page = legacy.contact_messages(_PAGE)
    for message in page:
        params = json.loads(message.params)
        addresses = {"email": params.pop("email", ""), "phone": params.pop("phone", "")}
        sealed = None
        if message.sent_at is None and any(addresses.values()):
            cipher = FieldCipher(message.id, ctx.keys.open_or_create(message.id))
            sealed = cipher.seal("contact", "outbox", json.dumps(addresses))
        legacy.rewrite_message(message.id, json.dumps(params, ensure_ascii=False), sealed)
    return len(page)


def _rewrite_audit(ctx: Context) -> int:
    with ctx.uow() as uow:
        chains = LegacyRepository(uow.connection).chains_naming_ins()
    return sum(_rewrite_chain(ctx, chain, first) for chain, first in chains)


def _rewrite_chain(ctx: Context, chain: UUID, first: int) -> int:
    """Name each INS of this chain by its blind index, from its first entry naming one: those
    entries and every later one get new hashes, the head is signed again, and the system chain
    records which entries were rewritten. A chain that does not verify is not rewritten: that
    would sign over its tampering."""
    with ctx.uow() as uow:
        legacy = LegacyRepository(uow.connection)
        head = uow.audit.head(chain, for_update=True)
        _, broken = audit.verify_chain(uow.audit.chain(chain), head, ctx.signer, chain)
        if broken is not None:
            raise IntegrityError(
                f"Le journal d'audit est rompu ({broken}) : il n'est pas réécrit. Vérifiez-le "
                "avec « dmp audit verify » avant de migrer."
            )
        renamed, last = _rehash_from(ctx, legacy, chain, first)
        now = ctx.now()
        signature = ctx.signer.sign(chain, last.seq, last.hash)
        legacy.move_head(
            chain, {"seq": last.seq, "hash": last.hash, "signature": signature, "signed_at": now}
        )
        target = ("audit-entries", f"{chain}/{first}-{last.seq}")
        event = audit.Event("audit.rewrite", True, "ins-index", *target)
        audit.append(uow, ctx.signer, now, None, MIGRATION, event)
        uow.commit()
    return renamed


def _rehash_from(
    ctx: Context, legacy: LegacyRepository, chain: UUID, first: int
) -> tuple[int, AuditEntry]:
    """Rewrite the entries from ``first`` on, page by page; returns how many named an INS, and
    the last entry as rewritten. The entry before ``first`` is unchanged, and so is the link
    to it."""
    renamed, seq, last = 0, first, None
    prev_hash = None
    while page := legacy.entries(chain, seq, _PAGE):
        rewritten = []
        for stored in page:
            prev_hash = stored.prev_hash if prev_hash is None else prev_hash
            target_kind, target_id = stored.target_kind, stored.target_id
            if target_kind == CLEAR_INS_TARGET and target_id is not None:
                target_kind, target_id = "ins-index", ctx.index.ins(target_id)
                renamed += 1
            linked = replace(
                stored, target_kind=target_kind, target_id=target_id, prev_hash=prev_hash
            )
            entry = replace(linked, hash=audit.entry_hash(linked))
            prev_hash = entry.hash
            rewritten.append(entry)
        legacy.replace_entries(chain, rewritten)
        seq, last = page[-1].seq + 1, rewritten[-1]
    assert last is not None  # ``first`` is the number of an entry of this chain
    return renamed, last

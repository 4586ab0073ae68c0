"""Backing up and restoring the data (``dmp backup``, ``dmp restore``), online, consistent, and
faithful to every destruction made since the backup. See docs/adr/0013-backup-and-restore.md.

- **What is taken**: the data database and the content files; never the key store (ADR 2),
  nor the witness (kept apart, ADR 4).
- **Consistent while the service writes**: the database first (one snapshot), then the content
  files. A content file is written, durably, before the transaction that refers to it commits
  (ADR 3), so every content the snapshot refers to is already there when the files are copied;
  files written after the snapshot are orphans in the backup, swept after a restore by
  ``dmp jobs run``. A content deleted between the two (a destruction) is missing from the
  backup; the key store's shredding ledger has the destruction, and the restore applies it.
- **Destruction survives a restore**: the key store is not restored, so a DMP or document
  destroyed after the backup has no key any more (its data stay ciphertext); and its shredding
  is in the key store's ledger, written in the transaction that deleted the key. The restore
  reads that ledger and destroys again what the backup brought back: rows, tombstone, contents.
- **The audit trail** of a restored database is shorter than what the witness saw: the restore
  writes lines of its own to the witness, listing the restored heads, and ``dmp audit verify``
  reports what was lost (``witness_check.Restoration``) instead of calling it a rollback.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from dmp.adapters.backupdir import BackupDirectory, sha256_file
from dmp.adapters.db import backup as db_copy
from dmp.adapters.db.migrate import head_revision
from dmp.adapters.keystore import Shredded
from dmp.domain.model import SystemActor
from dmp.errors import ConfigurationError, IntegrityError, InvalidInput, NotFound
from dmp.services import audit, records
from dmp.services.context import Context
from dmp.services.witness import checkpoint, parse, record_restore
from dmp.services.witness_check import Seen

_RESTORE = SystemActor("restore")
_BATCH = 500


@dataclass
class Taken:
    """What ``dmp backup`` took."""

    directory: Path
    taken_at: datetime
    census: dict[str, int]
    blobs: int = 0
    blob_bytes: int = 0
    vanished: int = 0  # contents deleted (destroyed) while they were being copied

    def lines(self) -> list[str]:
        c = self.census
        return [
            f"Sauvegarde écrite dans {self.directory} (instantané de la base du "
            f"{self.taken_at:%d/%m/%Y %H:%M:%S} UTC).",
            f"{c['records']} DMP, {c['documents']} document(s), {c['tombstones']} pierre(s) "
            f"tombale(s) ; {self.blobs} fichier(s) de contenu ({self.blob_bytes} octets).",
            "Le magasin de clés n'est pas dans la sauvegarde : sauvegardez-le à part, avec une "
            "courte rétention (voir le README).",
        ]


@dataclass
class Restored:
    """What ``dmp restore`` put back, and what it destroyed again."""

    backup_at: datetime
    census: dict[str, int] = field(default_factory=dict)
    blobs: int = 0
    blobs_skipped: int = 0  # contents of DMPs destroyed since: never copied back
    records_destroyed: int = 0
    documents_destroyed: int = 0
    tombstones_added: int = 0
    files_removed: int = 0
    witnessed: int = 0  # chains whose restored entries were held against the witness
    witness_line: int = 0

    def lines(self) -> list[str]:
        c = self.census
        return [
            f"Sauvegarde du {self.backup_at:%d/%m/%Y %H:%M:%S} UTC restaurée : {self.blobs} "
            f"fichier(s) de contenu copié(s), {self.blobs_skipped} écarté(s) (DMP détruits).",
            f"Destructions postérieures à la sauvegarde appliquées de nouveau : "
            f"{self.records_destroyed} DMP, {self.documents_destroyed} document(s), "
            f"{self.tombstones_added} pierre(s) tombale(s) ajoutée(s), {self.files_removed} "
            "fichier(s) supprimé(s).",
            f"Après restauration : {c.get('records', 0)} DMP, {c.get('documents', 0)} "
            f"document(s), {c.get('tombstones', 0)} pierre(s) tombale(s).",
            f"Témoin : {self.witnessed} chaîne(s) confrontée(s) à ce qu'il avait vu ; "
            f"restauration inscrite au point de contrôle n° {self.witness_line}.",
        ]


# --- backup ---------------------------------------------------------------------------------


def take_backup(ctx: Context, directory: Path) -> Taken:
    """The database (one snapshot), then the content files, then the manifest (last)."""
    target = BackupDirectory(directory)
    target.create()
    url = ctx.settings.database_url
    with ctx.reader() as uow:
        census = uow.records.census()
    revision = db_copy.schema_revision(ctx.engine)
    taken = Taken(directory, ctx.now(), census)
    database = db_copy.file_name(url)
    db_copy.dump(url, target.path(database))
    listing = list(_copy_blobs(ctx, target, taken))
    listing_hash, count = target.write_listing(listing)
    db_hash, db_size = sha256_file(target.path(database))
    manifest = {
        "format": "dmp-backup/1",
        "taken_at": taken.taken_at.isoformat(),
        "finished_at": ctx.now().isoformat(),
        "backend": db_copy.backend_of(url),
        "schema_revision": revision,
        "census": census,
        "database": {"file": database, "sha256": db_hash, "bytes": db_size},
        "blobs": {
            "listing": "blobs.sha256",
            "sha256": listing_hash,
            "files": count,
            "bytes": taken.blob_bytes,
        },
        "keys": "absentes : le magasin de clés se sauvegarde à part (ADR 2 et 14)",
    }
    target.write_manifest(manifest)
    return taken


def _copy_blobs(ctx: Context, target: BackupDirectory, taken: Taken) -> Iterator[tuple[str, str]]:
    for key in ctx.blobs.stored_keys():
        try:
            digest, size = target.write_blob(key, ctx.blobs.open(key))
        except NotFound:  # destroyed between the listing and the copy
            target.drop_blob(key)
            taken.vanished += 1
            continue
        taken.blobs += 1
        taken.blob_bytes += size
        yield digest, key


# --- restore --------------------------------------------------------------------------------


def restore_backup(ctx: Context, directory: Path) -> Restored:
    """Check the backup, put the database and the contents back, tell the witness, then
    destroy again what was destroyed since the backup. The service must be stopped. A restore
    cut short can be run again from the start."""
    source = BackupDirectory(directory)
    manifest, manifest_hash = source.read_manifest()
    _check_compatible(ctx, manifest)
    database = manifest["database"]
    source.check_file(database["file"], database["sha256"])
    source.check_file("blobs.sha256", manifest["blobs"]["sha256"])
    for digest, key in source.listing():  # all checked before anything is replaced
        source.check_file(f"blobs/{key}", digest)
    shredded = list(ctx.keys.store.shredded())
    gone_dmps = {s.owner_id for s in shredded if s.note.ins_index is not None}
    result = Restored(datetime.fromisoformat(manifest["taken_at"]))
    ctx.engine.dispose()  # no connection of ours across the replacement
    db_copy.load(ctx.settings.database_url, source.path(database["file"]))
    ctx.engine.dispose()
    for digest, key in source.listing():
        if UUID(key.partition("/")[0]) in gone_dmps:
            result.blobs_skipped += 1
            continue
        ctx.blobs.put(key, source.read_blob(key, digest))
        result.blobs += 1
    result.witnessed = _hold_against_witness(ctx)
    result.witness_line = record_restore(ctx, result.backup_at, manifest_hash)
    _destroy_again(ctx, shredded, result)
    checkpoint(ctx)
    with ctx.reader() as uow:
        result.census = uow.records.census()
    return result


def _check_compatible(ctx: Context, manifest: dict[str, Any]) -> None:
    _check_shape(manifest)
    backend = db_copy.backend_of(ctx.settings.database_url)
    if manifest.get("backend") != backend:
        raise ConfigurationError(
            f"Cette sauvegarde vient d'une base {manifest.get('backend')}, la base configurée "
            f"(DMP_DATABASE_URL) est {backend} : restaurez-la dans une base du même type."
        )
    if manifest.get("schema_revision") != head_revision():
        raise ConfigurationError(
            f"Cette sauvegarde est au schéma {manifest.get('schema_revision')}, cette version de "
            f"dmp au schéma {head_revision()} : restaurez-la avec la version de dmp qui l'a "
            "prise, puis mettez à jour (« dmp db upgrade »)."
        )


def _check_shape(manifest: dict[str, Any]) -> None:
    """The fields a restore reads, of the expected kinds; the database copy named as a backup
    names it (never a path of the operator's choosing elsewhere)."""
    try:
        database, blobs = manifest["database"], manifest["blobs"]
        datetime.fromisoformat(manifest["taken_at"])
        well_formed = (
            database["file"] in (db_copy.SQLITE_FILE, db_copy.PG_DUMP_FILE)
            and isinstance(database["sha256"], str)
            and isinstance(blobs["sha256"], str)
        )
    except (KeyError, TypeError, ValueError):
        well_formed = False
    if not well_formed:
        raise InvalidInput("Manifeste de sauvegarde incomplet ou invalide : restauration refusée.")


def _hold_against_witness(ctx: Context) -> int:
    """Each restored chain must be an earlier state of what the witness saw: for each chain,
    the latest head the witness saw at or before the restored head's number must be the
    restored entry of that number (the hash chain then vouches for every entry before it).
    Otherwise the backup is not of this install, or was altered: refused before anything is
    written to the witness or destroyed. Returns how many chains could be held so."""
    with ctx.uow() as uow:  # streamed: a transaction (a server-side cursor on PostgreSQL)
        restored = {chain: seq for chain, seq, _ in uow.audit.heads_signed_since(None)}
    anchors: dict[UUID, Seen] = {}
    if ctx.witness.exists():
        with ctx.witness.reader() as lines:
            for number, raw in enumerate(lines, 1):
                found = parse(raw.removesuffix(b"\n"))
                if found is not None and found.restore is not None and found.restore["part"] == 1:
                    anchors.clear()  # an earlier restore: what came before it is superseded
                for chain_id, seq, digest in found.heads if found else ():
                    chain = UUID(chain_id)
                    limit = restored.get(chain)
                    best = anchors.get(chain)
                    if limit is not None and seq <= limit and (best is None or seq >= best.seq):
                        anchors[chain] = Seen(seq, digest, number)
    with ctx.reader() as uow:
        for chain, seen in anchors.items():
            if uow.audit.hash_at(chain, seen.seq) != seen.hash:
                raise IntegrityError(
                    f"Restauration refusée : la chaîne d'audit {chain} de la sauvegarde ne "
                    f"concorde pas avec le témoin (entrée n° {seen.seq}, ligne {seen.n}) : "
                    "cette sauvegarde n'est pas un état antérieur de cette installation, ou "
                    "elle a été altérée."
                )
    return len(anchors)


def _destroy_again(ctx: Context, shredded: list[Shredded], result: Restored) -> None:
    """Every key shredded since is a DMP, a document, an account or a message destroyed: the
    DMPs and documents the restored database still holds are destroyed again."""
    others: list[Shredded] = []
    for entry in shredded:
        note = entry.note
        if note.ins_index is None:
            others.append(entry)
            continue
        requested_by = note.requested_by or "patient"
        files = records.finish_destruction(ctx, entry.owner_id, requested_by, destroyed_at=entry.at)
        if files is not None:
            result.records_destroyed += 1
            result.tombstones_added += 1
            result.files_removed += files
        elif records.restore_tombstone(ctx, entry.owner_id, note.ins_index, requested_by, entry.at):
            result.tombstones_added += 1
    for start in range(0, len(others), _BATCH):
        _destroy_documents(ctx, [e.owner_id for e in others[start : start + _BATCH]], result)


def _destroy_documents(ctx: Context, ids: list[UUID], result: Restored) -> None:
    """Documents destroyed (partial destruction) after the backup: their rows and contents go,
    and the system chain says so (their DMP's chain is the restored one, shorter than the
    witness's: it is not written to here)."""
    with ctx.uow() as uow:
        owners = uow.documents.owners(ids)
        blob_keys: list[str] = []
        for document_id, dmp_id in owners.items():
            blob_keys += uow.documents.destroy(dmp_id, [document_id])
            event = audit.Event("document.destroyed", True, "restore", "document", document_id)
            audit.append(uow, ctx.signer, ctx.now(), None, _RESTORE, event)
        uow.commit()
    for key in blob_keys:
        ctx.blobs.delete(key)
    result.documents_destroyed += len(owners)
    result.files_removed += len(blob_keys)

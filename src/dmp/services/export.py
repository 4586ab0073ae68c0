"""A copy of the whole DMP for the patient to take away (SPEC §5), as one ZIP archive:

- ``LISEZMOI.txt``: a summary in French (whose DMP, its state, what the archive holds);
- ``documents/``: the content of every document the reader may read (not those awaiting the
  announcement consultation; for a legal representative, not those kept from them), older
  versions and archived ones included;
- ``metadonnees/documents.fhir.json``: the documents' metadata as a FHIR ``Bundle`` of
  ``DocumentReference`` (the API's own mapping, handed in by the caller: ``Describe``), each
  attachment pointing to its file in the archive;
- ``historique/historique.csv`` and ``historique/historique.txt``: the access history, as a
  table and as the sentences the history page shows (a representative's copy without the
  minor's secret entries).

Available at any time, a closed DMP included, and right before destroying it
(``policy.export_record``). The door opens the DMP once for the export (its audit entry,
``record.export``); each content is then read through ``documents.open_content``, which audits
its retrieval, and streamed from the content store into the archive: no document is held in
memory whole, nor the history (read a page at a time). The archive goes to ``sink``, a
write-only stream the caller provides (a sealed temporary file, say).
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Protocol
from uuid import UUID

from dmp import policy
from dmp.domain.french import day_fr, moment_fr
from dmp.domain.model import Actor, DocStatus, Document, RecordState
from dmp.errors import NotFound
from dmp.services import documents, gate
from dmp.services.context import Context
from dmp.services.documents import as_documents
from dmp.services.gate import Door, Reading
from dmp.services.history import MAX_PAGE, HistoryEntry, HistoryQuery, entries_of
from dmp.services.jobs import RETENTION_YEARS, months_before

# A document's contents, by (document, position), as paths in the archive → a FHIR Bundle.
Files = dict[tuple[UUID, int], str]
Describe = Callable[[list[Document], Files], dict[str, Any]]

SUMMARY = "LISEZMOI.txt"
BUNDLE = "metadonnees/documents.fhir.json"
HISTORY_CSV = "historique/historique.csv"
HISTORY_TEXT = "historique/historique.txt"
_EXTENSIONS = {
    "application/pdf": "pdf",
    "text/xml": "xml",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/tiff": "tif",
    "text/plain": "txt",
}
_STATUS = {
    DocStatus.ARCHIVED: "archivé",
    DocStatus.SUPERSEDED: "remplacé par une version plus récente",
}
_CSV_COLUMNS = (
    "date",
    "qui",
    "profession",
    "etablissement",
    "action",
    "resultat",
    "motif_du_refus",
    "mode_d_acces",
    "justification",
    "phrase",
)


@dataclass(frozen=True, slots=True)
class Exported:
    file_name: str  # the name proposed for the archive
    documents: int  # the contents written
    missing: int  # contents gone between the list and their reading (destroyed meanwhile)


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """The DMP as the door showed it, for the summary."""

    patient_name: str
    state: RecordState
    created_at: datetime
    closed_at: datetime | None
    documents: list[Document]


class Sink(Protocol):
    """Where the archive goes: a stream written once, front to back (not seekable)."""

    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


def export_record(
    ctx: Context, actor: Actor, dmp_id: UUID, sink: Sink, describe: Describe
) -> Exported:
    """Write the archive of the DMP to ``sink``, as this person may see it."""
    now = ctx.now()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        snapshot = _history_and_snapshot(ctx, actor, dmp_id, archive)
        files, missing = _contents(ctx, actor, dmp_id, snapshot.documents, archive)
        _write_json(archive, BUNDLE, describe(snapshot.documents, files))
        _write_text(archive, SUMMARY, _summary(snapshot, files, missing, now))
    stamp = now.strftime("%Y%m%d")
    return Exported(f"dmp-{stamp}.zip", len(files), missing)


def _history_and_snapshot(
    ctx: Context, actor: Actor, dmp_id: UUID, archive: zipfile.ZipFile
) -> _Snapshot:
    """Open the DMP for the export (a refusal is written and raised), list its documents, copy
    its history; then write the export's entry (last: the chain's head is locked only then)."""
    with ctx.uow() as uow:
        door = gate.enter(ctx, uow, Reading(actor), "record.export", dmp_id, policy.export_record)
        readable = door.readable_documents()
        visible = frozenset(d.document.id for d in readable)
        found = as_documents(ctx, door, readable, visible)
        _write_history_csv(ctx, door, archive)
        _write_history_text(ctx, door, archive)
        identity, record = door.loaded.identity, door.loaded.record
        snapshot = _Snapshot(
            f"{identity.given_names} {identity.family_name}",
            door.facts.state,
            record.created_at,
            record.closed_at,
            found,
        )
        door.record()
        uow.commit()
    return snapshot


def _pages(ctx: Context, door: Door) -> Iterator[HistoryEntry]:
    """Every entry of the history this reader may see, newest first, a page at a time."""
    before = None
    while True:
        page = entries_of(ctx, door, HistoryQuery(), before_seq=before, limit=MAX_PAGE)
        yield from page.entries
        if page.next_before is None:
            return
        before = page.next_before


def _write_history_csv(ctx: Context, door: Door, archive: zipfile.ZipFile) -> None:
    with archive.open(HISTORY_CSV, "w") as raw, _text(raw, bom=True) as text:
        writer = csv.writer(text, delimiter=";")
        writer.writerow(_CSV_COLUMNS)
        for entry in _pages(ctx, door):
            writer.writerow([_cell(v) for v in _row(entry)])


def _write_history_text(ctx: Context, door: Door, archive: zipfile.ZipFile) -> None:
    with archive.open(HISTORY_TEXT, "w") as raw, _text(raw) as text:
        text.write("Historique des accès à votre DMP, du plus récent au plus ancien.\n\n")
        for entry in _pages(ctx, door):
            text.write(entry.sentence + "\n")


def _row(entry: HistoryEntry) -> list[str]:
    return [
        entry.at.isoformat(),
        entry.actor_label,
        entry.profession or "",
        entry.establishment or "",
        entry.action,
        "autorisé" if entry.allowed else "refusé",
        "" if entry.allowed else entry.reason,
        entry.mode,
        entry.justification or "",
        entry.sentence,
    ]


def _cell(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (a justification is written
    by whoever accessed the DMP)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _contents(
    ctx: Context, actor: Actor, dmp_id: UUID, found: list[Document], archive: zipfile.ZipFile
) -> tuple[Files, int]:
    """Each content, read through ``documents.open_content`` (its retrieval audited), streamed
    into the archive."""
    files: Files = {}
    missing = 0
    for number, doc in enumerate(found, start=1):
        for content in doc.contents:
            name = _file_name(number, doc, content.position, content.mime_type)
            try:
                _, chunks = documents.open_content(
                    ctx, Reading(actor), dmp_id, doc.id, content.position
                )
            except NotFound:  # destroyed since the list was read
                missing += 1
                continue
            info = zipfile.ZipInfo(name, _zip_time(doc.metadata.creation_time))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w", force_zip64=content.size >= 2**31) as out:
                for chunk in chunks:
                    out.write(chunk)
            files[(doc.id, content.position)] = name
    return files, missing


def _zip_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    year = min(max(moment.year, 1980), 2107)
    return (year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


def _file_name(number: int, doc: Document, position: int, mime_type: str) -> str:
    slug = _slug(doc.metadata.title) or "document"
    part = f"-{position + 1}" if position else ""
    return f"documents/{number:03d}-{slug}{part}.{_EXTENSIONS.get(mime_type, 'bin')}"


def _slug(title: str) -> str:
    """A title as a file name any system accepts: ASCII letters, digits and hyphens."""
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    return re.sub("[^a-z0-9]+", "-", folded.lower()).strip("-")[:60].rstrip("-")


def _text(raw: IO[bytes], *, bom: bool = False) -> io.TextIOWrapper:
    """UTF-8 text into an archive member; with a BOM for the CSV (spreadsheets read its
    accents right then)."""
    return io.TextIOWrapper(raw, encoding="utf-8-sig" if bom else "utf-8", newline="")


def _write_json(archive: zipfile.ZipFile, name: str, value: dict[str, Any]) -> None:
    with archive.open(name, "w") as raw, _text(raw) as text:
        json.dump(value, text, ensure_ascii=False, indent=2)


def _write_text(archive: zipfile.ZipFile, name: str, value: str) -> None:
    with archive.open(name, "w") as raw, _text(raw) as text:
        text.write(value)


def _summary(snapshot: _Snapshot, files: Files, missing: int, now: datetime) -> str:
    """The archive's first page, in French."""
    lines = [
        f"Copie du Dossier Médical Partagé (DMP) de {snapshot.patient_name}",
        f"Exportée le {moment_fr(now)}.",
        "",
        _state(snapshot),
        "",
        "Ce que contient cette archive :",
        "- documents/ : le contenu de chaque document que vous pouvez lire dans votre DMP ;",
        f"- {BUNDLE} : la description de ces documents (type, auteur, dates,",
        "  confidentialité…) au format FHIR, lisible par un logiciel de santé ;",
        f"- {HISTORY_TEXT} : l'historique des accès à votre DMP, en phrases ;",
        f"- {HISTORY_CSV} : le même historique en tableau (tableur).",
        "",
        f"Documents ({len(files)} fichier(s)) :",
    ]
    for doc in snapshot.documents:
        for content in doc.contents:
            name = files.get((doc.id, content.position))
            if name is None:
                continue
            status = _STATUS.get(doc.status)
            lines.append(
                f"- {name} : « {doc.metadata.title} », {day_fr(doc.metadata.creation_time)}, "
                f"{doc.author.display_name}{f' ({status})' if status else ''}"
            )
    if not files:
        lines.append("- aucun document.")
    if missing:
        lines += ["", f"{missing} document(s) détruit(s) pendant l'export n'y figurent pas."]
    lines += [
        "",
        "Les documents qui attendent une consultation d'annonce avec un professionnel de santé",
        "n'y figurent pas encore : ils vous seront rendus visibles après cette consultation.",
        "Cette copie contient des données de santé : conservez-la en lieu sûr.",
        "",
    ]
    return "\n".join(lines)


def _state(snapshot: _Snapshot) -> str:
    if snapshot.state is RecordState.CLOSED and snapshot.closed_at is not None:
        until = months_before(snapshot.closed_at, -12 * RETENTION_YEARS)
        return (
            f"État : fermé le {day_fr(snapshot.closed_at)} ; ses données seront détruites le "
            f"{day_fr(until)}, sauf réactivation par un professionnel de santé à votre demande."
        )
    return f"État : actif, depuis le {day_fr(snapshot.created_at)}."

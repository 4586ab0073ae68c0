"""A backup on disk (``dmp backup <dir>``): the database's copy, the contents, and a manifest.

Layout::

    <dir>/manifest.json        what was taken, when, the schema revision, hashes (written last:
                               a backup without it is incomplete)
    <dir>/database.sqlite3     or database.pgdump (pg_dump's custom format)
    <dir>/blobs.sha256         one line per content file: "<sha256>  <key>" (sha256sum's format)
    <dir>/blobs/<key>          the content files (ciphertext, as the blob store holds them)

Folders 0700, files 0600: contents are ciphertext, but the database's copy holds metadata.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from dmp.adapters.blobs import READ_SIZE, parse_key
from dmp.adapters.files import DIR_MODE, FILE_MODE, private_dir
from dmp.errors import DmpError, IntegrityError, InvalidInput

MANIFEST = "manifest.json"
LISTING = "blobs.sha256"
FORMAT = "dmp-backup/1"


class BackupUnwritable(DmpError):
    code = "backup-unwritable"
    status = 500
    message = "Impossible d'écrire la sauvegarde."


def _unwritable(path: Path, error: OSError) -> BackupUnwritable:
    return BackupUnwritable(
        f"Impossible d'écrire {path} : {error.strerror or error}. La sauvegarde est incomplète "
        "(pas de manifeste) : libérez de la place ou choisissez un autre dossier, et recommencez."
    )


def sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(READ_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class BackupDirectory:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.blobs = root / "blobs"

    # --- writing ---------------------------------------------------------------------------

    def create(self) -> None:
        """A new, empty folder: a backup never overwrites another."""
        if self.root.exists() and any(self.root.iterdir()):
            raise InvalidInput(
                f"Le dossier de sauvegarde {self.root} n'est pas vide : choisissez-en un nouveau."
            )
        try:
            private_dir(self.root)
            private_dir(self.blobs)
        except OSError as error:
            raise BackupUnwritable(f"Impossible de créer {self.root} : {error}.") from error

    def path(self, name: str) -> Path:
        return self.root / name

    def write_blob(self, key: str, chunks: Iterable[bytes]) -> tuple[str, int]:
        """Copy one content file, hashing it on the way; returns its SHA-256 and size."""
        target = self._blob_path(key)
        digest, size = hashlib.sha256(), 0
        try:
            target.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
        except OSError as error:
            raise _unwritable(target, error) from error
        return digest.hexdigest(), size

    def drop_blob(self, key: str) -> None:
        """A content deleted while it was being copied (a destruction): not in the backup."""
        self._blob_path(key).unlink(missing_ok=True)

    def write_listing(self, lines: Iterable[tuple[str, str]]) -> tuple[str, int]:
        """The content files' hashes, sorted by key; returns the listing's own hash and count."""
        rows = sorted(lines, key=lambda row: row[1])
        text = "".join(f"{digest}  {key}\n" for digest, key in rows)
        self._write(LISTING, text.encode())
        return hashlib.sha256(text.encode()).hexdigest(), len(rows)

    def write_manifest(self, manifest: dict[str, Any]) -> str:
        """Written last, durably; returns its SHA-256 (what a restore's witness line names)."""
        body = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode() + b"\n"
        self._write(MANIFEST, body)
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return hashlib.sha256(body).hexdigest()

    def _write(self, name: str, data: bytes) -> None:
        try:
            fd = os.open(self.root / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
        except OSError as error:
            raise _unwritable(self.root / name, error) from error

    # --- reading ---------------------------------------------------------------------------

    def read_manifest(self) -> tuple[dict[str, Any], str]:
        """The manifest and its SHA-256; a clear refusal when there is none or it is not ours."""
        path = self.root / MANIFEST
        try:
            body = path.read_bytes()
            manifest = json.loads(body)
        except FileNotFoundError:
            raise InvalidInput(
                f"{path} est introuvable : ce dossier ne contient pas de sauvegarde complète."
            ) from None
        except (OSError, ValueError) as error:
            raise InvalidInput(f"Manifeste de sauvegarde illisible ({path}) : {error}.") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise InvalidInput(f"{path} n'est pas un manifeste de sauvegarde dmp ({FORMAT}).")
        return manifest, hashlib.sha256(body).hexdigest()

    def check_file(self, name: str, expected: str) -> None:
        path = self.root / name
        try:
            digest, _ = sha256_file(path)
        except OSError as error:
            raise IntegrityError(f"Sauvegarde incomplète : {path} illisible ({error}).") from None
        if digest != expected:
            raise IntegrityError(
                f"Sauvegarde altérée : l'empreinte de {path} n'est pas celle du manifeste."
            )

    def listing(self) -> Iterator[tuple[str, str]]:
        """(SHA-256, key) of every content file of the backup."""
        with (self.root / LISTING).open(encoding="ascii") as handle:
            for line in handle:
                digest, _, key = line.rstrip("\n").partition("  ")
                parse_key(key)
                yield digest, key

    def read_blob(self, key: str, expected: str) -> Iterator[bytes]:
        """A content file, streamed; its hash is held to the listing's before the last chunk
        goes out, so that a put of it fails (and leaves nothing) if it was altered."""
        digest = hashlib.sha256()
        with self._blob_path(key).open("rb") as handle:
            chunk = handle.read(READ_SIZE)
            while chunk:
                digest.update(chunk)
                following = handle.read(READ_SIZE)
                if not following and digest.hexdigest() != expected:
                    raise IntegrityError(
                        f"Sauvegarde altérée : le contenu {key} n'est pas celui du manifeste."
                    )
                yield chunk
                chunk = following
        if digest.hexdigest() != expected:  # an empty file
            raise IntegrityError(f"Sauvegarde altérée : le contenu {key} est vide.")

    def _blob_path(self, key: str) -> Path:
        dmp_id, name = parse_key(key)
        return self.blobs / str(dmp_id) / name

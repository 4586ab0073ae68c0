"""A form with one file, read as it arrives (SPEC §4: memory does not grow with the file, and an
oversize file is refused while it streams).

Starlette's ``request.form()`` would copy the file in clear to the temporary directory, whatever
its size, before a handler could look at it. Here the multipart body is parsed as it streams
(python-multipart): the small fields are kept in memory, bounded in number and size; the file
goes to a sealed temporary file (``transit.SealedFile``: encrypted, unlinked), counted as it
arrives, and refused as soon as it passes the limit, the rest of the body drained before the
answer. The form's CSRF token is checked before the first byte of the file is written: a form
that does not come from our page leaves nothing of its file anywhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import FormData, UploadFile
from starlette.requests import ClientDisconnect

from dmp.entrypoints.portal.web import MAX_FIELD
from dmp.entrypoints.transit import MIB, SealedFile, drain
from dmp.errors import DmpError, InvalidInput, TooLarge
from dmp.services import sessions
from dmp.services.sessions import WebSession

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MAX_FIELDS = 16
HEAD_ROOM = 64 * 1024  # the fields and the parts' headers, beside the file
READ_BLOCK = 256 * 1024


@dataclass
class ReceivedFile:
    """One file of the form, waiting in a sealed temporary file."""

    file_name: str = ""
    content_type: str = ""
    size: int = 0
    _file: SealedFile | None = None

    @property
    def chosen(self) -> bool:
        """Whether a file was chosen (a form posted with no file sends an empty, nameless one)."""
        return self._file is not None and (self.size > 0 or bool(self.file_name))

    def chunks(self) -> Iterator[bytes]:
        """The file's bytes, in blocks, read back from the sealed file."""
        for offset in range(0, self.size, READ_BLOCK):
            assert self._file is not None  # size > 0 only once a file was written
            yield self._file.read(offset, min(READ_BLOCK, self.size - offset))


@dataclass
class Received:
    """The form's fields, and its files (the first one named by the properties below)."""

    fields: FormData
    files: list[ReceivedFile]

    @property
    def _first(self) -> ReceivedFile:
        return self.files[0] if self.files else ReceivedFile()

    @property
    def file_name(self) -> str:
        return self._first.file_name

    @property
    def content_type(self) -> str:
        return self._first.content_type

    @property
    def size(self) -> int:
        return self._first.size

    @property
    def has_file(self) -> bool:
        return self._first.chosen

    def chunks(self) -> Iterator[bytes]:
        return self._first.chunks()

    @property
    def chosen(self) -> list[ReceivedFile]:
        """The files actually chosen, in the form's order."""
        return [f for f in self.files if f.chosen]


@dataclass
class _Part:
    name: str = ""
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_name: bytes = b""
    header_value: bytes = b""
    data: bytearray = field(default_factory=bytearray)
    is_file: bool = False


class _Form:
    """The parser's callbacks: where each part of the body goes."""

    def __init__(
        self, session: WebSession, max_bytes: int, directory: Path | None, max_files: int
    ) -> None:
        self.session, self.max_bytes, self.directory = session, max_bytes, directory
        self.max_files = max_files
        self.fields: list[tuple[str, str | UploadFile]] = []
        self.files: list[ReceivedFile] = []
        self.part = _Part()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.begin,
            "on_header_field": self.header_field,
            "on_header_value": self.header_value,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def begin(self) -> None:
        self.part = _Part()

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.part.header_name += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self.part.header_value += data[start:end]

    def header_end(self) -> None:
        self.part.headers[self.part.header_name.lower()] = self.part.header_value
        self.part.header_name = self.part.header_value = b""

    def headers_finished(self) -> None:
        _, options = parse_options_header(self.part.headers.get(b"content-disposition", b""))
        self.part.name = _text(options.get(b"name", b""))
        if b"filename" not in options:
            if len(self.fields) >= MAX_FIELDS:
                raise InvalidInput("Le formulaire porte trop de champs.", code="form")
            return
        if len(self.files) >= self.max_files:
            if self.max_files == 1:
                raise InvalidInput("Un seul fichier par envoi.", code="form")
            raise InvalidInput(f"{self.max_files} fichiers au plus par envoi.", code="form")
        # The token came before the file (the form's first field): nothing is written without it.
        token = dict(self.fields).get("csrf")
        sessions.check_csrf(self.session, token if isinstance(token, str) else None)
        self.part.is_file = True
        self.files.append(
            ReceivedFile(
                _text(options[b"filename"])[:255],
                _text(self.part.headers.get(b"content-type", b""))[:100],
                0,
                SealedFile(self.directory),
            )
        )

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.part.is_file:
            self.part.data += data[start:end]
            if len(self.part.data) > 4 * MAX_FIELD:  # UTF-8: 4 bytes a character at most
                raise InvalidInput(f"Le champ « {self.part.name} » est trop long.", code="form")
            return
        current = self.files[-1]
        assert current._file is not None
        current.size += end - start
        if current.size > self.max_bytes:
            raise too_large(self.max_bytes)
        current._file.write(data[start:end])

    def part_end(self) -> None:
        if not self.part.is_file:
            self.fields.append((self.part.name, _text(self.part.data, strict=True)))

    def close(self) -> None:
        for received in self.files:
            if received._file is not None:
                received._file.close()


def _text(raw: bytes | bytearray, *, strict: bool = False) -> str:
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        if strict:
            raise InvalidInput("Le formulaire n'est pas en UTF-8.", code="form") from None
        return bytes(raw).decode("utf-8", "replace")


def too_large(max_bytes: int) -> TooLarge:
    return TooLarge(
        f"Le fichier dépasse la taille autorisée ({max_bytes // MIB} Mio) : rien n'a été "
        "enregistré."
    )


def _boundary(request: Request) -> bytes:
    kind, options = parse_options_header(request.headers.get("content-type", "").encode("latin-1"))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise InvalidInput(
            "Le formulaire doit être envoyé avec son fichier (multipart/form-data).", code="form"
        )
    return boundary


@asynccontextmanager
async def receive(
    request: Request,
    session: WebSession,
    max_bytes: int,
    directory: Path | None,
    *,
    max_files: int = 1,
) -> AsyncIterator[Received]:
    """Read the posted form and its files (``max_files`` at most, each ``max_bytes`` at most);
    the files are gone once the block ends."""
    form = _Form(session, max_bytes, directory, max_files)
    try:
        await _read(request, form, max_bytes * max_files)
        for received in form.files:
            assert received._file is not None
            received._file.flush()  # read back by offset, from the file itself
        yield Received(FormData(form.fields), list(form.files))
    finally:
        form.close()


async def _read(request: Request, form: _Form, max_bytes: int) -> None:
    parser = MultipartParser(_boundary(request), form.callbacks())
    stream = request.stream()
    received = 0
    try:
        async for chunk in stream:
            received += len(chunk)
            if received > max_bytes + HEAD_ROOM:
                raise too_large(max_bytes)
            parser.write(chunk)
        parser.finalize()
    except ClientDisconnect:
        raise InvalidInput("Envoi interrompu : recommencez.", code="form") from None
    except FormParserError:
        await drain(stream)
        raise InvalidInput("Le formulaire envoyé est mal formé.", code="form") from None
    except DmpError:
        await drain(stream)  # the client may still be sending: let it finish, then answer
        raise

"""The body of a transaction Bundle, streamed to disk so that memory does not grow with it.

A 50 MiB document arrives as ~67 MiB of base64 inside a JSON string. ``json.loads`` would hold the
body, the string and the decoded bytes at once. Instead the body goes to a temporary file as it
arrives and is scanned on the way (``bytes.find`` over each chunk, so at C speed): a JSON
string longer than ``LONG_STRING`` stays in the file, its offsets noted, and a placeholder takes
its place in a small *skeleton* copy of the document, which ``json`` then parses. Where the
placeholder stands for a ``data`` element (``Binary.data``, ``Attachment.data``), the content is
decoded from the file in slices, as the use case reads it; anywhere else it is refused.

The temporary file is unlinked at creation and encrypted under a key held only in memory, and a
body past the size limit is drained before the 413 answer: see ``dmp.entrypoints.transit``.
"""

from __future__ import annotations

import binascii
import re
import secrets
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pybase64
from starlette.requests import ClientDisconnect

from dmp.entrypoints.fhir.xmlbody import Span as XmlSpan
from dmp.entrypoints.fhir.xmlbody import XmlScanner
from dmp.entrypoints.transit import SealedFile, drain
from dmp.errors import InvalidInput, TooLarge

MIB = 1024 * 1024
LONG_STRING = 16 * 1024  # longer JSON strings stay on disk
MAX_SKELETON = 4 * MIB  # the metadata of a bundle, without its contents
READ_BLOCK = 192 * 1024  # a multiple of 4: whole base64 quanta
_ESCAPE = re.compile(rb"\\(.)", re.DOTALL)
_WHITESPACE = b" \t\r\n"
_SPACES = tuple(bytes([space]) for space in _WHITESPACE)


def body_limit(max_content_bytes: int) -> int:
    """The largest Bundle accepted: one content at the size limit, in base64, plus metadata."""
    return max_content_bytes * 4 // 3 + 4 + MIB


@dataclass(frozen=True, slots=True)
class Span:
    """Where a long JSON string's raw (still escaped) characters lie in the spooled body."""

    start: int
    end: int


@dataclass
class _Scanner:
    """Copies the JSON text to the skeleton, except the characters of long strings."""

    marker: str
    skeleton: bytearray = field(default_factory=bytearray)
    spans: dict[str, Span] = field(default_factory=dict)
    offset: int = 0
    in_string: bool = False
    escaped: bool = False
    current: bytearray | None = None  # the string being read, while it is short
    start: int = 0

    def feed(self, chunk: bytes) -> None:
        # bytes.find (memchr) rather than a regular expression: a 200 KiB content is scanned in
        # ~25 µs instead of ~650 µs. ``quote`` is the next quote at or after ``pos`` (``size``
        # when the chunk has none), looked for again only once passed, so that a string with
        # many escapes is not searched to its end at each of them.
        pos, size, quote = 0, len(chunk), -1
        while pos < size:
            if quote < pos:
                found = chunk.find(b'"', pos)
                quote = size if found < 0 else found
            if not self.in_string:
                end = min(quote + 1, size)
                self._emit(chunk[pos:end])
                if quote < size:
                    self.in_string, self.current, self.start = True, bytearray(), self.offset + end
                pos = end
            elif self.escaped:
                self._keep(chunk, pos, pos + 1)
                self.escaped, pos = False, pos + 1
            else:
                backslash = chunk.find(b"\\", pos, quote)
                if backslash >= 0:  # keep it and what it escapes
                    self._keep(chunk, pos, backslash + 1)
                    self.escaped, pos = True, backslash + 1
                elif quote < size:
                    self._keep(chunk, pos, quote)
                    self._close(self.offset + quote)
                    pos = quote + 1
                else:
                    self._keep(chunk, pos, size)
                    pos = size
        self.offset += size

    def _keep(self, chunk: bytes, start: int, end: int) -> None:
        if self.current is not None:
            self.current += chunk[start:end]
            if len(self.current) > LONG_STRING:
                self.current = None  # from now on, this string stays on disk only

    def _close(self, end: int) -> None:
        if self.current is None:
            name = f"{self.marker}{len(self.spans)}"
            self.spans[name] = Span(self.start, end)
            self._emit(b"\\u0000" + name[1:].encode("ascii") + b'"')
        else:
            self._emit(bytes(self.current) + b'"')
        self.in_string, self.current = False, None

    def _emit(self, data: bytes) -> None:
        self.skeleton += data
        if len(self.skeleton) > MAX_SKELETON:
            raise TooLarge("Les métadonnées du lot (hors contenus) dépassent 4 Mio.")


class SpooledBody:
    """A received body: its parsed skeleton, and its long strings readable from disk. A JSON
    body by default; an XML one (``xml``) keeps its long attribute values instead
    (``xmlbody.XmlScanner``)."""

    def __init__(self, directory: Path | None, *, xml: bool = False) -> None:
        self._file = SealedFile(directory)
        self._scanner: _Scanner | XmlScanner = (
            XmlScanner(marker="DMPS" + secrets.token_hex(12))
            if xml
            else _Scanner(marker="\x00" + secrets.token_hex(8) + ":")
        )
        self.size = 0

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        self._file.write(chunk)
        self._scanner.feed(chunk)

    def skeleton(self) -> bytes:
        self._file.flush()
        return bytes(self._scanner.skeleton)

    def is_long(self, value: object) -> bool:
        return isinstance(value, str) and value in self._scanner.spans

    def check_placement(self, document: Any, key: str = "") -> None:
        """Long strings are accepted only as ``data``: a 16 KiB title is refused, not stored."""
        if isinstance(document, dict):
            for name, value in document.items():
                if self.is_long(name):
                    raise InvalidInput("Nom d'élément JSON trop long.", code="json")
                self.check_placement(value, name)
        elif isinstance(document, list):
            for item in document:
                self.check_placement(item, key)
        elif self.is_long(document) and key != "data":
            raise InvalidInput(
                f"Valeur trop longue pour l'élément « {key} » (16 Kio au plus).", code="json"
            )

    def base64(self, value: str) -> Iterable[bytes]:
        """The decoded bytes of a base64 ``data`` value, in slices (re-iterable)."""
        span: Span | XmlSpan | None = self._scanner.spans.get(value)
        if span is None:
            try:
                return [b"".join(decode_base64([value.encode("ascii")]))]
            except UnicodeEncodeError:
                raise _bad_base64() from None
        return _Slices(self._file, span)

    def close(self) -> None:
        self._file.close()


@dataclass(frozen=True, slots=True)
class _Slices:
    file: SealedFile
    span: Span | XmlSpan

    def __iter__(self) -> Iterator[bytes]:
        return decode_base64(self._raw())

    def _raw(self) -> Iterator[bytes]:
        for offset in range(self.span.start, self.span.end, READ_BLOCK):
            yield self.file.read(offset, min(READ_BLOCK, self.span.end - offset))


def _bad_base64() -> InvalidInput:
    return InvalidInput("Contenu base64 invalide.", code="base64")


def _unescape(match: re.Match[bytes]) -> bytes:
    char = match.group(1)
    if char == b"/":
        return b"/"
    if char in (b"n", b"r", b"t"):
        return b""  # line breaks some encoders put in base64
    raise _bad_base64()


def decode_base64(blocks: Iterable[bytes]) -> Iterator[bytes]:
    """Strict base64 over JSON-escaped blocks: whole quanta decoded as they come, padding only
    at the very end, any stray character refused."""
    pending, carry, ended = b"", b"", False
    for block in blocks:
        data = carry + block
        carry = b""
        if b"\\" in data:
            if data.endswith(b"\\") and not data.endswith(b"\\\\"):
                data, carry = data[:-1], b"\\"
            data = _ESCAPE.sub(_unescape, data)
        if any(space in data for space in _SPACES):  # four memchr: cheaper than translating
            data = data.translate(None, _WHITESPACE)
        data = pending + data
        cut = len(data) - len(data) % 4
        pending = data[cut:]
        if not cut:
            continue
        if ended:
            raise _bad_base64()
        try:
            # SIMD-decoded (a 200 KiB content in 0.015 ms, binascii 0.5 ms); strict: any
            # character outside the alphabet, and padding anywhere but at the end, refused.
            decoded = pybase64.b64decode(data[:cut], validate=True)
        except binascii.Error:
            raise _bad_base64() from None
        ended = data[cut - 1 : cut] == b"="
        yield decoded
    if pending or carry:
        raise _bad_base64()


async def spool(
    chunks: AsyncIterator[bytes], limit: int, directory: Path | None = None, *, xml: bool = False
) -> SpooledBody:
    """Receive the body into a :class:`SpooledBody`; 413 past ``limit`` bytes."""
    body = SpooledBody(directory, xml=xml)
    try:
        async for chunk in chunks:
            if body.size + len(chunk) > limit:
                await drain(chunks)
                raise TooLarge(
                    f"La requête dépasse la taille autorisée ({limit // MIB} Mio, contenus en "
                    "base64 compris)."
                )
            body.feed(chunk)
    except ClientDisconnect:
        body.close()
        raise InvalidInput("Requête interrompue par le client.") from None
    except BaseException:
        body.close()
        raise
    return body

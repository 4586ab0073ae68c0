"""Checks that a content is what its declared MIME type says, while it streams past.

Binary formats are recognised by their magic bytes (the ``filetype`` library); a CDA must be
well-formed XML whose root is ``{urn:hl7-org:v3}ClinicalDocument`` (parsed incrementally with
defusedxml, so entity bombs are refused and memory does not grow with the file); plain text must
be UTF-8 without NUL bytes.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from xml.etree.ElementTree import ParseError

import filetype
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from dmp.errors import TooLarge, UnsupportedContent

CDA_ROOT = "{urn:hl7-org:v3}ClinicalDocument"
_SNIFF = 262  # bytes filetype needs to recognise a format
_BINARY = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png", "image/tiff": "tif"}
# The extensions of each accepted type: a file sent from a browser is known by them when its
# part declares no type of ours, and the first one names a downloaded file.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "application/pdf": ("pdf",),
    "image/jpeg": ("jpg", "jpeg"),
    "image/png": ("png",),
    "image/tiff": ("tif", "tiff"),
    "text/plain": ("txt",),
    "text/xml": ("xml",),
}
_SAME_TYPE = {"application/xml": "text/xml", "image/jpg": "image/jpeg"}


def _refuse(mime_type: str, why: str) -> UnsupportedContent:
    return UnsupportedContent(f"Le contenu déclaré {mime_type} est refusé : {why}.")


class _RootOnly:
    """A parser target that keeps nothing but the name of the root element."""

    def __init__(self) -> None:
        self.root: str | None = None

    def start(self, tag: str, attrib: object) -> None:
        if self.root is None:
            self.root = tag

    def end(self, tag: str) -> None:
        pass

    def data(self, data: str) -> None:
        pass

    def close(self) -> str | None:
        return self.root


class _Inspector:
    def __init__(self, mime_type: str) -> None:
        self.mime_type = mime_type
        self.head = b""
        self.size = 0
        self._sniffed = False
        self._xml: DefusedXMLParser | None = None
        self._text = codecs.getincrementaldecoder("utf-8")("strict")
        if mime_type == "text/xml":
            self._target = _RootOnly()
            self._xml = DefusedXMLParser(target=self._target, forbid_dtd=True)

    def _sniff(self) -> None:
        self._sniffed = True
        kind = filetype.guess(self.head)
        if kind is None or kind.extension != _BINARY[self.mime_type]:
            found = kind.mime if kind else "inconnu"
            raise _refuse(self.mime_type, f"le fichier est de type {found}")

    def feed(self, chunk: bytes) -> None:
        if len(self.head) < _SNIFF:
            self.head += chunk[: _SNIFF - len(self.head)]
            if len(self.head) == _SNIFF and self.mime_type in _BINARY:
                self._sniff()  # refuse a mistyped upload before reading the rest of it
        try:
            if self._xml is not None:
                self._xml.feed(chunk)
            elif self.mime_type == "text/plain":
                if b"\x00" in chunk:
                    raise _refuse(self.mime_type, "octet nul dans un texte")
                self._text.decode(chunk)
        except (ParseError, DefusedXmlException) as exc:
            raise _refuse(self.mime_type, f"XML invalide ({exc})") from None
        except UnicodeDecodeError:
            raise _refuse(self.mime_type, "le texte n'est pas en UTF-8") from None

    def finish(self) -> None:
        if self.size == 0:
            raise _refuse(self.mime_type, "contenu vide")
        if self.mime_type in _BINARY:
            if not self._sniffed:
                self._sniff()
        elif self._xml is not None:
            try:
                root = self._xml.close()
            except (ParseError, DefusedXmlException) as exc:
                raise _refuse(self.mime_type, f"XML invalide ({exc})") from None
            if root != CDA_ROOT:
                raise _refuse(self.mime_type, "ce n'est pas un document CDA R2 (ClinicalDocument)")
        elif self.mime_type == "text/plain":
            try:
                self._text.decode(b"", final=True)
            except UnicodeDecodeError:
                raise _refuse(self.mime_type, "le texte n'est pas en UTF-8") from None
        else:
            raise _refuse(self.mime_type, "type non accepté")


def inspect(mime_type: str, chunks: Iterable[bytes], max_bytes: int) -> Iterator[bytes]:
    """Yield the chunks unchanged while checking them; raise at the first sign of a mismatch or
    as soon as the size limit is passed (the stream is not read further)."""
    if mime_type not in _BINARY and mime_type not in ("text/xml", "text/plain"):
        raise _refuse(mime_type, "type non accepté")
    inspector = _Inspector(mime_type)
    for chunk in chunks:
        if not chunk:
            continue
        inspector.size += len(chunk)
        if inspector.size > max_bytes:
            raise TooLarge(
                f"Le fichier dépasse la taille autorisée ({max_bytes // (1024 * 1024)} Mio)."
            )
        inspector.feed(chunk)
        yield chunk
    inspector.finish()


def declared_type(content_type: str | None, filename: str | None) -> str:
    """The MIME type of a file sent from a browser: the one its part declares when it is
    accepted, else the one its name's extension says. The content is then held to it
    (``inspect``): a declared type is a claim, not a fact."""
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    declared = _SAME_TYPE.get(declared, declared)
    if declared in EXTENSIONS:
        return declared
    suffix = (filename or "").rsplit(".", 1)[-1].lower() if "." in (filename or "") else ""
    for mime_type, suffixes in EXTENSIONS.items():
        if suffix in suffixes:
            return mime_type
    raise UnsupportedContent(
        "Ce type de fichier n'est pas accepté : déposez un PDF, une image (JPEG, PNG ou TIFF) "
        "ou un fichier texte."
    )


def extension(mime_type: str) -> str:
    """The extension a file of this type is saved with."""
    return EXTENSIONS.get(mime_type, ("bin",))[0]

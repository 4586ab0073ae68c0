"""ITI-65 Bundles in FHIR XML (``application/fhir+xml``), received as the JSON ones are.

In FHIR XML a content is the ``value`` attribute of ``Binary.data`` or ``Attachment.data``: one
attribute of tens of megabytes. So the body is scanned as it streams (``XmlScanner``, the XML
twin of the JSON scanner of ``spool``): an attribute value longer than ``LONG_STRING`` stays in
the encrypted spool file, and a placeholder (itself valid base64) takes its place in the small
skeleton that is parsed. The scanner follows the XML grammar just enough to know where an
attribute value begins and ends: text, tags, comments and CDATA sections.

The skeleton is parsed safely: defusedxml first (no DTD, no entity, nothing external), then the
R4B models of ``fhir.resources`` (lxml, entities and network off) turn it into the JSON the
intake reads. What does not validate is refused with the element's path, in French.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring
from fhir.resources.R4B import get_fhir_model_class
from lxml import etree
from pydantic import ValidationError

from dmp.entrypoints.fhir.errors import validation_text
from dmp.errors import InvalidInput, TooLarge

LONG_STRING = 16 * 1024  # longer attribute values stay on disk (as JSON strings do)
MAX_SKELETON = 4 * 1024 * 1024
BUNDLE = "{http://hl7.org/fhir}Bundle"
_TAG_STOP = re.compile(rb"[\"'>]")
_TEXT, _TAG, _VALUE, _COMMENT, _CDATA = range(5)
_OPENINGS = ((b"<!--", _COMMENT), (b"<![CDATA[", _CDATA))
_CLOSINGS = {_COMMENT: b"-->", _CDATA: b"]]>"}


@dataclass(frozen=True, slots=True)
class Span:
    """Where a long attribute value's raw characters lie in the spooled body."""

    start: int
    end: int


@dataclass
class XmlScanner:
    """Copies the XML text to the skeleton, except the characters of long attribute values."""

    marker: str  # base64 letters: a placeholder is valid base64Binary for the models
    skeleton: bytearray = field(default_factory=bytearray)
    spans: dict[str, Span] = field(default_factory=dict)
    offset: int = 0
    state: int = _TEXT
    quote: bytes = b'"'
    current: bytearray | None = None  # the attribute value being read, while it is short
    start: int = 0
    pending: bytes = b""  # the start of a markup whose kind the next chunk tells

    def feed(self, chunk: bytes) -> None:
        data, base = self.pending + chunk, self.offset - len(self.pending)
        self.offset += len(chunk)
        self.pending = b""
        pos = 0
        while pos < len(data):
            pos = self._step(data, pos, base)

    def _step(self, data: bytes, pos: int, base: int) -> int:
        if self.state == _TEXT:
            return self._text(data, pos)
        if self.state == _TAG:
            return self._tag(data, pos, base)
        if self.state == _VALUE:
            return self._value(data, pos, base)
        return self._markup(data, pos)

    def _text(self, data: bytes, pos: int) -> int:
        lt = data.find(b"<", pos)
        if lt < 0:
            self._emit(data[pos:])
            return len(data)
        self._emit(data[pos:lt])
        head = data[lt : lt + 9]
        if len(head) < 9 and any(o.startswith(head) for o, _ in _OPENINGS):
            self.pending = data[lt:]  # "<!-" at the end of a chunk: wait for the rest
            return len(data)
        for opening, state in _OPENINGS:
            if head.startswith(opening):
                self._emit(opening)
                self.state = state
                return lt + len(opening)
        self._emit(b"<")
        self.state = _TAG
        return lt + 1

    def _tag(self, data: bytes, pos: int, base: int) -> int:
        stop = _TAG_STOP.search(data, pos)
        if stop is None:
            self._emit(data[pos:])
            return len(data)
        self._emit(data[pos : stop.end()])
        if data[stop.start()] == ord(">"):
            self.state = _TEXT
        else:
            self.state, self.quote = _VALUE, data[stop.start() : stop.end()]
            self.current, self.start = bytearray(), base + stop.end()
        return stop.end()

    def _value(self, data: bytes, pos: int, base: int) -> int:
        end = data.find(self.quote, pos)
        self._keep(data[pos : len(data) if end < 0 else end])
        if end < 0:
            return len(data)
        self._close(base + end)
        self.state = _TAG
        return end + 1

    def _markup(self, data: bytes, pos: int) -> int:
        closing = _CLOSINGS[self.state]
        end = data.find(closing, pos)
        if end < 0:
            keep = min(len(closing) - 1, len(data) - pos)  # a closing cut between two chunks
            self._emit(data[pos : len(data) - keep])
            self.pending = data[len(data) - keep :]
            return len(data)
        self._emit(data[pos : end + len(closing)])
        self.state = _TEXT
        return end + len(closing)

    def _keep(self, piece: bytes) -> None:
        if self.current is not None:
            self.current += piece
            if len(self.current) > LONG_STRING:
                self.current = None  # from now on, this value stays on disk only

    def _close(self, end: int) -> None:
        if self.current is None:
            name = f"{self.marker}{len(self.spans):08d}"
            self.spans[name] = Span(self.start, end)
            self._emit(name.encode("ascii") + self.quote)
        else:
            self._emit(bytes(self.current) + self.quote)
        self.current = None

    def _emit(self, data: bytes) -> None:
        self.skeleton += data
        if len(self.skeleton) > MAX_SKELETON:
            raise TooLarge("Les métadonnées du lot (hors contenus) dépassent 4 Mio.")


def _bad(text: str) -> InvalidInput:
    return InvalidInput(text, code="xml")


def _checked_root(skeleton: bytes) -> None:
    """The skeleton parses, declares no DTD nor entity, fetches nothing, and is a Bundle."""
    try:
        root = defused_fromstring(skeleton, forbid_dtd=True)
    except DefusedXmlException:
        raise _bad("XML refusé : DTD, entités et références externes sont interdites.") from None
    except ParseError as exc:
        line, column = exc.position
        raise _bad(f"XML mal formé, ligne {line}, colonne {column + 1}.") from None
    if root.tag != BUNDLE:
        raise _bad(
            f"Ressource Bundle (espace de noms http://hl7.org/fhir) attendue, pas {root.tag[:80]}."
        )


def _where(error: Any) -> str:
    return ".".join(str(part) for part in error.get("loc", ()))[:120]


def bundle_from_xml(skeleton: bytes) -> Any:
    """The Bundle of an XML skeleton, as the JSON the intake reads."""
    _checked_root(skeleton)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        bundle = get_fhir_model_class("Bundle").model_validate_xml(skeleton, xmlparser=parser)
    except ValidationError as exc:
        problems = [f"{_where(e)} : {validation_text(e)}" for e in exc.errors()[:3]]
        raise _bad("Bundle XML invalide — " + " ; ".join(problems)) from None
    except (etree.XMLSyntaxError, ValueError, TypeError, KeyError, AttributeError):
        raise _bad("Bundle XML invalide : ce n'est pas une ressource FHIR R4 lisible.") from None
    return json.loads(bundle.model_dump_json())

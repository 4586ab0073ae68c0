"""A CDA R2 document, read for a person to read it: its header (the patient, the authors, the
date) and each section's title and narrative block (paragraphs, lists, tables), kept as plain
data that the portal's templates turn into HTML, escaping every value.

Nothing of the document's own markup survives. Only the elements of the CDA narrative block are
kept, as nodes of our own kinds, with nothing of their attributes but a list's order, a table
header's scope and a text's bold, italic or underline style. Anything else (a script, an iframe,
an image, an element of another namespace, a link's target, an event handler) is dropped with
all it holds. The XML is parsed as it streams, with defusedxml (no DTD, no entities), and what
is kept is bounded: a 50 MiB document costs no more than ``MAX_TEXT`` characters; past that the
rest is not read, and the reader is told the document is shown in part.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from dmp.domain.inputs import ascii_int

HL7 = "{urn:hl7-org:v3}"
MAX_TEXT = 1_000_000  # characters kept, every text of the document together
MAX_NODES = 20_000  # narrative elements kept
MAX_DEPTH = 16  # narrative elements nested in one another

# The narrative block's elements we keep, and the kind of node each becomes.
_NARRATIVE = {
    "paragraph": "paragraph",
    "list": "list",
    "item": "item",
    "table": "table",
    "caption": "caption",
    "thead": "thead",
    "tbody": "tbody",
    "tfoot": "tfoot",
    "tr": "tr",
    "th": "th",
    "td": "td",
    "content": "content",
    "sub": "sub",
    "sup": "sup",
    "br": "br",
    "linkHtml": "link",  # its text only: where it leads is not kept
    "footnote": "footnote",
    "renderMultiMedia": "media",  # a placeholder: no image of the document is shown
}
# Kinds that hold other nodes only: text found directly in them is layout, not content.
_STRUCTURAL = frozenset({"list", "table", "thead", "tbody", "tfoot", "tr"})
# The parts of a name or of a title whose text is kept; anything else in them is dropped.
_IN_TEXT = frozenset({"given", "family", "prefix", "suffix", "delimiter", "content", "sub", "sup"})
_STYLES = {"Bold": "bold", "Italics": "italic", "Emphasis": "italic", "Underline": "underline"}
_DOC = ("ClinicalDocument",)
_PATIENT = (*_DOC, "recordTarget", "patientRole", "patient")
_AUTHOR = (*_DOC, "author")
_ASSIGNED = (*_AUTHOR, "assignedAuthor")
_TS = re.compile(
    "([0-9]{4})([0-9]{2})([0-9]{2})(?:([0-9]{2})([0-9]{2})([0-9]{2})?)?(?:[.][0-9]{1,4})?"
    "(?:([+-])([0-9]{2})([0-9]{2}))?"
)


@dataclass(slots=True)
class Node:
    """An element of a narrative block, as one of our kinds (see ``_NARRATIVE``)."""

    kind: str
    children: list[Node | str] = field(default_factory=list)
    ordered: bool = False  # a list
    scope: str = ""  # a table header: "col" in the table's head, "row" elsewhere
    styles: frozenset[str] = frozenset()  # a content: "bold", "italic", "underline"


@dataclass(slots=True)
class Section:
    title: str = ""
    text: list[Node | str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)


@dataclass(slots=True)
class Party:
    """An author of the document, as its header names them."""

    name: str = ""
    profession: str = ""
    organization: str = ""
    time: date | datetime | None = None


@dataclass(slots=True)
class ClinicalDocument:
    title: str = ""
    effective: date | datetime | None = None
    patient: str = ""
    birth_date: date | None = None
    gender: str = ""  # administrativeGenderCode: "F", "M", or another code
    authors: list[Party] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    attachment: str = ""  # the media type of an unstructured body (nonXMLBody), not shown
    complete: bool = True  # False when the document was too long to be kept whole
    readable: bool = True  # False when it is not a CDA document, or not well-formed XML


def read(chunks: Iterable[bytes]) -> ClinicalDocument:
    """The document the chunks carry, as data; its reading stops once the bounds are met."""
    reader = _Reader()
    parser = DefusedXMLParser(target=reader, forbid_dtd=True)
    try:
        for chunk in chunks:
            parser.feed(chunk)
            if not reader.doc.complete:
                return reader.doc
        parser.close()
    except (ParseError, DefusedXmlException):
        return ClinicalDocument(readable=False)
    return reader.doc if reader.root_seen else ClinicalDocument(readable=False)


def moment(value: str | None) -> date | datetime | None:
    """An HL7 timestamp (``YYYYMMDD[HHMM[SS]][.f][+ZZZZ]``): a date, or a moment when it
    names one in time with its offset from UTC (a time without an offset is read as its day)."""
    found = _TS.fullmatch(value or "")
    if found is None:
        return None
    year, month, day, hour, minute, second, sign, zh, zm = found.groups()
    try:
        day_of = date(_n(year), _n(month), _n(day))
        if hour is None or sign is None:
            return day_of
        offset = timedelta(hours=_n(zh), minutes=_n(zm)) * (-1 if sign == "-" else 1)
        zone = timezone(offset) if offset else UTC
        clock = (_n(hour), _n(minute), _n(second or "0"))
        return datetime(day_of.year, day_of.month, day_of.day, *clock, tzinfo=zone)
    except ValueError:
        return None


def _n(digits: str) -> int:
    return ascii_int(digits) or 0


def _folded(text: str) -> str:
    return " ".join(text.split())


Undo = Callable[[], None] | None


class _Reader:
    """The parser's target: it keeps what the document means to a reader, and nothing else."""

    def __init__(self) -> None:
        self.doc = ClinicalDocument()
        self.root_seen = False
        self._path: list[str] = []
        self._undo: list[Undo] = []
        self._sections: list[tuple[int, Section]] = []
        self._containers: list[tuple[str, list[Node | str]]] = []
        self._capture: list[str] | None = None
        self._dropping = False
        self._heads = 0
        self._kept = 0
        self._nodes = 0

    # --- the target's interface -----------------------------------------------------------------

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        name = tag[len(HL7) :] if tag.startswith(HL7) else ""
        if not self._path:
            self.root_seen = name == "ClinicalDocument"
        self._path.append(name)
        self._undo.append(None if self._dropping else self._open(name, attrib))

    def end(self, tag: str) -> None:
        undo = self._undo.pop()
        if undo is not None:
            undo()
        self._path.pop()
        if self._capture is not None:
            self._capture.append(" ")  # "<given>Alice</given><family>Dupont</family>": two words

    def data(self, text: str) -> None:
        if self._dropping:
            return
        if self._capture is not None:
            self._capture.append(self._keep(text))
        elif self._containers:
            kind, children = self._containers[-1]
            if kind in _STRUCTURAL:
                return
            kept = self._keep(text)
            if children and isinstance(children[-1], str):
                children[-1] += kept
            else:
                children.append(kept)

    def close(self) -> ClinicalDocument:
        return self.doc

    # --- what an element means ------------------------------------------------------------------

    def _open(self, name: str, attrib: dict[str, str]) -> Undo:
        if self._capture is not None:
            return None if name in _IN_TEXT else self._drop()
        if self._containers:
            return self._narrative(name, attrib)
        path = tuple(self._path)
        if path[: len(_DOC)] != _DOC or not name:
            return None
        if name == "section" and "structuredBody" in path:
            return self._section()
        if self._sections and len(path) == self._sections[-1][0] + 1:
            return self._of_section(name, self._sections[-1][1])
        return self._header(path, attrib)

    def _of_section(self, name: str, section: Section) -> Undo:
        """A section's title, and its narrative block; its coded entries are not shown."""
        if name == "title":
            return self._capture_into(lambda text: setattr(section, "title", text))
        if name == "text":
            self._containers.append(("text", section.text))
            return self._containers.clear
        return None

    def _header(self, path: tuple[str, ...], attrib: dict[str, str]) -> Undo:
        doc = self.doc
        if path == (*_DOC, "title"):
            return self._capture_into(lambda text: setattr(doc, "title", text))
        if path == (*_DOC, "effectiveTime"):
            doc.effective = moment(attrib.get("value"))
        elif path == (*_PATIENT, "name") and not doc.patient:
            return self._capture_into(lambda text: setattr(doc, "patient", text))
        elif path == (*_PATIENT, "birthTime"):
            born = moment(attrib.get("value"))
            doc.birth_date = born.date() if isinstance(born, datetime) else born
        elif path == (*_PATIENT, "administrativeGenderCode"):
            doc.gender = attrib.get("code", "")[:8]
        elif path == _AUTHOR:
            doc.authors.append(Party())
        elif path[: len(_AUTHOR)] == _AUTHOR and doc.authors:
            return self._author(doc.authors[-1], path, attrib)
        elif path == (*_DOC, "component", "nonXMLBody", "text"):
            doc.attachment = attrib.get("mediaType", "text/plain")[:100]
        return None

    def _author(self, author: Party, path: tuple[str, ...], attrib: dict[str, str]) -> Undo:
        if path == (*_AUTHOR, "time"):
            author.time = moment(attrib.get("value"))
        elif path == (*_ASSIGNED, "code"):
            author.profession = _folded(self._keep(attrib.get("displayName", "")[:200]))
        elif path == (*_ASSIGNED, "assignedPerson", "name"):
            return self._capture_into(lambda text: setattr(author, "name", text))
        elif path == (*_ASSIGNED, "representedOrganization", "name"):
            return self._capture_into(lambda text: setattr(author, "organization", text))
        return None

    def _section(self) -> Undo:
        section = Section()
        parent = self._sections[-1][1].sections if self._sections else self.doc.sections
        parent.append(section)
        self._sections.append((len(self._path), section))
        return self._end_section

    def _end_section(self) -> None:
        self._sections.pop()

    def _narrative(self, name: str, attrib: dict[str, str]) -> Undo:
        kind = _NARRATIVE.get(name)
        if kind is None or len(self._containers) > MAX_DEPTH or not self._room():
            return self._drop()
        node = Node(
            kind,
            ordered=kind == "list" and attrib.get("listType") == "ordered",
            scope=("col" if self._heads else "row") if kind == "th" else "",
            styles=frozenset(
                _STYLES[s] for s in attrib.get("styleCode", "").split() if s in _STYLES
            ),
        )
        self._containers[-1][1].append(node)
        self._containers.append((kind, node.children))
        if kind == "thead":
            self._heads += 1
        return lambda: self._close(kind)

    def _close(self, kind: str) -> None:
        self._containers.pop()
        if kind == "thead":
            self._heads -= 1

    def _drop(self) -> Undo:
        """Leave out this element and all it holds."""
        self._dropping = True
        return self._stop_dropping

    def _stop_dropping(self) -> None:
        self._dropping = False

    def _capture_into(self, store: Callable[[str], None]) -> Undo:
        captured: list[str] = []
        self._capture = captured

        def done() -> None:
            self._capture = None
            store(_folded("".join(captured)))

        return done

    # --- the bounds -----------------------------------------------------------------------------

    def _keep(self, text: str) -> str:
        room = MAX_TEXT - self._kept
        if len(text) > room:
            text = text[: max(room, 0)]
            self.doc.complete = False
        self._kept += len(text)
        return text

    def _room(self) -> bool:
        self._nodes += 1
        if self._nodes > MAX_NODES:
            self.doc.complete = False
        return self.doc.complete

"""Reading a CDA R2 document for a person (dmp.domain.cda): what is kept, what is dropped, and
the bounds that keep a huge document from filling memory."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from dmp.demo.cda import medical_summary_cda
from dmp.demo.identities import fake_person, fake_professional
from dmp.domain import cda

HEAD = '<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3">'


def _doc(body: str, head: str = "") -> bytes:
    return (
        f"{HEAD}{head}<component><structuredBody><component><section><title>S</title>"
        f"<text>{body}</text></section></component></structuredBody></component>"
        "</ClinicalDocument>"
    ).encode()


def _text(body: str) -> list[cda.Node | str]:
    return cda.read([_doc(body)]).sections[0].text


def test_a_demo_summary_reads_whole():
    patient, author = fake_person(random.Random(11)), fake_professional(random.Random(13))
    data = medical_summary_cda(random.Random(3), patient, author, datetime(2026, 3, 1, tzinfo=UTC))
    doc = cda.read(data[i : i + 7] for i in range(0, len(data), 7))  # any chunking
    assert doc.readable
    assert doc.complete
    assert doc.title == "Synthèse médicale"
    assert [s.title for s in doc.sections][:2] == ["Antécédents", "Allergies et intolérances"]
    assert doc.authors[0].organization
    assert doc.birth_date == patient.birth_date
    assert doc.patient == f"{patient.given_names} {patient.family_name}"


def test_only_the_narrative_elements_are_kept_without_their_attributes():
    text = _text(
        '<paragraph onclick="x()" styleCode="Bold Italics Blink">a<br/>b'
        '<linkHtml href="javascript:x()">c</linkHtml><script>evil()</script>'
        '<img xmlns="http://www.w3.org/1999/xhtml" src="http://x"/>'
        "<unknown>gone<paragraph>gone too</paragraph></unknown></paragraph>"
    )
    [paragraph] = text
    assert isinstance(paragraph, cda.Node)
    assert paragraph.kind == "paragraph"
    assert paragraph.styles == frozenset({"bold", "italic"})
    assert [c if isinstance(c, str) else c.kind for c in paragraph.children] == [
        "a",
        "br",
        "b",
        "link",
    ]
    link = paragraph.children[3]
    assert isinstance(link, cda.Node)
    assert link.children == ["c"]


def test_tables_say_which_headers_are_columns_and_lists_their_order():
    [table, listing] = _text(
        "<table><thead><tr><th>A</th></tr></thead><tbody><tr><th>r</th><td>1</td></tr></tbody>"
        '</table><list listType="ordered"><item>x</item></list>'
    )
    assert isinstance(table, cda.Node)
    assert isinstance(listing, cda.Node)
    head, body = table.children
    assert isinstance(head, cda.Node)
    assert isinstance(body, cda.Node)
    assert [th.scope for tr in head.children for th in tr.children] == ["col"]
    assert [c.scope for tr in body.children for c in tr.children] == ["row", ""]
    assert listing.ordered


def test_text_directly_in_a_table_or_a_list_is_layout():
    [table] = _text("<table> stray <tr> also <td>kept</td></tr></table>")
    assert isinstance(table, cda.Node)
    [row] = table.children
    assert isinstance(row, cda.Node)
    assert [c.children for c in row.children] == [["kept"]]


def test_nesting_is_bounded():
    deep = "<content>" * (cda.MAX_DEPTH + 5) + "fond" + "</content>" * (cda.MAX_DEPTH + 5)
    chain, node = [], _text(deep)[0]
    while isinstance(node, cda.Node):
        chain.append(node)
        node = node.children[0] if node.children else None
    assert len(chain) == cda.MAX_DEPTH  # what is deeper is left out, with its text
    assert chain[-1].children == []


def test_a_huge_document_is_shown_in_part_and_not_read_to_its_end(monkeypatch):
    monkeypatch.setattr(cda, "MAX_TEXT", 1000)
    read = []

    def chunks():
        yield (
            f"{HEAD}<component><structuredBody><component><section><title>S</title><text>"
            "<paragraph>"
        ).encode()
        for _ in range(10_000):
            read.append(1)
            yield b"x" * 100
        raise AssertionError("read to its end")

    doc = cda.read(chunks())
    assert doc.readable
    assert not doc.complete
    assert len(read) < 20
    [paragraph] = doc.sections[0].text
    assert isinstance(paragraph, cda.Node)
    assert sum(len(c) for c in paragraph.children if isinstance(c, str)) == 1000 - len("S")


def test_too_many_elements_are_left_out(monkeypatch):
    monkeypatch.setattr(cda, "MAX_NODES", 3)
    doc = cda.read([_doc("<paragraph>1</paragraph>" * 5)])
    assert not doc.complete
    assert len(doc.sections[0].text) == 3


@pytest.mark.parametrize(
    "data",
    [
        b"<ClinicalDocument xmlns='urn:hl7-org:v3'><title>unclosed",
        b"<other xmlns='urn:hl7-org:v3'/>",
        b"<ClinicalDocument/>",  # not in the HL7 namespace
        b'<!DOCTYPE d [<!ENTITY e "boom">]><ClinicalDocument xmlns="urn:hl7-org:v3"/>',
    ],
)
def test_what_is_not_a_cda_is_unreadable(data):
    assert not cda.read([data]).readable


def test_an_unstructured_body_is_named_not_shown():
    data = (
        f'{HEAD}<component><nonXMLBody><text mediaType="application/pdf" representation="B64">'
        "JVBERi0=</text></nonXMLBody></component></ClinicalDocument>"
    ).encode()
    doc = cda.read([data])
    assert doc.attachment == "application/pdf"
    assert doc.sections == []


def test_the_header():
    head = (
        "<title>Titre <content>en</content> <script>x</script>deux</title>"
        '<effectiveTime value="20260301"/>'
        "<recordTarget><patientRole><patient><name><given>Léa</given><family>Lefèvre</family>"
        '</name><administrativeGenderCode code="F"/><birthTime value="20150601"/></patient>'
        "</patientRole></recordTarget><author><time value='202603011030+0100'/><assignedAuthor>"
        '<code displayName="Médecin"/><assignedPerson><name><prefix>Dr</prefix><given>B</given>'
        "<family>M</family></name></assignedPerson><representedOrganization><name>Cabinet"
        "</name></representedOrganization></assignedAuthor></author>"
    )
    doc = cda.read([_doc("", head)])
    assert doc.title == "Titre en deux"
    assert doc.effective == date(2026, 3, 1)
    assert (doc.patient, doc.gender, doc.birth_date) == ("Léa Lefèvre", "F", date(2015, 6, 1))
    [author] = doc.authors
    assert (author.name, author.profession, author.organization) == ("Dr B M", "Médecin", "Cabinet")
    assert author.time == datetime(2026, 3, 1, 10, 30, tzinfo=timezone(timedelta(hours=1)))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20260301", date(2026, 3, 1)),
        ("2026030110", None),
        ("202603011030", date(2026, 3, 1)),  # a time without its offset: its day
        ("20260301103000+0000", datetime(2026, 3, 1, 10, 30, tzinfo=UTC)),
        (
            "20260301103000.123-0500",
            datetime(2026, 3, 1, 10, 30, tzinfo=timezone(-timedelta(hours=5))),
        ),
        ("20260231", None),
        ("٢٠٢٦0301", None),
        (None, None),
    ],
)
def test_timestamps(value, expected):
    assert cda.moment(value) == expected

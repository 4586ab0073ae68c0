"""The HTTP rules of the API, pure: content negotiation, preferences and versions, the XML
scanner of ITI-65 bodies whatever their chunking, and errors in French."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request

from dmp.entrypoints.fhir import preferences
from dmp.entrypoints.fhir.bodies import json_error
from dmp.entrypoints.fhir.errors import NotAcceptable, validation_text
from dmp.entrypoints.fhir.negotiation import JSON, XML, choose
from dmp.entrypoints.fhir.xmlbody import LONG_STRING, XmlScanner
from tests.e2e.fhir import ENGLISH

PDF = frozenset({"application/pdf"})
FHIR_JSON = frozenset({"application/fhir+json", "application/json"})
FHIR_XML = frozenset({"application/fhir+xml", "application/xml"})
BINARY = (("raw", PDF), (JSON, FHIR_JSON), (XML, FHIR_XML))


def request(query: str = "", **headers: str) -> Request:
    raw = [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "query_string": query.encode(), "headers": raw})


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "raw"),
        ("*/*", "raw"),
        ("application/fhir+json, */*;q=0.1", JSON),
        ("application/pdf;q=0.5, application/fhir+json;q=0.4", "raw"),
        ("application/*;q=0.9, application/fhir+xml", XML),
        ("application/fhir+json;fhirVersion=4.0", JSON),
        ("application/fhir+json;fhirVersion=3.0, */*;q=0.1", "raw"),
        ("application/json;q=0, */*", "raw"),
        ("text/html, application/fhir+json;q=0.2", JSON),
    ],
)
def test_the_best_offer_wins(accept, chosen):
    headers = {} if accept is None else {"accept": accept}
    assert choose(request(**headers), BINARY) == chosen


@pytest.mark.parametrize(
    "accept", ["application/fhir+json; fhirVersion=3.0", "text/html", "image/*", "*/*;q=0"]
)
def test_nothing_acceptable_is_406(accept):
    with pytest.raises(NotAcceptable):
        choose(request(accept=accept), ((JSON, FHIR_JSON), (XML, FHIR_XML)))


def test_format_wins_over_accept():
    offers = ((JSON, FHIR_JSON), (XML, FHIR_XML))
    assert choose(request("_format=xml", accept="application/fhir+json"), offers) == XML
    assert choose(request("_format=application/fhir%2Bjson", accept=""), offers) == JSON
    with pytest.raises(NotAcceptable):
        choose(request("_format=ttl"), offers)


def test_preferences_and_versions():
    assert preferences.strict(request(prefer="handling=strict"))
    assert not preferences.strict(request(prefer="handling=lenient"))
    assert preferences.returned(request(prefer="return=minimal"), "representation") == "minimal"
    assert preferences.returned(request(), "minimal") == "minimal"
    both = request(prefer='return="OperationOutcome"; handling=strict')
    assert preferences.returned(both, "minimal") == "OperationOutcome"
    assert preferences.strict(both)
    assert preferences.expected_version(request(if_match='W/"3"')) == 3
    assert preferences.expected_version(request(if_match="3")) == 3
    assert preferences.expected_version(request(if_match="*")) is None
    assert preferences.expected_version(request()) is None
    assert preferences.expected_version(request(if_match='W/"x"')) == 0
    assert preferences.not_modified(request(if_none_match='W/"2", W/"3"'), 'W/"3"')
    assert not preferences.not_modified(request(if_none_match='W/"2"'), 'W/"3"')


# --- the XML scanner ------------------------------------------------------------------------------

LONG = "QUJD" * (LONG_STRING // 4 + 10)
DOCUMENT = (
    '<?xml version="1.0"?><!-- a "comment" with > inside --><Bundle xmlns="http://hl7.org/fhir">'
    "<![CDATA[ a \" quote ' and > ]]>"
    f'<a value=\'short "one"\'/><data value="{LONG}"/><b value="x">text " > \'</b></Bundle>'
).encode()


def _scan(chunks: list[bytes]) -> XmlScanner:
    scanner = XmlScanner(marker="DMPS" + "0" * 24)
    for chunk in chunks:
        scanner.feed(chunk)
    return scanner


def test_a_long_attribute_value_stays_out_of_the_skeleton():
    scanner = _scan([DOCUMENT])
    [(name, span)] = scanner.spans.items()
    assert DOCUMENT[span.start : span.end].decode() == LONG
    assert scanner.skeleton == DOCUMENT.replace(LONG.encode(), name.encode())
    assert len(name) % 4 == 0  # valid base64


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.integers(min_value=1, max_value=len(DOCUMENT)), max_size=30))
def test_the_chunking_changes_nothing(cuts):
    points = sorted(set(cuts))
    chunks = [DOCUMENT[a:b] for a, b in zip([0, *points], [*points, len(DOCUMENT)], strict=True)]
    whole, chunked = _scan([DOCUMENT]), _scan([c for c in chunks if c])
    assert chunked.skeleton == whole.skeleton
    assert chunked.spans == whole.spans


# --- French only ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["{not json", "[1,]", '{"a" 1}', '"abc', "[1] x", '"\\x"', '"\\u12"', "[1 2]", ""]
)
def test_json_errors_are_french(text):
    with pytest.raises(json.JSONDecodeError) as raised:
        json.loads(text)
    message = json_error(raised.value)
    assert message.startswith("JSON mal formé, ligne 1, colonne")
    assert not ENGLISH.search(message)
    assert "syntaxe invalide" not in message  # each one has its own explanation


@pytest.mark.parametrize(
    "error",
    [
        {"type": "missing"},
        {"type": "int_parsing"},
        {"type": "greater_than_equal", "ctx": {"ge": 0}},
        {"type": "less_than_equal", "ctx": {"le": 10}},
        {"type": "string_too_long"},
        {"type": "anything_else", "msg": "Input should be a valid thing"},
    ],
)
def test_validation_errors_are_french(error):
    text = validation_text(error)
    assert text
    assert not ENGLISH.search(text)

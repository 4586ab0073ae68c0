"""Generated Unicode in every parameter and body field of every operation of the API, over HTTP
(both backends): halves of UTF-16 surrogate pairs, other scripts' digits (Arabic-Indic,
Devanagari, fullwidth, superscripts), control characters, very long strings, valid values with
such characters slipped in, and values of the wrong JSON type. Whatever is sent: no 5xx, every
error an OperationOutcome, and a refusal stores nothing (its audit entry aside, and the trace of
a professional's first access to a DMP: see ``tests.e2e.stored``).

Seeded (``derandomize``) and bounded so that it runs in a few seconds per backend."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dmp.domain.identifiers import INS_NIR_SYSTEM
from dmp.entrypoints.fhir import ids
from dmp.services.submission import submit_documents
from tests.e2e.fhir import ARCHIVED, CONFIDENTIALITY, FLAGS, LOINC, check_response
from tests.e2e.stored import ACCESS_TRACES, AUDIT, stored
from tests.factories import pdf_submission
from tests.personas import ALICE_INS, LEA_INS, ins

OTHER_DIGITS = "٠١٢٣٤٥٦٧٨٩۴۵०१२३४५६७८९০৯๕０１２３４５６７８９²³¹⁰⁹₀₉𝟎𝟗"
EXAMPLES = 300  # over all the operations, per backend
Values = dict[str, Any]


def characters() -> st.SearchStrategy[str]:
    return st.one_of(
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),  # lone surrogates
        st.sampled_from(OTHER_DIGITS),
        st.characters(max_codepoint=0x1F),  # C0 controls, tab and line breaks included
        st.characters(min_codepoint=0x7F, max_codepoint=0x9F),  # DEL, C1 controls
        st.characters(min_codepoint=0x20, max_codepoint=0x7E),
        st.characters(),  # anything else
    )


def _slip(valid: str, at: int, inserted: str, replace: bool) -> str:
    at = min(at, len(valid))
    return valid[:at] + inserted + valid[at + (1 if replace else 0) :]


def text_like(valid: str) -> st.SearchStrategy[str]:
    """A valid value with a few odd characters slipped in, odd text, or very long text."""
    return st.one_of(
        st.builds(
            _slip,
            st.just(valid),
            st.integers(min_value=0, max_value=max(len(valid), 1)),
            st.text(characters(), min_size=1, max_size=3),
            st.booleans(),
        ),
        st.text(characters(), max_size=24),
        st.builds(
            lambda unit, times: unit * times,
            st.sampled_from([(str(valid) or "a")[:3], "é", "٣", "\ud800", "\x00"]),
            st.sampled_from([65, 129, 501, 2001, 25_000]),
        ),
    )


def json_like(valid: Any) -> st.SearchStrategy[Any]:
    """In a JSON body, also a value of the wrong type."""
    odd_types = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.lists(st.text(characters(), max_size=4), max_size=2),
        st.dictionaries(st.text(characters(), max_size=4), st.integers(), max_size=2),
    )
    return st.one_of(text_like(valid if isinstance(valid, str) else ""), odd_types)


@dataclass
class Operation:
    """A request with named slots, each holding a valid value; an example replaces a few."""

    name: str
    method: str
    valid: Values
    build: Callable[[Values], tuple[str, list[tuple[str, str]], dict[str, str], Any]]
    in_body: frozenset[str] = field(default_factory=frozenset)  # slots that take any JSON

    def strategy(self) -> st.SearchStrategy[tuple[Operation, Values]]:
        slots = sorted(self.valid)
        changed = st.lists(st.sampled_from(slots), min_size=1, max_size=3, unique=True).flatmap(
            lambda names: st.fixed_dictionaries(
                {
                    n: json_like(self.valid[n]) if n in self.in_body else text_like(self.valid[n])
                    for n in names
                }
            )
        )
        return st.tuples(st.just(self), changed.map(lambda new: {**self.valid, **new}))


def _query(pairs: list[tuple[str, str]]) -> str:
    encoded = [
        f"{quote(n)}={quote(str(v).encode('utf-8', 'surrogatepass'), safe='')}"
        for n, v in pairs
        if v is not None
    ]
    return ("?" + "&".join(encoded)) if encoded else ""


def _segment(value: Any) -> str:
    return quote(str(value).encode("utf-8", "surrogatepass"), safe="")


def _header(value: Any) -> bytes:
    """What an HTTP client can send: no control character, no surrounding blanks."""
    raw = str(value).encode("utf-8", "surrogatepass")
    return bytes(b for b in raw if b >= 0x20 and b != 0x7F).strip(b" ")


def _parameters(*items: tuple[str, str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": name, kind: value} for name, kind, value in items],
    }


def _access(v: Values) -> dict[str, str]:
    return {"X-DMP-Access-Mode": v["mode"], "X-DMP-Justification": v["justification"]}


ACCESS = {"mode": "normal", "justification": "Patient%20inconscient"}


def patient_operations(brochure: str, lea_dmp: str) -> list[Operation]:
    consent = {"brochureVersion": brochure, "informed": True, "consent": True}

    def create(v: Values, minor: bool) -> dict[str, Any]:
        items = [
            ("ins", "valueIdentifier", {"system": v["ins_system"], "value": v["ins"]}),
            ("family", "valueString", v["family"]),
            ("given", "valueString", v["given"]),
            ("given", "valueString", v["given2"]),
            ("birthName", "valueString", v["birthName"]),
            ("birthDate", "valueDate", v["birthDate"]),
            ("gender", "valueCode", v["gender"]),
            ("email", "valueString", v["email"]),
            ("phone", "valueString", v["phone"]),
            ("brochureVersion", "valueString", v["brochureVersion"]),
            ("informed", "valueBoolean", v["informed"]),
            ("consent", "valueBoolean", v["consent"]),
        ]
        body = _parameters(*items)
        if minor:
            part = _parameters(
                ("family", "valueString", v["rep_family"]),
                ("given", "valueString", v["rep_given"]),
                ("birthDate", "valueDate", "1980-01-05"),
                ("gender", "valueCode", "male"),
                ("email", "valueString", v["rep_email"]),
            )["parameter"]
            body["parameter"].append({"name": v["rep_name"], "part": part})
        return body

    identity = {
        "ins_system": INS_NIR_SYSTEM,
        "family": "Garnier",
        "given": "Zoé",
        "given2": "Marie",
        "birthName": "Dupont",
        "gender": "female",
        "email": "zoe@example.org",
        "phone": "+33612345678",
        **consent,
    }
    minor = {"rep_family": "Garnier", "rep_given": "Paul", "rep_email": "paul@example.org"}
    by_ins = {"ins": ALICE_INS.value, "ins_system": INS_NIR_SYSTEM}
    bodied = frozenset(identity) | frozenset(minor) | {"ins", "birthDate", "reason", "patient"}
    return [
        Operation(
            "search by INS",
            "GET",
            {"system": INS_NIR_SYSTEM, "value": ALICE_INS.value},
            lambda v: ("/fhir/Patient", [("identifier", f"{v['system']}|{v['value']}")], {}, None),
        ),
        Operation(
            "POST /fhir/Patient",
            "POST",
            {"family": "Garnier"},
            lambda v: (
                "/fhir/Patient",
                [],
                {},
                _parameters(("family", "valueString", v["family"])),
            ),
            frozenset({"family"}),
        ),
        Operation(
            "$dmp-create",
            "POST",
            {**identity, "ins": ins("1690512345678").value, "birthDate": "1969-05-20"},
            lambda v: ("/fhir/Patient/$dmp-create", [], {}, create(v, minor=False)),
            bodied,
        ),
        Operation(
            "$dmp-create of a minor",
            "POST",
            {
                **identity,
                **minor,
                "ins": ins("2150644109013").value,
                "birthDate": "2015-06-01",
                "rep_name": "representative",
            },
            lambda v: ("/fhir/Patient/$dmp-create", [], {}, create(v, minor=True)),
            bodied,
        ),
        Operation(
            "$dmp-close by INS",
            "POST",
            {"ins": LEA_INS.value, "reason": "Demande de la patiente,\nremise en main propre."},
            lambda v: (
                "/fhir/Patient/$dmp-close",
                [],
                {},
                _parameters(
                    ("ins", "valueString", v["ins"]), ("reason", "valueString", v["reason"])
                ),
            ),
            bodied,
        ),
        Operation(
            "$dmp-close by reference",
            "POST",
            {"patient": f"Patient/{lea_dmp}", "reason": "Demande de la patiente"},
            lambda v: (
                "/fhir/Patient/$dmp-close",
                [],
                {},
                _parameters(
                    ("patient", "valueReference", {"reference": v["patient"]}),
                    ("reason", "valueString", v["reason"]),
                ),
            ),
            bodied,
        ),
        Operation(
            "$dmp-reactivate",
            "POST",
            {"ins": LEA_INS.value, **consent},
            lambda v: (
                "/fhir/Patient/$dmp-reactivate",
                [],
                {},
                _parameters(
                    ("ins", "valueString", v["ins"]),
                    ("brochureVersion", "valueString", v["brochureVersion"]),
                    ("informed", "valueBoolean", v["informed"]),
                    ("consent", "valueBoolean", v["consent"]),
                ),
            ),
            bodied,
        ),
        Operation(
            "$declare-authorization",
            "POST",
            dict(by_ins),
            lambda v: (
                "/fhir/Patient/$declare-authorization",
                [],
                {"Authorization": "damien"},
                _parameters(
                    ("ins", "valueIdentifier", {"system": v["ins_system"], "value": v["ins"]})
                ),
            ),
            bodied,
        ),
        Operation(
            "$become-medecin-traitant",
            "POST",
            {"ins": LEA_INS.value},
            lambda v: (
                "/fhir/Patient/$become-medecin-traitant",
                [],
                {},  # Bruno, who created Léa's DMP, which has no médecin traitant
                _parameters(("ins", "valueString", v["ins"])),
            ),
            bodied,
        ),
    ]


BUNDLE = {
    "bundle_type": "transaction",
    "master": "urn:oid:1.2.250.1.999.42",
    "status": "current",
    "type_system": LOINC,
    "type_code": "11488-4",
    "category_code": "10",
    "label_system": FLAGS,
    "label_code": "MASQUE_PS",
    "confidentiality": "N",
    "content_type": "application/pdf",
    "title": "Compte rendu de consultation",
    "description": "Suite de la consultation,\nà revoir dans un mois.",
    "creation": "2026-03-01T10:00:00+01:00",
    "date": "2026-03-01",
    "language": "fr-FR",
    "format_code": "urn:ihe:iti:xds:2017:mimeTypeSufficient",
    "period_start": "2026-03-01T09:30:00+01:00",
    "period_end": "2026-03-01T10:00:00+01:00",
    "practice_setting": "",
    "facility_type": "",
    "subject_system": INS_NIR_SYSTEM,
    "subject_value": ALICE_INS.value,
    "binary_url": "urn:uuid:8c7b1a52-0b5e-4c1e-9a43-5c1c0f0e2a11",
    "binary_type": "application/pdf",
    "data": "JVBERi0xLjQKJeLjz9MKMSAwIG9iajw8L1R5cGUvQ2F0YWxvZz4+ZW5kb2JqCg==",
    "relates_code": "",
    "relates_reference": "",
}


def _bundle(v: Values) -> dict[str, Any]:
    document: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "masterIdentifier": {"value": v["master"]},
        "status": v["status"],
        "type": {"coding": [{"system": v["type_system"], "code": v["type_code"]}]},
        "category": [{"coding": [{"code": v["category_code"]}]}],
        "securityLabel": [
            {"coding": [{"system": CONFIDENTIALITY, "code": v["confidentiality"]}]},
            {"coding": [{"system": v["label_system"], "code": v["label_code"]}]},
        ],
        "subject": {"identifier": {"system": v["subject_system"], "value": v["subject_value"]}},
        "description": v["description"],
        "date": v["date"],
        "content": [
            {
                "attachment": {
                    "contentType": v["content_type"],
                    "url": v["binary_url"],
                    "title": v["title"],
                    "creation": v["creation"],
                    "language": v["language"],
                },
                "format": {"code": v["format_code"]},
            }
        ],
        "context": {"period": {"start": v["period_start"], "end": v["period_end"]}},
    }
    for name, key in (("practiceSetting", "practice_setting"), ("facilityType", "facility_type")):
        if v[key]:
            document["context"][name] = {"coding": [{"code": v[key]}]}
    if v["relates_code"] or v["relates_reference"]:
        document["relatesTo"] = [
            {"code": v["relates_code"], "target": {"reference": v["relates_reference"]}}
        ]
    binary = {"resourceType": "Binary", "contentType": v["binary_type"], "data": v["data"]}
    return {
        "resourceType": "Bundle",
        "type": v["bundle_type"],
        "entry": [
            {"fullUrl": "urn:uuid:0f5b4f7e-8d1c-4a8b-9a0e-3b2c1d4e5f60", "resource": document},
            {"fullUrl": v["binary_url"], "resource": binary},
        ],
    }


def document_operations(document: str) -> list[Operation]:
    search = {
        "patient.identifier": f"{INS_NIR_SYSTEM}|{ALICE_INS.value}",
        "status": "current",
        "archived": "false",
        "type": "11488-4",
        "category": "10",
        "security-label": "N",
        "author.identifier": "10000000017",
        "creation": "ge2026-01-01",
        "period": "le2026-12-31T23:59:59+01:00",
        "_count": "20",
        "_offset": "0",
        "_dmp-access-mode": "normal",
        "_dmp-justification": "Patient inconscient",
    }
    patch = {"op": "add", "path": "/securityLabel/-", "system": FLAGS, "code": "MASQUE_PS"}
    fhirpath = {"type": "replace", "path": "DocumentReference.status", "value": "entered-in-error"}
    return [
        Operation(
            "ITI-65",
            "POST",
            dict(BUNDLE),
            lambda v: ("/fhir", [], {}, _bundle(v)),
            frozenset(BUNDLE),
        ),
        Operation(
            "ITI-67",
            "GET",
            {**search, **ACCESS},
            lambda v: (
                "/fhir/DocumentReference",
                [(name, v[name]) for name in search],
                _access(v),
                None,
            ),
        ),
        Operation(
            "read",
            "GET",
            {"id": document, **ACCESS},
            lambda v: (f"/fhir/DocumentReference/{_segment(v['id'])}", [], _access(v), None),
        ),
        Operation(
            "ITI-68",
            "GET",
            {"id": f"{document}.0", "accept": "application/fhir+json", **ACCESS},
            lambda v: (
                f"/fhir/Binary/{_segment(v['id'])}",
                [],
                {**_access(v), "Accept": v["accept"]},
                None,
            ),
        ),
        Operation(
            "PATCH (JSON Patch)",
            "PATCH",
            {**patch, "document": document, "content_type": "application/json-patch+json"},
            lambda v: (
                f"/fhir/DocumentReference/{_segment(v['document'])}",
                [],
                {"Content-Type": v["content_type"]},
                [
                    {
                        "op": v["op"],
                        "path": v["path"],
                        "value": {"system": v["system"], "code": v["code"]},
                    }
                ],
            ),
            frozenset(patch),
        ),
        Operation(
            "PATCH (FHIRPath Patch)",
            "PATCH",
            {**fhirpath, "archived": ARCHIVED, "document": document},
            lambda v: (
                f"/fhir/DocumentReference/{_segment(v['document'])}",
                [],
                {},
                {
                    "resourceType": "Parameters",
                    "parameter": [
                        {
                            "name": "operation",
                            "part": [
                                {"name": "type", "valueCode": v["type"]},
                                {"name": "path", "valueString": v["path"]},
                                {"name": "value", "valueCode": v["value"]},
                                {"name": "url", "valueUri": v["archived"]},
                            ],
                        }
                    ],
                },
            ),
            frozenset({*fhirpath, "archived"}),
        ),
    ]


def send(api, operation: Operation, values: Values) -> httpx.Response:
    path, query, headers, body = operation.build(values)
    holder = headers.pop("Authorization", "bruno")
    sent: dict[str, bytes] = {"Authorization": _header(f"Bearer {api.tokens[holder]}")}
    sent |= {name: _header(value) for name, value in headers.items()}
    content = None
    if body is not None:
        sent.setdefault("Content-Type", b"application/fhir+json")
        content = json.dumps(body).encode()  # ASCII: surrogates and controls as \\u escapes
    url = path + _query(query)
    if len(url) < 60_000:
        return api.client.request(operation.method, url, headers=sent, content=content)
    return _send_long(api.client.base_url, operation.method, url, sent, content)


def _send_long(
    base: httpx.URL, method: str, url: str, headers: dict[str, bytes], content: bytes | None
) -> httpx.Response:
    """httpx refuses URLs of 64 KiB and more: those go through http.client."""
    connection = http.client.HTTPConnection(base.host, base.port, timeout=30)
    try:
        connection.request(method, url, body=content, headers=headers)
        answer = connection.getresponse()
        return httpx.Response(answer.status, headers=answer.getheaders(), content=answer.read())
    finally:
        connection.close()


@pytest.mark.slow
def test_no_generated_input_gets_a_5xx_or_stores_on_refusal(api, ctx, cast):
    [doc] = submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])
    operations = patient_operations(ctx.brochure.version, ids.patient_id(cast.lea_dmp))
    operations += document_operations(ids.document_id(doc.dmp_id, doc.id))
    seen: dict[str, set[int]] = {}

    @given(example=st.one_of(*(operation.strategy() for operation in operations)))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def exchange(example: tuple[Operation, Values]) -> None:
        operation, values = example
        before = stored(ctx, AUDIT | ACCESS_TRACES)
        response = check_response(send(api, operation, values))  # < 500, errors OperationOutcome
        seen.setdefault(operation.name, set()).add(response.status_code)
        if response.status_code >= 400:
            changes = before.changes(stored(ctx, AUDIT | ACCESS_TRACES))
            assert not changes, (operation.name, values, response.status_code, changes)

    exchange()
    assert set(seen) == {operation.name for operation in operations}
    assert all(any(400 <= status < 500 for status in found) for found in seen.values()), seen

"""Helpers of the API tests: a client that validates every FHIR body it receives (R4B models of
fhir.resources), a live uvicorn server in a thread, and builders of MHD Bundles."""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from defusedxml.ElementTree import fromstring as xml_root
from fhir.resources.R4B import get_fhir_model_class

from dmp.domain.identifiers import INS_NIR_SYSTEM, Ins
from dmp.entrypoints.fhir.protocol import LimitedHttpToolsProtocol
from tests.factories import PDF

FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"
FHIR_NS = "{http://hl7.org/fhir}"
# What an English message would show: none may reach a user.
ENGLISH = re.compile(
    r"\b(Expecting|Invalid|invalid literal|Field required|Input should|line \d+ column|"
    r"Unterminated|Extra data|Not Found|Method Not Allowed|value is not|syntax error|"
    r"not well-formed|Bad Request)\b"
)
RPPS = "urn:oid:1.2.250.1.71.4.2.1"
FLAGS = "urn:oid:1.2.250.1.213.1.1.4.13"
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
LOINC = "http://loinc.org"
ARCHIVED = "https://dmp.example.org/fhir/StructureDefinition/dmp-document-archived"


def validate(body: dict[str, Any]) -> None:
    """Every resource the server emits is valid FHIR (R4B structure and datatypes)."""
    get_fhir_model_class(body["resourceType"]).model_validate(body)


def validate_xml(body: bytes) -> Any:
    """A resource in FHIR XML, valid (R4B), read back as its model."""
    tag = xml_root(body).tag
    assert tag.startswith(FHIR_NS), tag
    return get_fhir_model_class(tag.removeprefix(FHIR_NS)).model_validate_xml(body)


def check_response(response: httpx.Response) -> httpx.Response:
    """No 5xx, every error an OperationOutcome in French, every FHIR body valid."""
    assert response.status_code < 500, response.text
    content_type = response.headers.get("content-type", "")
    if response.status_code >= 400:
        assert content_type.startswith(FHIR_JSON), (response.status_code, content_type)
        body = response.json()
        assert body["resourceType"] == "OperationOutcome"
        texts = " ".join(i["details"]["text"] for i in body["issue"])
        assert not ENGLISH.search(texts), texts
    if content_type.startswith(FHIR_JSON):
        validate(response.json())
    if content_type.startswith(FHIR_XML) and response.status_code != 304:
        validate_xml(response.content)
    return response


def refused_search(response: httpx.Response) -> bool:
    """A search that may open no DMP: an empty searchset with an information outcome, the
    same whether the DMP does not exist or the reader may not open it."""
    bundle = response.json()
    entries = bundle.get("entry", [])
    return (
        response.status_code == 200
        and bundle["type"] == "searchset"
        and bundle["total"] == 0
        and [e["search"]["mode"] for e in entries] == ["outcome"]
        and entries[0]["resource"]["issue"][0]["details"]["text"]
        == "DMP introuvable ou accès non autorisé."
    )


class Api:
    """The served app, with a bearer token per persona; every response is checked."""

    def __init__(self, client: httpx.Client, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def request(
        self, method: str, url: str, *, as_: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if as_ is not None:
            headers["Authorization"] = f"Bearer {self.tokens.get(as_, as_)}"
        return check_response(self.client.request(method, url, headers=headers, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(app: Any, port: int | None = None) -> Iterator[str]:
    """uvicorn serving ``app`` on a loopback port (a free one unless given), in a thread,
    stopped at the end."""
    port = port or free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ws="none",
        http=LimitedHttpToolsProtocol,  # as dmp serve
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# --- builders ----------------------------------------------------------------------------------


def ins_token(ins: Ins) -> str:
    return f"{INS_NIR_SYSTEM}|{ins.value}"


def parameters(**values: Any) -> dict[str, Any]:
    """A Parameters resource: str → valueString, bool → valueBoolean, dict → as given."""
    items = []
    for name, value in values.items():
        for one in value if isinstance(value, list) else [value]:
            if isinstance(one, bool):
                items.append({"name": name, "valueBoolean": one})
            elif isinstance(one, dict):
                items.append({"name": name, **one})
            else:
                items.append({"name": name, "valueString": one})
    return {"resourceType": "Parameters", "parameter": items}


def document_reference(
    ins: Ins | None,
    *,
    binary_url: str | None = None,
    data: bytes | None = None,
    content_type: str = "application/pdf",
    type_code: str = "11488-4",
    title: str = "Compte rendu de consultation",
    labels: tuple[str, ...] = (),
    master: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    attachment: dict[str, Any] = {
        "contentType": content_type,
        "title": title,
        "creation": "2026-03-01T10:00:00+01:00",
        "language": "fr-FR",
    }
    if binary_url:
        attachment["url"] = binary_url
    if data is not None:
        attachment["data"] = base64.b64encode(data).decode()
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "masterIdentifier": {
            "value": master or f"urn:oid:1.2.250.1.999.{uuid.uuid4().int % 10**12}"
        },
        "status": "current",
        "type": {"coding": [{"system": LOINC, "code": type_code}]},
        "securityLabel": [{"coding": [{"system": CONFIDENTIALITY, "code": "N"}]}]
        + [{"coding": [{"system": FLAGS, "code": flag}]} for flag in labels],
        "content": [
            {
                "attachment": attachment,
                "format": {
                    "system": "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode",
                    "code": "urn:ihe:iti:xds:2017:mimeTypeSufficient",
                },
            }
        ],
        "context": {
            "period": {"start": "2026-03-01T09:30:00+01:00", "end": "2026-03-01T10:00:00+01:00"}
        },
        **extra,
    }
    if ins is not None:
        resource["subject"] = {"identifier": {"system": INS_NIR_SYSTEM, "value": ins.value}}
    return resource


def transaction(*resources: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": url,
                "resource": res,
                "request": {"method": "POST", "url": res["resourceType"]},
            }
            for url, res in resources
        ],
    }


def provide_bundle(
    ins: Ins, content: bytes, *, content_type: str = "application/pdf", **kwargs: Any
) -> dict[str, Any]:
    """An MHD Comprehensive-style bundle: SubmissionSet List, DocumentReference, Binary."""
    binary_url = f"urn:uuid:{uuid.uuid4()}"
    doc_url = f"urn:uuid:{uuid.uuid4()}"
    submission_set = {
        "resourceType": "List",
        "status": "current",
        "mode": "working",
        "code": {
            "coding": [
                {
                    "system": "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes",
                    "code": "submissionset",
                }
            ]
        },
        "entry": [{"item": {"reference": doc_url}}],
    }
    binary = {
        "resourceType": "Binary",
        "contentType": content_type,
        "data": base64.b64encode(content).decode(),
    }
    doc = document_reference(ins, binary_url=binary_url, content_type=content_type, **kwargs)
    return transaction(
        (f"urn:uuid:{uuid.uuid4()}", submission_set), (doc_url, doc), (binary_url, binary)
    )


def created_id(response: httpx.Response) -> str:
    """The id of the first DocumentReference of a transaction-response."""
    for entry in response.json()["entry"]:
        location = entry["response"].get("location", "")
        if location.startswith("DocumentReference/"):
            return location.split("/", 1)[1]
    raise AssertionError(response.text)


STREAM_BLOCK = 3 * 64 * 1024  # raw bytes per base64 chunk: base64 of it has no padding


def streamed_bundle(ins: Ins, size: int) -> Iterator[bytes]:
    """An ITI-65 transaction Bundle whose one PDF is ``size`` bytes, generated while it is sent
    (the test process never holds it)."""

    def chunks() -> Iterator[bytes]:
        sent = 0
        while sent < size:
            n = min(STREAM_BLOCK, size - sent)
            yield (PDF[:9] + b"\0" * (n - 9)) if sent == 0 else b"\x07" * n
            sent += n

    return stream_bundle(document_reference(ins, data=b""), chunks())


def stream_bundle(resource: dict[str, Any], chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The transaction Bundle of this one DocumentReference, its attachment's content in base64
    as ``chunks`` come (each a whole number of base64 quanta: the pieces concatenate)."""
    resource["content"][0]["attachment"]["data"] = "@@DATA@@"
    head, tail = json.dumps(
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [{"fullUrl": "urn:uuid:1", "resource": resource}],
        }
    ).split("@@DATA@@")
    yield head.encode()
    for chunk in chunks:
        yield base64.b64encode(chunk)
    yield tail.encode()


def to_xml(resource: dict[str, Any]) -> bytes:
    """A resource written in FHIR XML, by the R4B models (as an integrator's library would)."""
    xml = get_fhir_model_class(resource["resourceType"]).model_validate(resource).model_dump_xml()
    return xml if isinstance(xml, bytes) else xml.encode("utf-8")


_MARK = base64.b64encode(b"dmp-data-mark").decode()


def streamed_xml_bundle(ins: Ins, size: int) -> Iterator[bytes]:
    """The XML twin of ``streamed_bundle``: one PDF of ``size`` bytes in ``attachment.data``'s
    value attribute, generated while it is sent."""
    resource = document_reference(ins, data=b"dmp-data-mark")
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"fullUrl": "urn:uuid:1", "resource": resource}],
    }
    head, tail = to_xml(bundle).split(_MARK.encode())
    yield head
    sent = 0
    while sent < size:
        n = min(STREAM_BLOCK, size - sent)
        raw = (PDF[:9] + b"\0" * (n - 9)) if sent == 0 else b"\x07" * n
        yield base64.b64encode(raw)
        sent += n
    yield tail

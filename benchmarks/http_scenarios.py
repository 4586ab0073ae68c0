"""The scenarios that go through HTTP, as a professional's software would.

* consult: ITI-67 (``GET /fhir/DocumentReference?patient.identifier=<INS>``) for a sampled
  patient, then ITI-68 of one of the documents found (the ``attachment.url`` given), both audited;
* feed: ITI-65 (``POST /fhir``), a transaction Bundle with one 200 KiB PDF;
* upload: one ITI-65 of a given size, alone, to see the server's peak memory;
* floor: ``GET /ping`` of the one-route app, and ``GET /fhir/metadata`` of dmp.

Consult reads the even-numbered sampled patients, feed writes to the odd-numbered ones, so that
repeated runs do not make the consulted DMPs grow.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit
from uuid import uuid4

import httpx

from benchmarks.load import LoadResult, Operation, check
from dmp.demo.pdf import sized_pdf
from dmp.domain.identifiers import INS_NIR_SYSTEM

KIB = 1024


def consult_patients(
    manifest: dict[str, Any], band: tuple[int, int] = (1, 10**9)
) -> list[dict[str, Any]]:
    """The even-numbered sampled patients, with a number of documents within ``band`` (to
    compare data sets whose samples happen to hold more or fewer documents)."""
    samples = manifest["samples"]
    return [s for s in samples[::2] if band[0] <= s["documents"] <= band[1]]


def feed_patients(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for n, s in enumerate(manifest["samples"]) if n % 2 == 1]


def _auth(patient: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {patient['token']}"}


def consult(patients: list[dict[str, Any]], seed: int = 7) -> Operation:
    rng = random.Random(seed)

    async def operation(http: httpx.AsyncClient, result: LoadResult, _n: int) -> None:
        patient = rng.choice(patients)
        params = {"patient.identifier": f"{INS_NIR_SYSTEM}|{patient['ins']}"}
        url = None
        async with result.step("ITI-67 search") as step:
            response = check(
                await http.get("/fhir/DocumentReference", params=params, headers=_auth(patient))
            )
            entries = response.json().get("entry", [])
            url = rng.choice(entries)["resource"]["content"][0]["attachment"]["url"]
        if step.failed or url is None:
            return
        async with (
            result.step("ITI-68 retrieve"),
            http.stream("GET", url, headers=_auth(patient)) as stream,
        ):
            check(stream)
            async for _chunk in stream.aiter_raw():
                pass

    return operation


def bundle_body(patient: dict[str, Any], pdf_b64: str) -> bytes:
    """A transaction Bundle with one DocumentReference and its Binary (the PDF in base64)."""
    binary_url = f"urn:uuid:{uuid4()}"
    now = datetime.now(UTC).isoformat(timespec="seconds")
    reference = {
        "resourceType": "DocumentReference",
        "status": "current",
        "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid4()}"},
        "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
        "subject": {"identifier": {"system": INS_NIR_SYSTEM, "value": patient["ins"]}},
        "date": now,
        "description": "Compte rendu de consultation (benchmark)",
        "content": [{"attachment": {"contentType": "application/pdf", "url": binary_url}}],
    }
    head = json.dumps(
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {"fullUrl": f"urn:uuid:{uuid4()}", "resource": reference},
                {"fullUrl": binary_url, "resource": {"resourceType": "Binary"}},
            ],
        }
    )
    # The Binary's data is spliced in as text: no JSON encoding of a large string per request.
    binary = '{"resourceType": "Binary"}'
    data = f'{{"resourceType": "Binary", "contentType": "application/pdf", "data": "{pdf_b64}"}}'
    return head.replace(binary, data).encode()


def pdf_base64(size: int, seed: int = 11) -> str:
    return base64.b64encode(sized_pdf(random.Random(seed), size)).decode("ascii")


def feed(patients: list[dict[str, Any]], size: int = 200 * KIB, seed: int = 8) -> Operation:
    rng, pdfs = random.Random(seed), [pdf_base64(size, s) for s in range(4)]

    async def operation(http: httpx.AsyncClient, result: LoadResult, _n: int) -> None:
        patient = rng.choice(patients)
        body = bundle_body(patient, rng.choice(pdfs))
        headers = {**_auth(patient), "Content-Type": "application/fhir+json"}
        async with result.step("ITI-65 provide"):
            check(await http.post("/fhir", content=body, headers=headers))

    return operation


def _chunks(body: bytes, size: int = 256 * KIB) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def upload_once(base_url: str, patient: dict[str, Any], size: int) -> float:
    """One ITI-65 with a ``size``-byte PDF, the body streamed in 256 KiB chunks; its seconds."""
    body = bundle_body(patient, pdf_base64(size))
    headers = {**_auth(patient), "Content-Type": "application/fhir+json"}
    with httpx.Client(base_url=base_url, timeout=300) as http:
        started = time.perf_counter()
        check(http.post("/fhir", content=_chunks(body), headers=headers))
        return time.perf_counter() - started


def get(path: str) -> Operation:
    async def operation(http: httpx.AsyncClient, result: LoadResult, _n: int) -> None:
        async with result.step(f"GET {path}"):
            check(await http.get(path))

    return operation


def wrk_consult_requests(
    base_url: str, patients: list[dict[str, Any]]
) -> list[tuple[str, dict[str, str]]]:
    """For wrk: ITI-67 and ITI-68 alternating (the ITI-68 paths found beforehand), the ITI-68 of
    the patient half the list further on. wrk cycles through the list: any window of consecutive
    requests shorter than the list names each DMP once, so the requests in flight are for
    different DMPs, as a professional's search and then read of a record are one after the other.
    (Each patient's search and read side by side put both in flight together: two appends to
    one audit chain, one waiting for the other's lock. See docs/performance.md.)"""
    searches, reads = [], []
    with httpx.Client(base_url=base_url, timeout=60) as http:
        for patient in patients:
            query = urlencode({"patient.identifier": f"{INS_NIR_SYSTEM}|{patient['ins']}"})
            search = f"/fhir/DocumentReference?{query}"
            bundle = check(http.get(search, headers=_auth(patient))).json()
            url = bundle["entry"][0]["resource"]["content"][0]["attachment"]["url"]
            searches.append((search, _auth(patient)))
            reads.append((urlsplit(url).path, _auth(patient)))
    half = len(patients) // 2
    requests = []
    for i, search in enumerate(searches):
        requests += [search, reads[(i + half) % len(reads)]]
    return requests

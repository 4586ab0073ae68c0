"""Schemathesis against ``/openapi.json``, over HTTP, with Bruno's token: whatever it sends, the
API never answers 5xx and every answer matches what the OpenAPI document declares. Seeded and
bounded (a few examples per operation) so that it runs in ``make test``."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_every_operation_is_described(server):
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    paths = schema.raw_schema["paths"]
    assert set(paths) >= {
        "/fhir",
        "/fhir/metadata",
        "/fhir/Patient",
        "/fhir/Patient/$dmp-create",
        "/fhir/DocumentReference",
        "/fhir/DocumentReference/{id}",
        "/fhir/Binary/{id}",
    }
    for operations in paths.values():
        for operation in operations.values():
            assert "4XX" in operation["responses"]
            assert not any(code.startswith("5") for code in operation["responses"])


def test_the_api_keeps_its_openapi_promises(server, tokens):
    """Positive and negative cases for every operation. (Schemathesis's lazy pytest loader does
    not work with pytest 9, hence the loop over the operations with Hypothesis directly.)"""
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    headers = {"Authorization": f"Bearer {tokens['bruno']}"}
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(mode))
            @settings(
                max_examples=10,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def exchange(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                exchange()
            except Unsatisfiable:
                # Nothing to get wrong (no parameter, no body: GET /fhir/metadata).
                assert mode is GenerationMode.NEGATIVE, operation.label

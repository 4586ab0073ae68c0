"""Domain → FHIR R4: the Patient of a look-up, Bundles and Parameters (documents: ``docref``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dmp.domain.identifiers import Ins
from dmp.domain.model import RecordState
from dmp.entrypoints.fhir import extensions as ext
from dmp.entrypoints.fhir import ids
from dmp.services.records import Lookup

Json = dict[str, Any]


def instant(moment: datetime) -> str:
    return moment.isoformat()


def _sub(url: str, **values: Any) -> Json:
    return {"url": url, **values}


# --- Patient -------------------------------------------------------------------------------------


def patient(found: Lookup, ins: Ins) -> Json:
    """The Patient of a DMP lookup: state for every professional, identity only if authorized."""
    assert found.dmp_id is not None
    assert found.state is not None
    state: list[Json] = [_sub("state", valueCode=found.state.value)]
    if found.closed_at is not None:
        state.append(_sub("closedAt", valueDateTime=instant(found.closed_at)))
    if found.closure_reason:
        state.append(_sub("closureReason", valueString=found.closure_reason))
    resource: Json = {
        "resourceType": "Patient",
        "id": ids.patient_id(found.dmp_id),
        "extension": [
            {"url": ext.RECORD_STATE, "extension": state},
            {
                "url": ext.MEDECIN_TRAITANT,
                "extension": [
                    _sub("designated", valueBoolean=found.has_medecin_traitant),
                    _sub("isRequester", valueBoolean=found.is_medecin_traitant),
                ],
            },
            {"url": ext.ACCESS_AUTHORIZED, "valueBoolean": found.authorized},
        ],
        "identifier": [
            {"use": "official", "system": ins.system, "value": ins.value},
            {"use": "secondary", "system": ext.DMP_ID_SYSTEM, "value": f"urn:uuid:{found.dmp_id}"},
        ],
        "active": found.state is RecordState.ACTIVE,
    }
    identity = found.identity
    if found.authorized and identity is not None:
        name: Json = {"use": "official", "family": identity.family_name}
        name["given"] = identity.given_names.split()
        resource["name"] = [name]
        if identity.birth_name:
            resource["name"].append({"use": "maiden", "family": identity.birth_name})
        resource["gender"] = identity.gender
        resource["birthDate"] = identity.birth_date.isoformat()
    return resource


# --- Bundles -------------------------------------------------------------------------------------


def searchset(
    entries: list[Json], total: int, links: dict[str, str], outcome: Json | None = None
) -> Json:
    bundle: Json = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": [{"relation": rel, "url": url} for rel, url in links.items()],
    }
    found = list(entries)
    if outcome is not None:
        found.append({"resource": outcome, "search": {"mode": "outcome"}})
    if found:
        bundle["entry"] = found
    return bundle


def match(full_url: str, resource: Json) -> Json:
    return {"fullUrl": full_url, "resource": resource, "search": {"mode": "match"}}


def parameters(values: list[Json]) -> Json:
    return {"resourceType": "Parameters", "parameter": values}

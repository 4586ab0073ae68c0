"""Patient: the operations on a DMP (create, close, reactivate, declare an authorization, become
the médecin traitant), the DMP named by the patient's INS. Finding and reading: ``lookup``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request

from dmp.domain.identifiers import INS_NIR_SYSTEM, Ins
from dmp.domain.model import ContactChannels, PatientIdentity
from dmp.entrypoints.fhir import ids, mapping, openapi
from dmp.entrypoints.fhir.auth import Ctx, Professional
from dmp.entrypoints.fhir.bodies import call, read_json, resource_of
from dmp.entrypoints.fhir.errors import FhirResponse
from dmp.entrypoints.fhir.params import Parameters, output
from dmp.errors import InvalidInput
from dmp.services import authorizations, records

router = APIRouter(prefix="/fhir", tags=["Patient"])
NO_STORE = {"Cache-Control": "no-store"}

_IDENTITY = frozenset({"family", "given", "birthName", "birthDate", "gender", "email", "phone"})
_CONSENT = frozenset({"brochureVersion", "informed", "consent"})
CREATE = _IDENTITY | _CONSENT | {"ins", "representative"}
CLOSE = frozenset({"ins", "patient", "reason"})
REACTIVATE = _CONSENT | {"ins"}
BY_INS = frozenset({"ins"})


def parse_ins_token(token: str) -> Ins:
    system, bar, value = token.partition("|")
    return Ins.parse(value, system or INS_NIR_SYSTEM) if bar else Ins.parse(token)


async def _parameters(request: Request, known: frozenset[str]) -> Parameters:
    return Parameters(resource_of(await read_json(request), "Parameters"), known)


def _identity(p: Parameters) -> PatientIdentity:
    given = " ".join(part.strip() for part in _strings(p, "given"))
    return PatientIdentity(
        family_name=p.required_string("family"),
        given_names=given,
        birth_date=p.day("birthDate"),
        gender=p.required_string("gender"),
        birth_name=p.string("birthName"),
    )


def _strings(p: Parameters, name: str) -> list[str]:
    values = [item.get("valueString") for item in p.all(name)]
    return [v for v in values if isinstance(v, str)]


def _consent(p: Parameters) -> records.Consent:
    return records.Consent(
        brochure_version=p.required_string("brochureVersion"),
        informed=bool(p.boolean("informed", required=True)),
        consented=bool(p.boolean("consent", required=True)),
    )


MAX_EMAIL = 254  # RFC 5321; the accounts table holds no more


def _contacts(p: Parameters) -> ContactChannels:
    email = p.string("email")
    if email is not None and len(email) > MAX_EMAIL:
        raise InvalidInput("Adresse électronique trop longue.", code="contact")
    return ContactChannels(email=email, phone=p.string("phone"))


def _representatives(p: Parameters) -> tuple[records.NewRepresentative, ...]:
    return tuple(
        records.NewRepresentative(_identity(part), _contacts(part))
        for part in p.parts("representative", _IDENTITY)
    )


def _patient_param(dmp_id: UUID) -> dict[str, Any]:
    return output("patient", valueReference={"reference": f"Patient/{ids.patient_id(dmp_id)}"})


def _credentials(name: str, credentials: Any) -> dict[str, Any]:
    return output(
        name,
        part=[
            output("login", valueString=credentials.login),
            output("temporaryPassword", valueString=credentials.temporary_password),
        ],
    )


@router.post(
    "/Patient/$dmp-create",
    summary="Créer le DMP du patient (information délivrée et consentement recueilli)",
    description="Paramètres : ins, family, given (répétable), birthName, birthDate, gender, "
    "email, phone, brochureVersion, informed, consent, representative (parties : family, given, "
    "birthDate, gender, email, phone). Réponse : patient, dmpId, identifiants du patient et des "
    "représentants légaux (affichés une seule fois).",
    responses=openapi.responses("Parameters : le DMP créé et les identifiants.", "Parameters"),
    openapi_extra=openapi.request_body("Parameters"),
    response_class=FhirResponse,
)
async def dmp_create(request: Request, ctx: Ctx, actor: Professional) -> FhirResponse:
    p = await _parameters(request, CREATE)
    created = await call(
        records.create_record,
        ctx,
        actor,
        ins=p.ins(),
        identity=_identity(p),
        contacts=_contacts(p),
        consent=_consent(p),
        representatives=_representatives(p),
    )
    values = [
        _patient_param(created.dmp_id),
        output("dmpId", valueUuid=f"urn:uuid:{created.dmp_id}"),
        _credentials("credentials", created.patient),
        *(_credentials("representativeCredentials", r) for r in created.representatives),
    ]
    return FhirResponse(mapping.parameters(values), headers=NO_STORE)


def _done(dmp_id: UUID, state: str) -> FhirResponse:
    values = [_patient_param(dmp_id), output("result", valueCode=state)]
    return FhirResponse(mapping.parameters(values))


@router.post(
    "/Patient/$dmp-close",
    summary="Fermer le DMP à la demande du patient (paramètres : ins ou patient, reason)",
    responses=openapi.responses("Parameters : le DMP et son nouvel état.", "Parameters"),
    openapi_extra=openapi.request_body("Parameters"),
    response_class=FhirResponse,
)
async def dmp_close(request: Request, ctx: Ctx, actor: Professional) -> FhirResponse:
    p = await _parameters(request, CLOSE)
    reason, reference = p.required_string("reason"), p.reference("patient")
    patient = p.ins() if reference is None else ids.parse_patient_reference(reference)
    dmp_id = await call(records.close_record, ctx, actor, patient, reason)
    return _done(dmp_id, "closed")


@router.post(
    "/Patient/$dmp-reactivate",
    summary="Réactiver un DMP fermé (paramètres : ins, brochureVersion, informed, consent)",
    responses=openapi.responses("Parameters : le DMP et son nouvel état.", "Parameters"),
    openapi_extra=openapi.request_body("Parameters"),
    response_class=FhirResponse,
)
async def dmp_reactivate(request: Request, ctx: Ctx, actor: Professional) -> FhirResponse:
    p = await _parameters(request, REACTIVATE)
    dmp_id = await call(records.reactivate_record, ctx, actor, p.ins(), _consent(p))
    return _done(dmp_id, "active")


@router.post(
    "/Patient/$declare-authorization",
    summary="Déclarer l'autorisation donnée par le patient présent (paramètre : ins)",
    responses=openapi.responses("Parameters : le DMP.", "Parameters"),
    openapi_extra=openapi.request_body("Parameters"),
    response_class=FhirResponse,
)
async def declare_authorization(request: Request, ctx: Ctx, actor: Professional) -> FhirResponse:
    ins = (await _parameters(request, BY_INS)).ins()
    dmp_id = await call(authorizations.declare_authorization, ctx, actor, ins)
    return _done(dmp_id, "authorized")


@router.post(
    "/Patient/$become-medecin-traitant",
    summary="Se déclarer médecin traitant, avec l'accord du patient (paramètre : ins)",
    responses=openapi.responses("Parameters : le DMP.", "Parameters"),
    openapi_extra=openapi.request_body("Parameters"),
    response_class=FhirResponse,
)
async def become_medecin_traitant(request: Request, ctx: Ctx, actor: Professional) -> FhirResponse:
    ins = (await _parameters(request, BY_INS)).ins()
    dmp_id = await call(
        authorizations.designate_medecin_traitant, ctx, actor, ins, actor.professional_id
    )
    return _done(dmp_id, "medecin-traitant")

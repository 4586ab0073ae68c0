"""``GET /fhir/metadata``: the CapabilityStatement, built from the same tables as the code (the
extensions, the search parameters' documentation, the operations)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request

from dmp import __version__
from dmp.entrypoints.fhir import bundle, mapping, openapi, patch, spool
from dmp.entrypoints.fhir import extensions as ext
from dmp.entrypoints.fhir.auth import Ctx
from dmp.entrypoints.fhir.bodies import base_url
from dmp.entrypoints.fhir.errors import FhirResponse

router = APIRouter(prefix="/fhir", tags=["CapabilityStatement"])
Json = dict[str, Any]
RELEASED = date(2026, 3, 1)
OPERATIONS = {
    "dmp-create": "Créer le DMP (INS, identité, contacts, brochure, consentement, représentants).",
    "dmp-close": "Fermer le DMP (INS, ou patient = Patient/<id> ; motif).",
    "dmp-reactivate": "Réactiver un DMP fermé (INS, brochure, consentement).",
    "declare-authorization": "Déclarer l'autorisation donnée par le patient présent (INS).",
    "become-medecin-traitant": "Se déclarer médecin traitant avec l'accord du patient (INS).",
}
DOCUMENT_SEARCH = [
    ("patient", "reference", "Le patient : Patient/<id> (id rendu par la recherche Patient)."),
    ("patient.identifier", "token", "Le patient par son INS : urn:oid:1.2.250.1.213.1.4.8|<INS>."),
    ("status", "token", "current | superseded (entered-in-error : jamais rendu)."),
    ("archived", "token", "DMP : false (défaut) | true | true,false — documents archivés."),
    ("type", "token", "Type de document (JDV_J66)."),
    ("category", "token", "Classe de document (JDV_J57)."),
    ("creation", "date", "Date de création du document (préfixes ge, gt, le, lt, eq)."),
    ("period", "date", "Période de prise en charge (préfixes ge, gt, le, lt, eq)."),
    ("security-label", "token", "N, R, V, MASQUE_PS, INVISIBLE_PATIENT, …"),
    ("author.identifier", "token", "RPPS de l'auteur (urn:oid:1.2.250.1.71.4.2.1|<RPPS>)."),
    ("_count", "number", "Taille de page : 20 par défaut, 100 au plus."),
    ("_offset", "number", "Rang du premier résultat (liens next/previous fournis)."),
]


def _extensions_doc() -> str:
    return "\n".join(f"- `{url}` — {text}" for url, text in ext.EXTENSIONS.items())


def _security() -> Json:
    return {
        "cors": False,
        "description": (
            "Chaque requête porte `Authorization: Bearer <jeton>` : un jeton délivré par "
            "l'opérateur, lié à un professionnel (RPPS) et, le cas échéant, à l'établissement "
            "pour lequel il agit. Accès en urgence : en-têtes `X-DMP-Access-Mode: emergency` "
            "ou `samu` et `X-DMP-Justification` (texte encodé en pourcents), lectures seulement."
        ),
    }


def _search(params: list[tuple[str, str, str]]) -> list[Json]:
    return [{"name": n, "type": t, "documentation": d} for n, t, d in params]


def _resources() -> list[Json]:
    return [
        {
            "type": "Patient",
            "interaction": [{"code": "search-type"}],
            "searchParam": _search([("identifier", "token", "INS du patient (obligatoire).")]),
            "operation": [
                {
                    "name": name,
                    "definition": f"{ext.BASE}/OperationDefinition/{name}",
                    "documentation": text,
                }
                for name, text in OPERATIONS.items()
            ],
            "documentation": "Recherche d'un DMP par INS : état (extension dmp-record-state), "
            "médecin traitant, accès ; identité seulement pour un professionnel autorisé.",
        },
        {
            "type": "DocumentReference",
            "profile": "https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Comprehensive.DocumentReference",
            "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "patch"}],
            "searchParam": _search(DOCUMENT_SEARCH),
            "documentation": (mapping.__doc__ or "") + "\n\n" + (patch.__doc__ or ""),
        },
        {
            "type": "Binary",
            "interaction": [{"code": "read"}],
            "documentation": "ITI-68 : contenu brut avec ETag et Repr-Digest (SHA-256) ; "
            "ressource Binary si Accept: application/fhir+json.",
        },
    ]


def capability_statement(base: str, max_content_bytes: int) -> Json:
    limit = spool.body_limit(max_content_bytes) // spool.MIB
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": RELEASED.isoformat(),
        "publisher": "dmp",
        "kind": "instance",
        "software": {"name": "dmp", "version": __version__},
        "implementation": {
            "description": "DMP — Dossier Médical Partagé, API des professionnels de santé",
            "url": base,
        },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "application/json"],
        "patchFormat": ["application/json-patch+json", "application/fhir+json"],
        "implementationGuide": ["https://profiles.ihe.net/ITI/MHD/ImplementationGuide/ihe.iti.mhd"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    f"Extensions du DMP :\n{_extensions_doc()}\n\n"
                    f"Dépôt (ITI-65) : {bundle.__doc__}\nTaille maximale d'une requête de "
                    f"dépôt : {limit} Mio (un contenu de "
                    f"{max_content_bytes // spool.MIB} Mio au plus, en base64)."
                ),
                "security": _security(),
                "resource": _resources(),
                "interaction": [{"code": "transaction"}],
            }
        ],
    }


@router.get(
    "/metadata",
    summary="CapabilityStatement (FHIR R4 4.0.1)",
    responses=openapi.responses("CapabilityStatement.", "CapabilityStatement"),
    response_class=FhirResponse,
)
def metadata(request: Request, ctx: Ctx) -> FhirResponse:
    return FhirResponse(capability_statement(base_url(request), ctx.settings.max_content_bytes))

"""``GET /fhir/metadata``: the CapabilityStatement, built from the same tables as the code (the
extensions, the search parameters, the operations), with French prose for integrators."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dmp import __version__
from dmp.entrypoints.fhir import docref, docsearch, lookup, openapi, spool
from dmp.entrypoints.fhir import extensions as ext
from dmp.entrypoints.fhir.auth import Ctx
from dmp.entrypoints.fhir.bodies import base_url
from dmp.entrypoints.fhir.errors import FhirResponse
from dmp.entrypoints.fhir.negotiation import respond

router = APIRouter(prefix="/fhir", tags=["CapabilityStatement"])
Json = dict[str, Any]
RELEASED = date(2026, 12, 20)
OPERATIONS = {
    "dmp-create": "Créer le DMP (INS, identité, contacts, brochure, consentement, représentants).",
    "dmp-close": "Fermer le DMP (INS, ou patient = Patient/<id> ; motif).",
    "dmp-reactivate": "Réactiver un DMP fermé (INS, brochure, consentement).",
    "declare-authorization": "Déclarer l'autorisation donnée par le patient présent (INS).",
    "become-medecin-traitant": "Se déclarer médecin traitant avec l'accord du patient (INS).",
}
GENERAL = """\
API FHIR R4 (4.0.1) du DMP, selon le profil IHE MHD (dépôt ITI-65, recherche ITI-67, \
récupération ITI-68), en JSON et en XML (en-tête Accept, ou paramètre _format).

Recherches : un paramètre inconnu est ignoré et absent du lien self ; avec l'en-tête \
« Prefer: handling=strict », il est refusé (400) et nommé. Une recherche sur un DMP qui \
n'existe pas, ou que vous ne pouvez pas ouvrir, rend un Bundle vide avec un OperationOutcome \
d'information : la même réponse dans les deux cas. POST /fhir/DocumentReference/_search \
accepte les mêmes paramètres en corps application/x-www-form-urlencoded.

Versions : chaque DocumentReference porte meta.versionId et meta.lastUpdated ; la lecture rend \
ETag (W/"<version>") et Last-Modified, If-None-Match rend 304. Un changement d'étiquette ou de \
statut est une nouvelle version de la ressource, même si le contenu du document ne change pas \
(un remplacement est un nouveau document). Une modification (PATCH) avec If-Match d'une autre \
version que la version en cours est refusée (412) et rien n'est changé. « Prefer: return= \
minimal | representation | OperationOutcome » est respecté par le dépôt et par PATCH.

Dépôt (ITI-65) : Bundle de type transaction, en application/fhir+json ou application/fhir+xml. \
Il contient au plus un List (SubmissionSet), un ou plusieurs DocumentReference et les Binary \
qu'ils désignent (attachment.url = fullUrl du Binary), ou le contenu en ligne \
(attachment.data). Le patient est désigné par DocumentReference.subject : son INS \
(urn:oid:1.2.250.1.213.1.4.8), une entrée Patient du lot portant l'INS, ou Patient/<id> ; le \
List.subject, s'il est donné, désigne le même patient de la même façon. Tous les documents sont \
enregistrés, ou aucun. Chaque entrée est rendue 201 Created avec sa location ; celle du List \
se relit par GET /fhir/List/<id>. attachment.size et attachment.hash (SHA-1 en base64), s'ils \
sont donnés, doivent correspondre au contenu reçu.

Contexte MHD (profil Comprehensive) : context.facilityType et context.practiceSetting sont \
toujours rendus. Au dépôt, ils sont facultatifs : à défaut, ils prennent ceux de \
l'établissement pour lequel agit l'auteur (par exemple SA01 et ETABLISSEMENT pour un centre \
hospitalier), ceux d'un exercice libéral (SA52, AMBULATOIRE) pour un professionnel qui n'agit \
pour aucun établissement, ou DOMICILE pour un document déposé par le patient. Ces valeurs se \
déduisent sans ambiguïté de qui dépose ; les exiger ferait refuser les documents des logiciels \
qui ne les connaissent pas, sans rien apporter au patient. Donnés, ils doivent appartenir aux \
jeux de valeurs (JDV_J02, JDV_J04).

Auteur : conformément au profil, l'auteur est contenu dans le DocumentReference (contained) : \
un PractitionerRole (profession, TRE_G15) du Practitioner (RPPS, nom) pour l'Organization \
(FINESS, nom) ; les documents du patient désignent le Patient.

Erreurs : toujours un OperationOutcome, en français, qui dit quoi corriger."""


def _extensions_doc() -> str:
    return "\n".join(f"- `{url}` — {text}" for url, text in ext.EXTENSIONS.items())


def _security(cors: bool) -> Json:
    return {
        "cors": cors,
        "description": (
            "Chaque requête porte `Authorization: Bearer <jeton>` : un jeton délivré par "
            "l'opérateur, lié à un professionnel (RPPS) et, le cas échéant, à l'établissement "
            "pour lequel il agit. Accès en urgence : en-têtes `X-DMP-Access-Mode: emergency` "
            "(bris de glace) ou `samu` (régulation) et `X-DMP-Justification` (texte encodé en "
            "pourcents), lectures seulement. CORS : seulement pour les origines que l'opérateur "
            "a autorisées."
        ),
    }


def _search(params: dict[str, tuple[str, str]]) -> list[Json]:
    return [{"name": n, "type": t, "documentation": d} for n, (t, d) in params.items()]


def _patient() -> Json:
    return {
        "type": "Patient",
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "searchParam": _search({k: v for k, v in lookup.PARAMETERS.items() if k != "_format"}),
        "operation": [
            {
                "name": name,
                "definition": f"{ext.BASE}/OperationDefinition/{name}",
                "documentation": text,
            }
            for name, text in OPERATIONS.items()
        ],
        "documentation": "Recherche d'un DMP par INS : existence et état (extension "
        "dmp-record-state), médecin traitant, accès ; l'identité seulement pour qui peut ouvrir "
        "le DMP. Lecture par id (Patient/<id>, la référence des documents) : pour qui peut "
        "ouvrir le DMP ; pour tout autre, 404, comme un id inconnu.",
    }


def _document_reference() -> Json:
    params = {k: v for k, v in docsearch.PARAMETERS.items() if not k.startswith("_")}
    return {
        "type": "DocumentReference",
        "profile": docref.PROFILE,
        "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "patch"}],
        "versioning": "versioned",
        "readHistory": False,
        "conditionalRead": "not-match",
        "searchParam": _search(params),
        "documentation": "Modifications par PATCH (JSON Patch ou FHIRPath Patch), une par "
        "requête : masquer ou démasquer (MASQUE_PS), rendre invisible au patient ou visible "
        "(INVISIBLE_PATIENT), archiver ou désarchiver (extension dmp-document-archived), "
        "supprimer (status = entered-in-error).",
    }


def _resources() -> list[Json]:
    return [
        _patient(),
        _document_reference(),
        {
            "type": "Binary",
            "interaction": [{"code": "read"}],
            "documentation": "ITI-68 : le contenu tel quel (son type MIME, ETag et "
            "Repr-Digest SHA-256, nom de fichier avec son extension), ou une ressource Binary "
            "(base64) si l'en-tête Accept préfère application/fhir+json ou +xml.",
        },
        {
            "type": "List",
            "profile": docref.SUBMISSION_SET,
            "interaction": [{"code": "read"}],
            "documentation": "Relire un lot déposé (SubmissionSet) : les documents de ce lot "
            "que le lecteur peut voir.",
        },
    ]


def capability_statement(base: str, max_content_bytes: int, cors: bool) -> Json:
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
        "format": ["application/fhir+json", "application/fhir+xml"],
        "patchFormat": ["application/json-patch+json", "application/fhir+json"],
        "implementationGuide": ["https://profiles.ihe.net/ITI/MHD/ImplementationGuide/ihe.iti.mhd"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    f"{GENERAL}\n\nTaille maximale d'une requête de dépôt : {limit} Mio (un "
                    f"contenu de {max_content_bytes // spool.MIB} Mio au plus, en base64).\n\n"
                    f"Extensions du DMP :\n{_extensions_doc()}"
                ),
                "security": _security(cors),
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
def metadata(request: Request, ctx: Ctx) -> Response:
    settings = ctx.settings
    statement = capability_statement(
        base_url(request), settings.max_content_bytes, bool(settings.cors_origins)
    )
    return respond(request, statement)

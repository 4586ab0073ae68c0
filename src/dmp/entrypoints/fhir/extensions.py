"""The DMP's own FHIR extensions and search parameters, with what they mean.

Listed in the CapabilityStatement (``GET /fhir/metadata``) from this table, so the documentation
and the code cannot drift apart.
"""

from __future__ import annotations

BASE = "https://dmp.example.org/fhir"
SD = f"{BASE}/StructureDefinition"

RECORD_STATE = f"{SD}/dmp-record-state"
MEDECIN_TRAITANT = f"{SD}/dmp-medecin-traitant"
ACCESS_AUTHORIZED = f"{SD}/dmp-access-authorized"
DOCUMENT_ARCHIVED = f"{SD}/dmp-document-archived"
DOCUMENT_VERSION = f"{SD}/dmp-document-version"
CONTENT_SHA256 = f"{SD}/dmp-content-sha256"
DMP_ID_SYSTEM = "urn:ietf:rfc:3986"  # the DMP id, as urn:uuid:…

EXTENSIONS: dict[str, str] = {
    RECORD_STATE: (
        "Patient — état du DMP. Sous-extensions : `state` (valueCode active | closed), "
        "`closedAt` (valueDateTime), `closureReason` (valueString)."
    ),
    MEDECIN_TRAITANT: (
        "Patient — médecin traitant. Sous-extensions : `designated` (valueBoolean : le patient en "
        "a un), `isRequester` (valueBoolean : c'est le professionnel qui interroge)."
    ),
    ACCESS_AUTHORIZED: (
        "Patient — valueBoolean : le professionnel qui interroge peut ouvrir ce DMP en accès "
        "normal. L'identité (nom, naissance, sexe) n'est donnée que dans ce cas."
    ),
    DOCUMENT_ARCHIVED: (
        "DocumentReference — valueBoolean : document archivé (son statut FHIR reste `current`). "
        "Recherche : paramètre `archived` ; modification : PATCH."
    ),
    DOCUMENT_VERSION: (
        "DocumentReference — valueInteger : version du document (1, puis +1 à chaque "
        "remplacement) ; l'identifiant logique stable est l'`identifier` d'usage `secondary`. "
        "La version de la ressource (meta.versionId) compte, elle, les changements de ses "
        "métadonnées."
    ),
    CONTENT_SHA256: (
        "Attachment — valueString : empreinte SHA-256 (hexadécimal) du contenu, à côté de "
        "l'élément FHIR `hash` (SHA-1, base64 ; absent pour les contenus déposés avant qu'il soit "
        "conservé) ; ITI-68 renvoie la même empreinte SHA-256 dans les en-têtes `ETag` et "
        "`Repr-Digest`."
    ),
}

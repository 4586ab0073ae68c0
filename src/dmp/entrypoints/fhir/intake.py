"""FHIR → domain: a DocumentReference of an ITI-65 Bundle becomes a ``Submission``.

The mapping (IHE MHD, "Comprehensive" metadata, leniently):

- ``masterIdentifier.value`` → the producer's unique id; ``status`` must be ``current``;
- ``type.coding`` → the JDV_J66 type (the class is derived from it; a ``category``, if given,
  must agree);
- ``securityLabel`` → confidentiality ``N``/``R``/``V`` (the most restrictive wins) and the flags
  ``MASQUE_PS``, ``INVISIBLE_PATIENT``, ``INVISIBLE_REPRESENTANTS_LEGAUX``;
- ``content[].attachment``: ``contentType``, the bytes inline (``data``) or in a ``Binary`` of the
  Bundle named by ``url`` (its ``fullUrl``); ``title`` → title (else ``description``, else the
  type's display); ``creation`` → creation time (else ``date``); ``language``;
  ``content[].format`` → format code (default: ``urn:ihe:iti:xds:2017:mimeTypeSufficient``);
- ``description`` → comments (when a title is given);
- ``context.period`` → service start/stop; ``context.practiceSetting``, ``context.facilityType``;
- ``relatesTo`` ``replaces`` → the document it replaces (``DocumentReference/<id>``);
- ``attachment.size`` and ``attachment.hash`` (SHA-1, base64), when given, must match the bytes
  received: a content that contradicts them is refused, and nothing is stored;
- ``author`` is ignored: the author is the authenticated professional.

This module maps; it does not judge. The limits and checks of the metadata (lengths, dates,
language, characters) are the domain's (``dmp.domain.inputs``), applied by the use case.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from dmp.domain.model import Confidentiality, ContentInput, DocumentMetadata
from dmp.domain.valuesets import ValueSets
from dmp.entrypoints.fhir import ids
from dmp.entrypoints.fhir.spool import SpooledBody
from dmp.errors import InvalidInput
from dmp.services.documents import Submission

Json = dict[str, Any]
DEFAULT_FORMAT = "urn:ihe:iti:xds:2017:mimeTypeSufficient"
FLAGS = ("MASQUE_PS", "INVISIBLE_PATIENT", "INVISIBLE_REPRESENTANTS_LEGAUX")
_RESTRICTION = {"N": 0, "R": 1, "V": 2}
SHA1_BYTES = 20


def bad(text: str, code: str = "document") -> InvalidInput:
    return InvalidInput(text, code=code)


def as_dict(value: Any, where: str) -> Json:
    if not isinstance(value, dict):
        raise bad(f"{where} : un objet JSON est attendu.")
    return value


def as_list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad(f"{where} : une liste JSON est attendue.")
    return value


def _text(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad(f"{where} : une chaîne est attendue.")
    return value


def codes(concept: Any, where: str) -> list[tuple[str | None, str]]:
    """The (system, code) pairs of a CodeableConcept."""
    found = []
    for item in as_list(as_dict(concept, where).get("coding"), f"{where}.coding"):
        coding = as_dict(item, f"{where}.coding")
        code = _text(coding.get("code"), f"{where}.coding.code")
        if code:
            found.append((_text(coding.get("system"), f"{where}.coding.system"), code))
    return found


def moment(value: Any, where: str) -> datetime | None:
    """A FHIR dateTime: a whole day (taken at 00:00 UTC) or a time (with its time zone)."""
    text = _text(value, where)
    if text is None:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        return datetime.fromisoformat(text)
    except ValueError:
        raise bad(f"{where} : date invalide ({text[:40]!r}).", "date") from None


def _type_code(resource: Json, vs: ValueSets) -> str:
    pairs = codes(resource.get("type") or {}, "DocumentReference.type")
    if not pairs:
        raise bad("DocumentReference.type est obligatoire (JDV_J66).", "type")
    for system, code in pairs:
        known = vs.types.get(code)
        if known and system in (None, known.coding.system):
            return code
    return vs.document_type(pairs[0][1]).coding.code  # raises the "unknown type" error


def _check_category(resource: Json, class_code: str, vs: ValueSets) -> None:
    for index, concept in enumerate(as_list(resource.get("category"), "category")):
        for system, code in codes(concept, f"DocumentReference.category[{index}]"):
            if system in (None, vs.class_system) and code != class_code:
                raise bad(
                    f"La classe {code} ne correspond pas au type du document (classe "
                    f"{class_code}, JDV_J57).",
                    "category",
                )


@dataclass
class _Labels:
    confidentiality: Confidentiality = Confidentiality.NORMAL
    flags: frozenset[str] = frozenset()


def _labels(resource: Json, vs: ValueSets) -> _Labels:
    labels, flags = _Labels(), set()
    for index, concept in enumerate(as_list(resource.get("securityLabel"), "securityLabel")):
        for system, code in codes(concept, f"DocumentReference.securityLabel[{index}]"):
            if code in _RESTRICTION and system in (
                None,
                vs.confidentiality_system,
                vs.flags_system,
            ):
                if _RESTRICTION[code] > _RESTRICTION[labels.confidentiality.value]:
                    labels.confidentiality = Confidentiality(code)
            elif code in FLAGS and system in (None, vs.flags_system):
                flags.add(code)
            else:
                raise bad(f"Étiquette de confidentialité inconnue : {code[:40]}.", "security")
    labels.flags = frozenset(flags)
    return labels


def _format(contents: list[Json], vs: ValueSets) -> str:
    found = set()
    for content in contents:
        if content.get("format") is not None:
            coding = as_dict(content["format"], "content.format")
            found.add(_text(coding.get("code"), "content.format.code") or DEFAULT_FORMAT)
    if len(found) > 1:
        raise bad("Tous les contenus d'un document doivent avoir le même format.", "format")
    return found.pop() if found else DEFAULT_FORMAT


def _content(
    content: Json, binaries: dict[str, Json], body: SpooledBody, index: int
) -> ContentInput:
    where = f"DocumentReference.content[{index}].attachment"
    attachment = as_dict(content.get("attachment"), where)
    mime = _text(attachment.get("contentType"), f"{where}.contentType")
    data = attachment.get("data")
    if data is None:
        url = _text(attachment.get("url"), f"{where}.url")
        binary = binaries.get(url or "")
        if binary is None:
            raise bad(f"{where} : ni data, ni url vers un Binary du lot (urn:uuid:…).", "content")
        declared = _text(binary.get("contentType"), "Binary.contentType")
        if mime and declared and declared != mime:
            raise bad(f"{where}.contentType ({mime}) diffère de celui du Binary ({declared}).")
        mime, data = mime or declared, binary.get("data")
    if not mime:
        raise bad(f"{where}.contentType est obligatoire.", "content")
    if not isinstance(data, str):
        raise bad(f"{where} : contenu absent ou non base64.", "content")
    size, sha1 = _declared(attachment, where)
    return ContentInput(mime.split(";", 1)[0].strip().lower(), body.base64(data), size, sha1)


def _declared(attachment: Json, where: str) -> tuple[int | None, bytes | None]:
    """What the producer declares of the content (``size``, ``hash``: SHA-1 in base64), which
    the stored bytes must match."""
    size, digest = attachment.get("size"), attachment.get("hash")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise bad(f"{where}.size : un entier positif est attendu.", "content")
    if digest is None:
        return size, None
    try:
        sha1 = base64.b64decode(_text(digest, f"{where}.hash") or "", validate=True)
    except (binascii.Error, ValueError):
        sha1 = b""
    if len(sha1) != SHA1_BYTES:
        raise bad(f"{where}.hash : l'empreinte SHA-1 en base64 est attendue.", "content")
    return size, sha1


def _context(resource: Json, vs: ValueSets) -> Json:
    context = as_dict(resource.get("context") or {}, "DocumentReference.context")
    period = as_dict(context.get("period") or {}, "context.period")

    def first(name: str) -> str | None:
        pairs = codes(context[name], f"context.{name}") if context.get(name) else []
        return pairs[0][1] if pairs else None

    return {
        "service_start": moment(period.get("start"), "context.period.start"),
        "service_stop": moment(period.get("end"), "context.period.end"),
        "practice_setting": first("practiceSetting"),
        "facility_type": first("facilityType"),
    }


def _replaces(resource: Json) -> Any:
    for item in as_list(resource.get("relatesTo"), "relatesTo"):
        relation = as_dict(item, "relatesTo")
        if relation.get("code") != "replaces":
            raise bad("Seule la relation « replaces » est prise en charge.", "relates-to")
        target = as_dict(relation.get("target"), "relatesTo.target")
        reference = _text(target.get("reference"), "relatesTo.target.reference") or ""
        return ids.parse_document_id(reference.rsplit("DocumentReference/", 1)[-1])[1]
    return None


def submission(
    resource: Json, binaries: dict[str, Json], body: SpooledBody, vs: ValueSets
) -> Submission:
    if resource.get("status", "current") != "current":
        raise bad("Un document soumis a le statut « current ».", "status")
    master = as_dict(resource.get("masterIdentifier") or {}, "masterIdentifier")
    type_code = _type_code(resource, vs)
    _check_category(resource, vs.document_type(type_code).class_code, vs)
    labels = _labels(resource, vs)
    contents = [as_dict(c, "content") for c in as_list(resource.get("content"), "content")]
    if not contents:
        raise bad("DocumentReference.content est obligatoire.", "content")
    first = as_dict(contents[0].get("attachment"), "content[0].attachment")
    title = _text(first.get("title"), "attachment.title")
    description = _text(resource.get("description"), "DocumentReference.description")
    creation = moment(first.get("creation"), "attachment.creation") or moment(
        resource.get("date"), "DocumentReference.date"
    )
    if creation is None:
        raise bad("La date de création (attachment.creation ou date) est obligatoire.", "date")
    metadata = DocumentMetadata(
        master_identifier=_text(master.get("value"), "masterIdentifier.value") or "",
        type_code=type_code,
        title=title or description or vs.types[type_code].coding.display,
        creation_time=creation,
        format_code=_format(contents, vs),
        confidentiality=labels.confidentiality,
        comments=description if title else None,
        language=_text(first.get("language"), "attachment.language") or "fr-FR",
        masked="MASQUE_PS" in labels.flags,
        invisible_patient="INVISIBLE_PATIENT" in labels.flags,
        invisible_representatives="INVISIBLE_REPRESENTANTS_LEGAUX" in labels.flags,
        **_context(resource, vs),
    )
    inputs = [_content(c, binaries, body, i) for i, c in enumerate(contents)]
    return Submission(metadata, inputs, _replaces(resource))

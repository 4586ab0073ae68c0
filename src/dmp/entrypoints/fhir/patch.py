"""PATCH of a DocumentReference: which one change of the DMP a patch asks for.

A patch carries exactly one change (each is a use case, audited on its own), as a JSON Patch
(``application/json-patch+json``) or a FHIRPath Patch (a ``Parameters``):

- mask / hide from the patient: JSON ``add`` at ``/securityLabel/-`` with a Coding
  ``MASQUE_PS`` / ``INVISIBLE_PATIENT``; FHIRPath ``add``, path ``DocumentReference``, name
  ``securityLabel``, ``valueCoding``;
- unmask / reveal: JSON ``test`` at ``/securityLabel/<i>`` with the Coding, then ``remove`` at
  the same path; FHIRPath ``delete``, path
  ``DocumentReference.securityLabel.where(code='MASQUE_PS')``;
- delete: JSON ``replace`` at ``/status`` with ``entered-in-error``; FHIRPath ``replace``, path
  ``DocumentReference.status``, ``valueCode``;
- archive / unarchive: JSON ``add`` at ``/extension/-`` with
  ``{"url": "…/dmp-document-archived", "valueBoolean": true|false}``; FHIRPath ``replace``,
  path ``DocumentReference.extension('…/dmp-document-archived').value``, ``valueBoolean``.

For ``remove``, the label is named by the ``test`` before it (its index alone would depend on the
other labels). Anything else is answered 422. Every value read from the patch is type-checked
first (a code that is a list or an object is refused, not compared).
"""

from __future__ import annotations

import re
from typing import Any

from dmp.entrypoints.fhir import extensions as ext
from dmp.entrypoints.fhir.errors import UnprocessablePatch
from dmp.errors import InvalidInput
from dmp.policy import DocumentChange

Json = dict[str, Any]
_ADD_LABEL = {
    "MASQUE_PS": DocumentChange.MASK,
    "INVISIBLE_PATIENT": DocumentChange.HIDE_FROM_PATIENT,
}
_REMOVE_LABEL = {"MASQUE_PS": DocumentChange.UNMASK, "INVISIBLE_PATIENT": DocumentChange.REVEAL}
_ARCHIVE = {True: DocumentChange.ARCHIVE, False: DocumentChange.UNARCHIVE}
_LABEL_INDEX = re.compile("/securityLabel/([0-9]+|-)")
_EXTENSION_INDEX = re.compile("/extension/([0-9]+|-)")
_WHERE_CODE = re.compile(
    r"DocumentReference\.securityLabel\.where\(\s*(?:system\s*=\s*'[^']*'\s+and\s+)?"
    r"code\s*=\s*'(?P<code>[A-Z_]+)'\s*\)(?:\.coding)?"
)
_ARCHIVED_PATHS = (
    f"DocumentReference.extension('{ext.DOCUMENT_ARCHIVED}').value",
    f"DocumentReference.extension.where(url='{ext.DOCUMENT_ARCHIVED}').value",
)


def _unsupported(detail: str) -> UnprocessablePatch:
    return UnprocessablePatch(
        f"Modification non prise en charge : {detail}. Une seule modification par PATCH : "
        "masquer ou démasquer (MASQUE_PS), rendre invisible au patient ou visible "
        "(INVISIBLE_PATIENT), archiver ou désarchiver, supprimer (entered-in-error)."
    )


def _bad(text: str) -> InvalidInput:
    return InvalidInput(text, code="patch")


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise _bad(f"PATCH : {what} doit être une chaîne.")
    return value


def _code(value: Any) -> str:
    """The code of a Coding, or of a CodeableConcept with one coding."""
    if isinstance(value, dict) and isinstance(value.get("coding"), list) and value["coding"]:
        value = value["coding"][0]
    if not isinstance(value, dict):
        raise _unsupported("étiquette attendue : un Coding (code MASQUE_PS ou INVISIBLE_PATIENT)")
    return _string(value.get("code"), "le code de l'étiquette (Coding.code)")


def _label(change: dict[str, DocumentChange], value: Any) -> DocumentChange:
    code = _code(value)
    if code not in change:
        raise _unsupported(f"étiquette {code[:40]}")
    return change[code]


def _archived(value: Any) -> DocumentChange:
    if isinstance(value, dict) and value.get("url") == ext.DOCUMENT_ARCHIVED:
        value = value.get("valueBoolean")
    if not isinstance(value, bool):
        raise _unsupported("extension attendue : dmp-document-archived (valueBoolean)")
    return _ARCHIVE[value]


def _json_patch_op(op: Json, tested: dict[str, Any]) -> DocumentChange | None:
    kind = _string(op.get("op"), "chaque opération JSON Patch (op)")
    path = _string(op.get("path"), "le chemin de chaque opération JSON Patch (path)")
    value = op.get("value")
    if kind == "test":
        tested[path.removesuffix("/code")] = value
        return None
    if kind == "add" and _LABEL_INDEX.fullmatch(path):
        return _label(_ADD_LABEL, value)
    if kind == "remove" and _LABEL_INDEX.fullmatch(path) and path in tested:
        code = tested[path]  # the test names the label by its code, or by its Coding
        return _label(_REMOVE_LABEL, {"code": code} if isinstance(code, str) else code)
    if kind in ("add", "replace") and path == "/status" and value == "entered-in-error":
        return DocumentChange.DELETE
    if kind in ("add", "replace") and _EXTENSION_INDEX.fullmatch(path):
        return _archived(value)
    raise _unsupported(f"{kind[:20]} {path[:60]}")


def _json_patch(ops: list[Any]) -> list[DocumentChange]:
    tested: dict[str, Any] = {}
    changes = []
    for op in ops:
        if not isinstance(op, dict):
            raise _bad("Un JSON Patch est une liste d'opérations.")
        change = _json_patch_op(op, tested)
        if change is not None:
            changes.append(change)
    return changes


def _parts(operation: Any) -> Json:
    if not isinstance(operation, dict) or operation.get("name") != "operation":
        raise _bad("FHIRPath Patch : paramètres « operation » attendus.")
    parts = operation.get("part")
    if not isinstance(parts, list):
        raise _bad("FHIRPath Patch : une opération a des parties.")
    found: Json = {}
    for part in parts:
        if not isinstance(part, dict):
            raise _bad("FHIRPath Patch : chaque partie est un objet (name, value…).")
        name = _string(part.get("name"), "le nom de chaque partie (name)")
        values = [v for k, v in part.items() if k.startswith("value")]
        found[name] = values[0] if values else None
    return found


def _fhirpath_op(operation: Any) -> DocumentChange:
    parts = _parts(operation)
    kind = _string(parts.get("type"), "le type de l'opération (type)")
    path = _string(parts.get("path"), "le chemin de l'opération (path)")
    value = parts.get("value")
    if kind == "add" and path == "DocumentReference" and parts.get("name") == "securityLabel":
        return _label(_ADD_LABEL, value)
    where = _WHERE_CODE.fullmatch(path)
    if kind == "delete" and where:
        return _label(_REMOVE_LABEL, {"code": where["code"]})
    if kind == "replace" and path == "DocumentReference.status" and value == "entered-in-error":
        return DocumentChange.DELETE
    if kind in ("replace", "add") and path in _ARCHIVED_PATHS:
        return _archived(value)
    raise _unsupported(f"{kind[:20]} {path[:60]}")


def change_of(body: Any) -> DocumentChange:
    """The one change a JSON Patch (a list) or a FHIRPath Patch (a Parameters) asks for."""
    if isinstance(body, list):
        changes = _json_patch(body)
    elif isinstance(body, dict) and body.get("resourceType") == "Parameters":
        operations = body.get("parameter")
        if not isinstance(operations, list):
            raise _bad("FHIRPath Patch : Parameters.parameter manquant.")
        changes = [_fhirpath_op(op) for op in operations]
    else:
        raise _bad(
            "Le corps d'un PATCH est un JSON Patch (liste) ou un FHIRPath Patch (Parameters)."
        )
    if len(changes) != 1:
        raise _unsupported(f"{len(changes)} modifications demandées")
    return changes[0]

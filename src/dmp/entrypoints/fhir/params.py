"""Reading the ``Parameters`` body of an operation: typed accessors with French errors."""

from __future__ import annotations

from datetime import date
from typing import Any

from dmp.domain.identifiers import INS_NIR_SYSTEM, Ins
from dmp.errors import InvalidInput

Json = dict[str, Any]
_STRINGS = ("valueString", "valueCode", "valueId", "valueUri", "valueMarkdown")


def _bad(text: str) -> InvalidInput:
    return InvalidInput(text, code="parameters")


class Parameters:
    """The parameters of an operation, refused if a name is unknown or repeated where it must
    not be (a typo must not silently drop a consent)."""

    def __init__(self, resource: Json, known: frozenset[str]) -> None:
        raw = resource.get("parameter", [])
        if not isinstance(raw, list) or not all(isinstance(p, dict) for p in raw):
            raise _bad("Parameters.parameter doit être une liste de paramètres.")
        self._items: list[Json] = raw
        for item in raw:
            name = item.get("name")
            if not isinstance(name, str) or name not in known:
                listed = ", ".join(sorted(known))
                raise _bad(f"Paramètre inconnu : {str(name)[:40]!r} (attendus : {listed}).")

    def all(self, name: str) -> list[Json]:
        return [p for p in self._items if p.get("name") == name]

    def one(self, name: str, required: bool = False) -> Json | None:
        found = self.all(name)
        if len(found) > 1:
            raise _bad(f"Le paramètre « {name} » est donné plusieurs fois.")
        if not found and required:
            raise _bad(f"Le paramètre « {name} » est obligatoire.")
        return found[0] if found else None

    def string(self, name: str, required: bool = False) -> str | None:
        item = self.one(name, required)
        if item is None:
            return None
        value = next((item[k] for k in _STRINGS if k in item), None)
        if not isinstance(value, str):
            raise _bad(f"Le paramètre « {name} » doit porter une chaîne (valueString).")
        return value

    def required_string(self, name: str) -> str:
        value = self.string(name, required=True)
        assert value is not None
        return value

    def boolean(self, name: str, required: bool = False) -> bool | None:
        item = self.one(name, required)
        if item is None:
            return None
        value = item.get("valueBoolean")
        if not isinstance(value, bool):
            raise _bad(f"Le paramètre « {name} » doit porter un booléen (valueBoolean).")
        return value

    def day(self, name: str) -> date:
        item = self.one(name, required=True)
        assert item is not None
        value = item.get("valueDate")
        if not isinstance(value, str):
            raise _bad(f"Le paramètre « {name} » doit porter une date (valueDate, AAAA-MM-JJ).")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise _bad(f"Date invalide pour « {name} » : {value[:20]!r}.") from None

    def parts(self, name: str, known: frozenset[str]) -> list[Parameters]:
        found = []
        for item in self.all(name):
            part = item.get("part")
            if not isinstance(part, list):
                raise _bad(f"Le paramètre « {name} » doit avoir des parties (part).")
            found.append(Parameters({"parameter": part}, known))
        return found

    def reference(self, name: str) -> str | None:
        """A ``valueReference`` (``Patient/<id>``) or a plain string."""
        item = self.one(name)
        if item is None:
            return None
        reference = item.get("valueReference")
        if isinstance(reference, dict) and isinstance(reference.get("reference"), str):
            return str(reference["reference"])
        return self.string(name)

    def ins(self, name: str = "ins") -> Ins:
        """The INS: ``valueIdentifier`` (system + value) or a plain string (NIR system)."""
        item = self.one(name, required=True)
        assert item is not None
        identifier = item.get("valueIdentifier")
        if isinstance(identifier, dict):
            system, value = identifier.get("system", INS_NIR_SYSTEM), identifier.get("value")
            if not isinstance(system, str) or not isinstance(value, str):
                raise _bad("INS : valueIdentifier doit porter system et value.")
            return Ins.parse(value, system)
        return Ins.parse(self.required_string(name))


def output(name: str, **value: Any) -> Json:
    return {"name": name, **value}

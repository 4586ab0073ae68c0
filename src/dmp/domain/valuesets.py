"""Value sets and the profession matrix, loaded from the data files and validated at start."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from dmp.domain.model import PATIENT_CLASS
from dmp.errors import ConfigurationError, InvalidInput

ALL_CLASSES = "*"


@dataclass(frozen=True, slots=True)
class Coding:
    system: str
    code: str
    display: str


@dataclass(frozen=True, slots=True)
class DocumentType:
    coding: Coding
    class_code: str


@dataclass(frozen=True, slots=True)
class Format:
    coding: Coding
    mime_types: frozenset[str]


@dataclass(frozen=True, slots=True)
class ValueSets:
    version: str
    class_system: str
    classes: dict[str, str]
    types: dict[str, DocumentType]
    confidentiality_system: str
    confidentiality: dict[str, str]
    flags_system: str
    flags: dict[str, str]
    formats: dict[str, Format]
    mime_types: dict[str, str]
    practice_setting_system: str
    practice_settings: dict[str, str]
    facility_type_system: str
    facility_types: dict[str, str]
    profession_system: str
    professions: dict[str, str]
    establishment_kinds: dict[str, tuple[str, bool]]  # kind -> (label, excluded)
    # Who produced a document ("alone", "patient", or an establishment kind) -> its default MHD
    # context: (facility type, practice setting).
    document_contexts: dict[str, tuple[str, str]]

    def document_type(self, code: str) -> DocumentType:
        try:
            return self.types[code]
        except KeyError:
            raise InvalidInput(
                f"Type de document inconnu (JDV_J66) : {code}", code="type"
            ) from None

    def types_of_class(self, class_code: str) -> list[Coding]:
        """The document types (JDV_J66) of one class, in the order of the value set."""
        return [t.coding for t in self.types.values() if t.class_code == class_code]

    def patient_types(self) -> list[Coding]:
        """The types of the documents a patient adds: those of the class kept for them (SPEC
        §4: class 90, DOCPAT01…DOCPAT09, EXPPAT_1…EXPPAT_3), as the value set lists them."""
        return self.types_of_class(PATIENT_CLASS)

    def check_format(self, code: str, mime_type: str) -> None:
        fmt = self.formats.get(code)
        if fmt is None:
            raise InvalidInput(f"Format de document inconnu : {code}", code="format")
        if mime_type not in fmt.mime_types:
            raise InvalidInput(f"Le format {code} n'admet pas le type {mime_type}.", code="format")

    def check_profession(self, code: str) -> None:
        if code not in self.professions:
            raise InvalidInput(f"Profession inconnue (TRE_G15) : {code}", code="profession")

    def establishment_kind(self, kind: str) -> tuple[str, bool]:
        try:
            return self.establishment_kinds[kind]
        except KeyError:
            known = ", ".join(sorted(self.establishment_kinds))
            raise InvalidInput(
                f"Type d'établissement inconnu : {kind} (attendu : {known})", code="kind"
            ) from None


@dataclass(frozen=True, slots=True)
class ProfessionMatrix:
    """Which profession may read which document class (matrice d'habilitations)."""

    version: str
    is_default: bool
    readable: dict[str, frozenset[str]]

    def allows(self, profession: str, class_code: str) -> bool:
        classes = self.readable.get(profession, frozenset())
        return ALL_CLASSES in classes or class_code in classes


def _read(name: str) -> Any:
    text = resources.files("dmp.data").joinpath(name).read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _coded(section: dict[str, Any]) -> tuple[str, dict[str, str]]:
    return str(section["system"]), {str(k): str(v) for k, v in section["codes"].items()}


def _contexts(
    raw: dict[str, Any], facility_types: dict[str, str], practice_settings: dict[str, str]
) -> dict[str, tuple[str, str]]:
    sections = {**raw["establishment_kinds"], **raw["document_context"]}
    found = {}
    for producer, section in sections.items():
        if "facility_type" not in section:
            continue  # an excluded kind, which never authors a document
        pair = (str(section["facility_type"]), str(section["practice_setting"]))
        if pair[0] not in facility_types or pair[1] not in practice_settings:
            raise ConfigurationError(f"document context of {producer}: unknown codes {pair}")
        found[str(producer)] = pair
    return found


def parse_valuesets(raw: dict[str, Any]) -> ValueSets:
    try:
        class_system, classes = _coded(raw["classes"])
        types = {}
        for t in raw["types"]:
            if str(t["class"]) not in classes:
                raise ConfigurationError(f"type {t['code']}: unknown class {t['class']}")
            coding = Coding(str(t["system"]), str(t["code"]), str(t["display"]))
            types[coding.code] = DocumentType(coding, str(t["class"]))
        mime_types = {str(k): str(v) for k, v in raw["mime_types"].items()}
        formats = {}
        for f in raw["formats"]:
            unknown = set(f["mime"]) - set(mime_types)
            if unknown:
                raise ConfigurationError(f"format {f['code']}: unknown MIME types {unknown}")
            coding = Coding(str(f["system"]), str(f["code"]), str(f["display"]))
            formats[coding.code] = Format(coding, frozenset(f["mime"]))
        conf_system, confidentiality = _coded(raw["confidentiality"])
        flags_system, flags = _coded(raw["dmp_flags"])
        ps_system, practice_settings = _coded(raw["practice_settings"])
        ft_system, facility_types = _coded(raw["facility_types"])
        prof_system, professions = _coded(raw["professions"])
        kinds = {
            str(k): (str(v["label"]), bool(v["excluded"]))
            for k, v in raw["establishment_kinds"].items()
        }
        return ValueSets(
            str(raw["version"]),
            class_system,
            classes,
            types,
            conf_system,
            confidentiality,
            flags_system,
            flags,
            formats,
            mime_types,
            ps_system,
            practice_settings,
            ft_system,
            facility_types,
            prof_system,
            professions,
            kinds,
            _contexts(raw, facility_types, practice_settings),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ConfigurationError(f"valuesets.yaml is malformed: {exc!r}") from exc


def parse_matrix(raw: dict[str, Any], valuesets: ValueSets) -> ProfessionMatrix:
    try:
        readable: dict[str, frozenset[str]] = {}
        for profession, classes in raw["matrix"].items():
            valuesets.check_profession(str(profession))
            codes = frozenset(str(c) for c in classes)
            unknown = codes - set(valuesets.classes) - {ALL_CLASSES}
            if unknown:
                raise ConfigurationError(
                    f"matrix: profession {profession}: unknown classes {unknown}"
                )
            readable[str(profession)] = codes
        return ProfessionMatrix(str(raw["version"]), raw["status"] != "official", readable)
    except (KeyError, TypeError, AttributeError, InvalidInput) as exc:
        raise ConfigurationError(f"profession_matrix.yaml is malformed: {exc}") from exc


@cache
def load_valuesets() -> ValueSets:
    return parse_valuesets(_read("valuesets.yaml"))


@cache
def load_matrix() -> ProfessionMatrix:
    return parse_matrix(_read("profession_matrix.yaml"), load_valuesets())

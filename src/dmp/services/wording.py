"""How the access history says what happened: one French sentence per audit entry, from the
table of ``data/history.yaml`` (SPEC §5). The table is data, checked when it is loaded: an
unknown placeholder, a missing sentence or a missing reason is a ``ConfigurationError`` at start,
never a code shown to a patient.

The sentences are written for their reader: « Vous avez … » for the reader's own actions; the
professionals named with their title, profession and establishment; a document by its title only
when the history service found that this reader may read it now (else « un document »).
"""

from __future__ import annotations

import logging
import string
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

import yaml

from dmp import policy
from dmp.domain.french import moment_fr
from dmp.domain.model import AccessMode
from dmp.errors import ConfigurationError
from dmp.policy import DocumentChange

log = logging.getLogger("dmp.history")

# What a sentence may name (see the file's header).
PLACEHOLDERS = frozenset(
    {"qui", "a", "na", "a_qui", "au_compte", "document", "cible", "a_cible", "choix"}
)
# The reasons the services write beside the policy's (``policy.REASONS``): nothing by that id
# (``services.gate``), content that cannot be stored as given (``dmp.errors``), a failed login
# (``services.login``). Each must have its clause.
SERVICE_REASONS = frozenset(
    {
        "no-record",
        "no-document",
        "no-content",
        "duplicate-identifier",
        "unsupported-content",
        "too-large",
        "content-mismatch",
        "wrong-password",
        "wrong-code",
    }
)
_UNKNOWN = ("{qui} {a} agi sur votre DMP", "{qui} {na} pas pu agir sur votre DMP")


@dataclass(frozen=True, slots=True)
class Phrasing:
    kind: str
    done: str
    refused: str


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of the history's filter: the actions that name it, or a mode or an outcome."""

    key: str
    label: str
    modes: frozenset[str] = frozenset()
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class Mode:
    phrase: str
    refused: str


@dataclass(frozen=True, slots=True)
class Person:
    """Someone a sentence names, as this reader reads it: the subject (« Vous », « Le Dr Bruno
    Martin, médecin, »), the same after « à » and after « de », and as an object."""

    subject: str
    to: str
    of: str
    obj: str
    reader: bool = False
    professional: bool = False


READER = Person("Vous", "à vous", "de vous", "vous", reader=True)


def person(subject: str, *, professional: bool = False) -> Person:
    """A third person, from the way they are named as a subject (« Le Dr X », « L'opérateur »,
    « Chloé Bernard »): the article contracts after « à » and « de »."""
    for article, to, of, obj in (
        ("Le ", "au ", "du ", "le "),
        ("La ", "à la ", "de la ", "la "),
        ("L'", "à l'", "de l'", "l'"),
        ("Un ", "à un ", "d'un ", "un "),
        ("Une ", "à une ", "d'une ", "une "),
    ):
        if subject.startswith(article):
            rest = subject[len(article) :]
            return Person(subject, to + rest, of + rest, obj + rest, professional=professional)
    return Person(subject, f"à {subject}", f"de {subject}", subject, professional=professional)


@dataclass(frozen=True, slots=True)
class Said:
    """One entry, with what its sentence needs, gathered by the history service."""

    at: datetime
    action: str
    allowed: bool
    reason: str
    mode: str
    actor: Person
    justification: str | None = None
    document: str | None = None  # the title, when this reader may read the document now
    target: Person | None = None  # the professional or establishment acted upon
    choices: str | None = None  # oppositions.set: "oppose_emergency=True,oppose_samu=False"


@dataclass(frozen=True, slots=True)
class Wording:
    titles: dict[str, str]
    system: dict[str, str]
    representative: str
    modes: dict[str, Mode]
    justification: str
    oppositions: dict[str, dict[str, str]]
    no_choice: str
    kinds: dict[str, Kind]
    views: str
    actions: dict[str, Phrasing]
    system_chain_only: frozenset[str]
    reasons: dict[str, str]

    # --- naming people ---------------------------------------------------------------------------

    def professional(
        self, name: str, profession: str | None, label: str | None, establishment: str | None
    ) -> Person:
        """« Le Dr Bruno Martin, médecin (CHU de Nantes), »: the title by profession, the
        profession's label, the establishment acted for."""
        title = self.titles.get(profession or "")
        named = f"Le {title} {name}" if title else name
        where = f" ({establishment})" if establishment else ""
        if label:
            named += f", {label.lower()}{where},"
        else:
            named += where
        return person(named, professional=True)

    def system_actor(self, name: str) -> Person:
        return person(self.system.get(name, self.system["default"]))

    def representative_named(self, name: str) -> Person:
        return person(f"{name}, {self.representative},")

    # --- the sentence ----------------------------------------------------------------------------

    def sentence(self, said: Said) -> str:
        """The entry as one or two French sentences, with its date (and, refused, why)."""
        phrasing = self.actions.get(said.action)
        if phrasing is None:
            log.warning("no sentence for the action %r of the access history", said.action)
            phrasing = Phrasing("", *_UNKNOWN)
        mode = self.modes.get(said.mode)
        if not said.allowed and mode is not None and said.actor.professional:
            body = _fill(mode.refused, self._values(said))
        else:
            body = _fill(phrasing.done if said.allowed else phrasing.refused, self._values(said))
            if mode is not None:
                body += f" {mode.phrase}"
        text = f"{body} le {moment_fr(said.at)}"
        if not said.allowed:
            why = self.reasons.get(said.reason)
            if why is None:
                log.warning("no clause for the reason %r of the access history", said.reason)
            else:
                text += f", {why}"
        text += "."
        if said.justification:
            text += " " + self.justification.format(justification=said.justification)
        return text[0].upper() + text[1:]

    def _values(self, said: Said) -> dict[str, str]:
        who, target = said.actor, said.target or person("un professionnel")
        title = said.document
        return {
            "qui": who.subject,
            "a": "avez" if who.reader else "a",
            "na": "n'avez" if who.reader else "n'a",
            "a_qui": who.to,
            "au_compte": "à votre compte" if who.reader else f"au compte {who.of}",
            "document": f"le document « {title} »" if title else "un document",
            "cible": target.obj,
            "a_cible": target.to,
            "choix": self._choices(said.choices),
        }

    def _choices(self, target_id: str | None) -> str:
        """« refusé les accès en urgence (bris de glace) et accepté … », from the entry's target."""
        said = []
        for part in (target_id or "").split(","):
            name, _, value = part.partition("=")
            phrase = self.oppositions.get(name, {}).get(value)
            if phrase:
                said.append(phrase)
        return " et ".join(said) if said else self.no_choice

    # --- the kinds -------------------------------------------------------------------------------

    def actions_of(self, kind: str) -> frozenset[str]:
        return frozenset(a for a, p in self.actions.items() if p.kind == kind)

    @property
    def view_actions(self) -> frozenset[str]:
        return self.actions_of(self.views)


def _fill(template: str, values: dict[str, str]) -> str:
    return template.format(**values)


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


@cache
def wording() -> Wording:
    """The table, loaded once and checked."""
    text = resources.files("dmp.data").joinpath("history.yaml").read_text("utf-8")
    try:
        loaded = _parse(yaml.safe_load(text))
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ConfigurationError(f"history.yaml is malformed: {exc!r}") from exc
    _check(loaded)
    return loaded


def _parse(raw: dict[str, Any]) -> Wording:
    kinds = {
        key: Kind(key, v["label"], frozenset(v.get("modes", ())), v.get("outcome"))
        for key, v in raw["kinds"].items()
    }
    oppositions, actions = dict(raw["oppositions"]), raw["actions"]
    no_choice = oppositions.pop("none")
    return Wording(
        titles={str(k): str(v) for k, v in raw["titles"].items()},
        system=dict(raw["system"]),
        representative=raw["representative"],
        modes={k: Mode(v["phrase"], v["refused"]) for k, v in raw["modes"].items()},
        justification=raw["justification"],
        oppositions={k: {str(b): p for b, p in v.items()} for k, v in oppositions.items()},
        no_choice=no_choice,
        kinds=kinds,
        views=raw["views"],
        actions={k: Phrasing(v["kind"], v["done"], v["refused"]) for k, v in actions.items()},
        system_chain_only=frozenset(raw["system_chain_only"]),
        reasons=dict(raw["reasons"]),
    )


def _refusals() -> set[str]:
    """The policy's refusal reasons (its grounds are no refusal: ``deny`` refuses them)."""
    found = set()
    for reason in policy.REASONS:
        try:
            policy.deny(reason)
        except ValueError:
            continue
        found.add(reason)
    return found


def _check(w: Wording) -> None:
    """Every sentence names only what it may, every action has a kind, every mode and document
    change has its sentence, every reason of the service's own has its clause."""
    problems = []
    for action, p in w.actions.items():
        if p.kind not in w.kinds or w.kinds[p.kind].modes or w.kinds[p.kind].outcome:
            problems.append(f"{action}: unknown kind {p.kind!r}")
        for template in (p.done, p.refused):
            if unknown := _placeholders(template) - PLACEHOLDERS:
                problems.append(f"{action}: unknown placeholders {sorted(unknown)}")
    for name, mode in w.modes.items():
        if _placeholders(mode.refused) - PLACEHOLDERS:
            problems.append(f"mode {name}: unknown placeholders")
    wanted_modes = {m.value for m in AccessMode} - {AccessMode.NORMAL.value}
    if set(w.modes) != wanted_modes:
        problems.append(f"modes: {sorted(w.modes)} instead of {sorted(wanted_modes)}")
    for change in DocumentChange:
        if f"document.{change.value}" not in w.actions:
            problems.append(f"no sentence for document.{change.value}")
    if missing := (SERVICE_REASONS | _refusals()) - set(w.reasons):
        problems.append(f"no clause for the reasons {sorted(missing)}")
    if w.views not in w.kinds or "default" not in w.system:
        problems.append("views or system.default missing")
    if problems:
        raise ConfigurationError("history.yaml: " + "; ".join(problems))

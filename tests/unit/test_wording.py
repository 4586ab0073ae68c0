"""The sentences of the access history (data/history.yaml): every action and every reason the
services write has its sentence, and the sentences read as French for their reader."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

import dmp
from dmp.errors import ConfigurationError
from dmp.policy import DocumentChange
from dmp.policy.decision import _REFUSALS
from dmp.services import wording as module
from dmp.services.wording import READER, Said, person, wording
from tests.integration.test_reasons import SCENARIOS

SERVICES = Path(dmp.__file__).parent / "services"
ACTION = re.compile(r"[a-z]+(?:-[a-z]+)*(?:\.[a-z]+(?:-[a-z]+)*)+")
AT = datetime(2026, 3, 3, 13, 5, tzinfo=UTC)  # 14 h 05 in Paris


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def written_actions() -> set[str]:
    """Every action name the services spell out: dotted lower-case words in their code (not
    a package, a logger or a data file)."""
    found = set()
    for path in SERVICES.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and ACTION.fullmatch(node.value)
                and not node.value.startswith("dmp.")
                and not node.value.endswith((".yaml", ".md"))
            ):
                found.add(node.value)
    return found


def test_the_scan_sees_the_actions_of_the_services():
    assert {"document.read", "portal.sign-in", "authorization.grant"} <= written_actions()


def test_every_action_the_services_write_has_a_sentence():
    w = wording()
    unphrased = written_actions() - set(w.actions) - w.system_chain_only
    assert unphrased == set()


def test_every_document_change_has_a_sentence():
    assert {f"document.{c.value}" for c in DocumentChange} <= set(wording().actions)


def test_every_refusal_reason_has_its_clause():
    reasons = set(wording().reasons)
    assert set(_REFUSALS) <= reasons
    assert set(SCENARIOS) <= reasons  # the policy's and the service's own, each staged
    assert {"wrong-password", "wrong-code"} <= reasons


def test_each_action_has_one_kind_of_the_filter():
    w = wording()
    for action, phrasing in w.actions.items():
        assert phrasing.kind in w.kinds, action
    assert set().union(*(w.actions_of(k) for k in w.kinds)) == set(w.actions)
    assert "history.read" in w.view_actions
    assert "document.read" in w.view_actions


def test_a_malformed_table_is_refused_at_load():
    w = wording()
    broken = module.Phrasing("consultations", "{qui} {a} lu {titre}", "{qui} {na} pas pu lire")
    with pytest.raises(ConfigurationError, match="titre"):
        module._check(
            module.Wording(**{**_fields(w), "actions": {**w.actions, "document.read": broken}})
        )
    for missing in ("wrong-code", "blocked"):
        reasons = {k: v for k, v in w.reasons.items() if k != missing}
        without = module.Wording(**{**_fields(w), "reasons": reasons})
        with pytest.raises(ConfigurationError, match=missing):
            module._check(without)


def _fields(w: module.Wording) -> dict[str, object]:
    return {name: getattr(w, name) for name in module.Wording.__dataclass_fields__}


# --- the sentences ------------------------------------------------------------------------------


def test_a_professional_reading_a_document():
    w = wording()
    bruno = w.professional("Bruno Martin", "10", "Médecin", None)
    said = Said(AT, "document.read", True, "authorized", "normal", bruno, document="Bilan")
    assert w.sentence(said) == (
        "Le Dr Bruno Martin, médecin, a consulté le document « Bilan » le 3 mars 2026 à 14 h 05."
    )


def test_a_document_the_reader_may_not_read_is_not_named():
    w = wording()
    bruno = w.professional("Bruno Martin", "10", "Médecin", None)
    said = Said(AT, "document.add", True, "authorized", "normal", bruno, document=None)
    assert (
        w.sentence(said)
        == "Le Dr Bruno Martin, médecin, a ajouté un document le 3 mars 2026 à 14 h 05."
    )


def test_an_emergency_access_and_its_refusal_say_so_with_the_justification():
    w = wording()
    damien = w.professional("Damien Petit", "10", "Médecin", None)
    allowed = Said(AT, "document.search", True, "emergency", "emergency", damien, "Inconsciente")
    assert w.sentence(allowed) == (
        "Le Dr Damien Petit, médecin, a recherché vos documents en accès d'urgence (bris de "
        "glace) le 3 mars 2026 à 14 h 05. Motif donné : « Inconsciente »."
    )
    refused = Said(AT, "document.search", False, "samu-opposed", "samu", damien, "Malaise")
    assert w.sentence(refused) == (
        "Un accès par la régulation médicale (SAMU – centre 15) a été refusé au Dr Damien Petit, "
        "médecin, le 3 mars 2026 à 14 h 05, car vous aviez refusé les accès par la régulation "
        "médicale (SAMU). Motif donné : « Malaise »."
    )


def test_the_readers_own_actions_and_a_nurse_with_her_establishment():
    w = wording()
    chloe = w.professional("Chloé Bernard", "60", "Infirmier", "Pharmacie du Port")
    said = Said(AT, "authorization.grant", True, "holder", "normal", READER, target=chloe)
    assert w.sentence(said) == (
        "Vous avez autorisé Chloé Bernard, infirmier (Pharmacie du Port), à accéder à votre DMP "
        "le 3 mars 2026 à 14 h 05."
    )
    failed = Said(AT, "portal.sign-in", False, "wrong-password", "normal", READER)
    assert w.sentence(failed) == (
        "Une connexion à votre compte a échoué le 3 mars 2026 à 14 h 05, car le mot de passe "
        "était erroné."
    )


def test_the_service_and_the_oppositions():
    w = wording()
    reveal = Said(
        AT, "document.reveal", True, "announcement-overdue", "normal", w.system_actor("jobs")
    )
    assert w.sentence(reveal) == (
        "Le service DMP a rendu visible un document qui attendait une consultation d'annonce "
        "le 3 mars 2026 à 14 h 05."
    )
    choices = "oppose_emergency=True,oppose_samu=False"
    said = Said(AT, "oppositions.set", True, "holder", "normal", READER, choices=choices)
    assert w.sentence(said).startswith(
        "Vous avez refusé les accès en urgence (bris de glace) et accepté les accès par la "
        "régulation médicale (SAMU) le "
    )


def test_articles_contract_after_a_and_de():
    assert person("Le Dr X").to == "au Dr X"
    assert person("L'opérateur").of == "de l'opérateur"
    assert person("Un professionnel").obj == "un professionnel"
    assert person("Léa Lefèvre").to == "à Léa Lefèvre"


def test_an_unknown_action_or_reason_still_reads_as_french(caplog):
    w = wording()
    said = Said(AT, "document.teleport", False, "no-such-reason", "normal", READER)
    assert w.sentence(said) == "Vous n'avez pas pu agir sur votre DMP le 3 mars 2026 à 14 h 05."
    assert "document.teleport" in caplog.text

"""The layers hold: pure rules import no framework; entrypoints never reach the tables."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dmp

PACKAGE = Path(dmp.__file__).parent
FRAMEWORKS = ("sqlalchemy", "alembic", "fastapi", "starlette", "uvicorn", "typer", "psycopg")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", ["domain", "policy"])
def test_pure_layers_import_no_framework(layer):
    offenders = {
        (str(path.relative_to(PACKAGE)), name)
        for path in _modules(layer)
        for name in _imports(path)
        if name.split(".")[0] in FRAMEWORKS or name.startswith(("dmp.adapters", "dmp.services"))
    }
    assert offenders == set()


def test_entrypoints_never_import_the_tables():
    offenders = {
        (str(path.relative_to(PACKAGE)), name)
        for path in _modules("entrypoints")
        for name in _imports(path)
        if name.startswith("dmp.adapters.db") or name.split(".")[0] == "sqlalchemy"
    }
    assert offenders == set()


def test_the_check_sees_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import sqlalchemy\nfrom dmp.adapters.db import tables\n")
    assert _imports(sample) == {"sqlalchemy", "dmp.adapters.db"}


def _trees() -> list[tuple[str, ast.Module]]:
    return [
        (str(path.relative_to(PACKAGE)), ast.parse(path.read_text(encoding="utf-8")))
        for path in sorted(PACKAGE.rglob("*.py"))
    ]


LIMITS = {"MAX_TITLE", "MAX_COMMENTS", "MAX_MASTER_IDENTIFIER", "MIN_YEAR", "MAX_YEAR"}
LIMITS |= {"MAX_LANGUAGE", "MAX_NAME", "MAX_REASON", "MAX_JUSTIFICATION", "_LANGUAGE", "GENDERS"}


def test_input_limits_are_set_in_the_domain_only():
    """The API and the services once had their own, different, limits: one place now."""
    defined = set()
    for name, tree in _trees():
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            for target in targets:
                for element in target.elts if isinstance(target, ast.Tuple) else [target]:
                    if isinstance(element, ast.Name) and element.id in LIMITS:
                        defined.add(name)
    assert defined == {"domain/inputs.py"}

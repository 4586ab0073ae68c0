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


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _trees() -> list[tuple[str, ast.Module]]:
    return [
        (str(path.relative_to(PACKAGE)), ast.parse(path.read_text(encoding="utf-8")))
        for path in sorted(PACKAGE.rglob("*.py"))
    ]


def test_no_pattern_takes_other_scripts_digits():
    """``\\d`` matches ``٢`` and ``２``: identifiers and numbers are matched with ``[0-9]``."""
    offenders = set()
    for name, tree in _trees():
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            is_text = isinstance(node, ast.Constant) and isinstance(node.value, str | bytes)
            if is_text and id(node) not in docstrings:
                text = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
                if "\\d" in text:
                    offenders.add((name, node.lineno))
    assert offenders == set()


def test_no_digit_test_that_takes_other_scripts_digits():
    """``"٢".isdigit()`` and ``"²".isdigit()`` are true: use a ``[0-9]`` pattern instead."""
    offenders = {
        (name, node.lineno)
        for name, tree in _trees()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in ("isdigit", "isdecimal", "isnumeric")
    }
    assert offenders == set()


# Where int() may be called, and why what it reads is ASCII digits or no text at all.
INT_CALLS = {
    ("domain/inputs.py", "ascii_int"),  # the one reader of numbers typed by users
    ("domain/identifiers.py", "_nir_number"),  # after "[0-9]{13}"
    ("domain/identifiers.py", "luhn_valid"),  # after "[0-9]+"
    ("domain/identifiers.py", "parse"),  # the INS key, after "[0-9]{2}"
    ("entrypoints/fhir/search.py", "_range"),  # groups of a "[0-9]" pattern
    ("adapters/db/repositories.py", "count"),  # a database count
    ("demo/identities.py", "_birth_date"),  # a float
}


def test_int_reads_only_checked_text():
    """``int("٣")`` is 3: a new call to int() on text goes through ``inputs.ascii_int``."""
    found = set()
    for name, tree in _trees():
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef):
                for node in ast.walk(function):
                    if (
                        isinstance(node, ast.Call)
                        and isinstance(node.func, ast.Name)
                        and node.func.id == "int"
                    ):
                        found.add((name, function.name))
    assert found == INT_CALLS


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

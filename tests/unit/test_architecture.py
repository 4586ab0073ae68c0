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


# --- the one door to a DMP ----------------------------------------------------------------------

DOOR = "services/gate.py"
# The repository reads of a DMP's facts, documents and contents: only the door makes them, so
# that no use case can read a DMP without the policy's decision and its audit entry.
GUARDED_READS = {
    ("records", "get"),
    ("records", "by_ins"),
    ("records", "facts"),
    ("documents", "get"),
    ("documents", "with_author"),
    ("documents", "of_record"),
    ("documents", "some"),
    ("documents", "contents"),
}


def _guarded_calls(path: Path) -> set[tuple[str, int]]:
    """Calls ``<x>.records.get(…)``, ``<x>.documents.of_record(…)``… and audit appends to a DMP's
    chain (``audit.append`` with a DMP id rather than None, i.e. the system chain)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        owner, name = node.func.value, node.func.attr
        if isinstance(owner, ast.Attribute) and (owner.attr, name) in GUARDED_READS:
            found.add((f"{owner.attr}.{name}", node.lineno))
        is_append = isinstance(owner, ast.Name) and (owner.id, name) == ("audit", "append")
        system_chain = len(node.args) > 3 and isinstance(node.args[3], ast.Constant)
        if is_append and not (system_chain and node.args[3].value is None):
            found.add(("audit.append", node.lineno))
        if isinstance(owner, ast.Name) and owner.id == "gate" and name == "Door":
            found.add(("gate.Door", node.lineno))
    return found


def test_only_the_door_reads_a_dmp_or_writes_its_trail():
    offenders = {
        (str(path.relative_to(PACKAGE)), call)
        for path in _modules("services") + _modules("entrypoints")
        if str(path.relative_to(PACKAGE)) != DOOR
        for call in _guarded_calls(path)
    }
    assert offenders == set()


def test_the_door_check_sees_a_read_around_it(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "row = uow.records.get(dmp_id)\n"
        "rows = uow.documents.of_record(dmp_id)\n"
        "audit.append(uow, signer, now, dmp_id, actor, event)\n"
        "audit.append(uow, signer, now, None, actor, event)\n"  # the system chain: allowed
        "uow.outbox.add(values)\n"
    )
    assert {call for call, _ in _guarded_calls(sample)} == {
        "records.get",
        "documents.of_record",
        "audit.append",
    }


def _imported_names(path: Path) -> set[str]:
    """Modules and the names imported from them (``from a.b import c`` gives ``a.b.c``)."""
    found = _imports(path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _writes_sql(path: Path) -> bool:
    names = _imported_names(path)
    tables = any(name.startswith("dmp.adapters.db.tables") for name in names)
    # The context holds the engine, typed as such: the one SQLAlchemy name a service may know.
    sqlalchemy = {name for name in names if name.split(".")[0] == "sqlalchemy"}
    engine_only = path.name == "context.py" and sqlalchemy <= {"sqlalchemy", "sqlalchemy.Engine"}
    orm = bool(sqlalchemy) and not engine_only
    return tables or orm


def test_sql_lives_in_the_database_adapter_only():
    offenders = {
        str(path.relative_to(PACKAGE))
        for layer in ("services", "entrypoints", "policy", "domain")
        for path in _modules(layer)
        if _writes_sql(path)
    }
    assert offenders == set()


def test_the_sql_check_sees_the_tables_and_the_statements(tmp_path):
    for source in ("from dmp.adapters.db import tables as t\n", "from sqlalchemy import select\n"):
        sample = tmp_path / "sample.py"
        sample.write_text(source)
        assert _writes_sql(sample), source


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
LIMITS |= {"MAX_PASSKEY_NAME"}


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


# --- the services see domain objects, never rows ------------------------------------------------

ROW_NAMES = {"RowMap", "RowMapping", "Row"}
REPOSITORIES = PACKAGE / "adapters/db/repositories.py"


def _rows_handed_out(path: Path) -> set[str]:
    """The public methods of the classes of ``path`` whose return annotation names a row."""
    found = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.ClassDef):
            continue
        for method in node.body:
            public = isinstance(method, ast.FunctionDef) and not method.name.startswith("_")
            if public and method.returns is not None:
                named = {n.id for n in ast.walk(method.returns) if isinstance(n, ast.Name)}
                if named & ROW_NAMES:
                    found.add(f"{node.name}.{method.name}")
    return found


def test_repositories_hand_back_domain_objects():
    assert _rows_handed_out(REPOSITORIES) == set()


def test_services_and_entrypoints_never_name_a_row():
    offenders = {
        (str(path.relative_to(PACKAGE)), name)
        for layer in ("services", "entrypoints")
        for path in _modules(layer)
        for name in _imported_names(path)
        if name.rsplit(".", 1)[-1] in ROW_NAMES
    }
    assert offenders == set()


def test_the_row_check_sees_a_row_handed_out(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "class Accounts:\n"
        "    def get(self) -> RowMap | None: ...\n"
        "    def all(self) -> list[Row[Any]]: ...\n"
        "    def _one(self) -> RowMap: ...\n"
        "    def named(self) -> Account: ...\n"
    )
    assert _rows_handed_out(sample) == {"Accounts.get", "Accounts.all"}

"""The operator's command line, as an operator runs it: demo, directory, tokens, jobs, audit,
key rotation. Clear French errors and exit codes, never a traceback for a user error."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from dmp.adapters.crypto import generate_master_key_spec
from dmp.adapters.db.engine import make_engine
from dmp.adapters.db.migrate import upgrade
from dmp.bootstrap import build
from dmp.domain.identifiers import Ins
from dmp.entrypoints.cli.main import app
from dmp.services.audit import AuditSigner
from dmp.services.directory import find_professional, professional_actor
from dmp.services.documents import Reading, find_documents
from dmp.services.records import lookup
from dmp.settings import load_settings
from tests.legacy import seed_revision_0002
from tests.personas import ALICE_INS


@pytest.fixture
def env(tmp_path):
    return {
        "DMP_DATA_DIR": str(tmp_path / "data"),
        "DMP_MASTER_KEYS": generate_master_key_spec("k1"),
        "DMP_AUDIT_SIGNING_KEY": AuditSigner.generate(),
    }


def _run(env, *args, code=0):
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result.output


def test_demo_then_operate(env):
    out = _run(env, "demo", "--no-serve", "--seed", "7")
    assert "Démo créée" in out
    assert "exclu(e) du DMP par la loi" in out
    assert out.count("dmp_") >= 7  # a token per professional who may hold one
    assert "Données de démonstration déjà présentes" in _run(env, "demo", "--no-serve")
    assert "Journal intègre" in _run(env, "audit", "verify")
    assert "Notifications envoyées" in _run(env, "jobs", "run")
    listed = _run(env, "professional", "list")
    assert "exclu : médecin du travail" in listed

    _run(env, "establishment", "add", "--finess", "440000289", "--nom", "CHU", "--type", "hospital")
    assert "exclu du DMP par la loi" in _run(
        env, "establishment", "add", "--finess", "750000015", "--nom", "Banque", "--type", "bank"
    )
    _run(
        env,
        "professional",
        "add",
        "--rpps",
        "10000000017",
        "--nom",
        "Petit",
        "--prenom",
        "Luc",
        "--profession",
        "60",
        "--etablissement",
        "440000289",
    )
    token = _run(env, "token", "issue", "--rpps", "10000000017", "--finess", "440000289")
    assert token.startswith("dmp_")
    token_id = token.split("Jeton ")[1].split(",")[0]
    assert "révoqué" in _run(env, "token", "revoke", token_id)
    assert "loi" in _run(
        env, "token", "issue", "--rpps", "10000000017", "--finess", "750000015", code=2
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (
                "professional",
                "add",
                "--rpps",
                "123",
                "--nom",
                "X",
                "--prenom",
                "Y",
                "--profession",
                "10",
            ),
            "RPPS invalide",
        ),
        (
            (
                "professional",
                "add",
                "--rpps",
                "10000000017",
                "--nom",
                "X",
                "--prenom",
                "Y",
                "--profession",
                "99",
            ),
            "Profession inconnue",
        ),
        (
            ("establishment", "add", "--finess", "12", "--nom", "X", "--type", "hospital"),
            "FINESS invalide",
        ),
        (
            ("establishment", "add", "--finess", "440000289", "--nom", "X", "--type", "zoo"),
            "Type d'établissement inconnu",
        ),
        (("token", "revoke", "nope"), "Identifiant de jeton invalide"),
    ],
)
def test_user_errors_are_french_sentences(env, args, message):
    _run(env, "db", "upgrade")
    assert message in _run(env, *args, code=2)


def test_missing_secrets_outside_demo(tmp_path):
    out = _run(
        {"DMP_DATA_DIR": str(tmp_path), "DMP_MASTER_KEYS": "", "DMP_AUDIT_SIGNING_KEY": ""},
        "jobs",
        "run",
        code=2,
    )
    assert "DMP_MASTER_KEYS" in out


def test_key_rotation(env):
    _run(env, "demo", "--no-serve", "--seed", "3")
    old = env["DMP_MASTER_KEYS"]
    rotated = {**env, "DMP_MASTER_KEYS": generate_master_key_spec("k2") + "," + old}
    assert "re-chiffrée(s)" in _run(rotated, "keys", "rotate")
    assert _run(rotated, "keys", "rotate").startswith("0 clé")  # all under k2 already
    only_new = {**env, "DMP_MASTER_KEYS": rotated["DMP_MASTER_KEYS"].split(",")[0]}
    ctx = build(load_settings(only_new))  # the old master key is gone from the configuration
    gp = professional_actor(ctx, find_professional(ctx, _first_rpps(ctx)))
    ins = _first_ins(ctx)
    found = lookup(ctx, gp, ins)
    assert found.exists
    assert find_documents(ctx, Reading(gp), found.dmp_id)
    ctx.engine.dispose()


def _first_rpps(ctx) -> str:
    text = (ctx.settings.data_dir / "demo-credentials.txt").read_text(encoding="utf-8")
    return text.split("RPPS ")[1].split(" ")[0]


def _first_ins(ctx) -> Ins:
    text = (ctx.settings.data_dir / "demo-credentials.txt").read_text(encoding="utf-8")
    return Ins.parse(text.split("INS ")[1].split(" ")[0])


def test_db_upgrade_seals_what_an_older_version_kept_in_clear(env):
    """From revision 0002 (the INS and the addresses in clear) to the latest, with the keys of
    the configuration; then nothing more to do."""
    settings = load_settings(env)
    settings.data_dir.mkdir(parents=True)
    engine = make_engine(settings.database_url)
    upgrade(engine, "0002")
    engine.dispose()
    ctx = build(settings)
    seeded = seed_revision_0002(ctx)
    ctx.engine.dispose()
    out = _run(env, "db", "upgrade")
    assert "Base à jour (révision 0004)." in out
    assert "INS de DMP scellés et indexés : 3" in out
    assert "comptes aux coordonnées scellées : 4" in out
    assert _run(env, "db", "upgrade").strip() == "Base à jour (révision 0004)."
    ctx = build(load_settings(env))
    assert lookup(ctx, seeded.bruno, ALICE_INS).exists
    ctx.engine.dispose()

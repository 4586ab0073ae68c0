"""The operator's command line, as an operator runs it: demo, directory, tokens, jobs, audit,
key rotation. Clear French errors and exit codes, never a traceback for a user error."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from dmp.adapters.crypto import generate_master_key_spec
from dmp.adapters.db.engine import make_engine
from dmp.adapters.db.migrate import head_revision, upgrade
from dmp.adapters.db.tables import audit_entries
from dmp.bootstrap import build
from dmp.domain.identifiers import Ins
from dmp.entrypoints.cli.main import app
from dmp.policy import REASONS
from dmp.services.audit import SYSTEM_CHAIN, AuditSigner
from dmp.services.directory import find_professional, professional_actor
from dmp.services.documents import Reading, find_documents
from dmp.services.records import lookup
from dmp.settings import load_settings
from tests.legacy import seed_revision_0002
from tests.personas import ALICE_INS, rpps

LAW = REASONS["excluded-actor"]
MUTUELLE = ("establishment", "add", "--finess", "440000297", "--nom", "Mutuelle", "--type")


@pytest.fixture
def env(tmp_path):
    return {
        "DMP_DATA_DIR": str(tmp_path / "data"),
        "DMP_MASTER_KEYS": generate_master_key_spec("k1"),
        "DMP_AUDIT_SIGNING_KEY": AuditSigner.generate(),
        "DMP_NOTIFICATIONS": "off",  # test_cli_notify.py sends them, through a real SMTP server
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
    conseil = out.split("médecin-conseil — RPPS ")[1].split(" ")[0]  # the mutuelle's, only
    assert f"RPPS {conseil} : dmp_" not in out  # registered, refused by law, no token
    assert "Données de démonstration déjà présentes" in _run(env, "demo", "--no-serve")
    assert "Journal intègre" in _run(env, "audit", "verify")
    assert "Notifications désactivées (DMP_NOTIFICATIONS=off)" in _run(env, "jobs", "run")
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


def _professional_add(env, n, *options):
    return _run(
        env, "professional", "add", "--rpps", rpps(n), "--nom", "Conseil", "--prenom", "Yves",
        "--profession", "10", *options,
    )  # fmt: skip


def _system_chain(env, action):
    ctx = build(load_settings(env))
    try:
        with ctx.engine.connect() as conn:
            stmt = select(audit_entries).where(
                audit_entries.c.dmp_id == SYSTEM_CHAIN, audit_entries.c.action == action
            )
            rows = conn.execute(stmt.order_by(audit_entries.c.seq)).mappings()
            return [(r["outcome"], r["reason"], r["target_id"]) for r in rows]
    finally:
        ctx.engine.dispose()


def test_attack_a_mutuelle_medecin_asks_for_a_token_without_finess(env):
    """Registered only under a mutuelle, he asks for a token acting for no establishment: the
    law's refusal, exit code 2, no token printed, and the refusal in the directory's trail."""
    _run(env, "db", "upgrade")
    _run(env, *MUTUELLE, "mutuelle")
    _professional_add(env, 30, "--etablissement", "440000297")
    out = _run(env, "token", "issue", "--rpps", rpps(30), code=2)
    assert LAW in out
    assert "dmp_" not in out
    assert _system_chain(env, "directory.token.issue") == [("denied", "excluded-actor", rpps(30))]


def test_registering_the_excluded_says_they_will_never_get_in(env):
    _run(env, "db", "upgrade")
    out = _run(env, *MUTUELLE, "mutuelle")
    assert "n'accéderont jamais au DMP" in out
    assert LAW in out
    conseil = _professional_add(env, 30, "--etablissement", "440000297")
    occupational = _professional_add(env, 31, "--medecin-du-travail")
    for out in (conseil, occupational):
        assert "ne recevra jamais d'identifiants ni aucun accès au DMP" in out
        assert LAW in out
    liberal = _professional_add(env, 32)
    assert "jamais" not in liberal
    listed = _run(env, "professional", "list")
    assert "(exclu : n'exerce que pour des organismes exclus)" in listed
    assert "(exclu : médecin du travail)" in listed
    assert _system_chain(env, "directory.professional.add") == [
        ("allowed", "excluded-actor", rpps(30)),
        ("allowed", "excluded-actor", rpps(31)),
        ("allowed", "10", rpps(32)),
    ]
    assert _system_chain(env, "directory.establishment.add") == [
        ("allowed", "excluded-actor", "440000297")
    ]


def test_audit_verify_holds_the_database_against_the_witness(env, tmp_path):
    """As an operator runs it: a new install verifies; a system chain deleted with its head by
    someone with every right on the database is caught; so is a missing witness."""
    witness = tmp_path / "data" / "witness" / "checkpoints.jsonl"
    assert f"Point de contrôle n° 1 écrit dans le témoin {witness}" in _run(env, "db", "upgrade")
    assert "Journal intègre" in _run(env, "audit", "verify")
    _run(env, "establishment", "add", "--finess", "440000289", "--nom", "CHU", "--type", "hospital")
    assert "Point de contrôle n° 2" in _run(env, "audit", "checkpoint")
    assert "Point de contrôle du témoin écrit : n° 3" in _run(env, "jobs", "run")
    verified = _run(env, "audit", "verify")
    assert "Journal intègre" in verified
    assert "3 point(s) de contrôle relu(s)" in verified

    with sqlite3.connect(tmp_path / "data" / "dmp.sqlite3") as db:  # the attacker's session
        db.execute("DROP TRIGGER audit_entries_no_delete")
        db.execute("DELETE FROM audit_entries WHERE dmp_id = ?", (SYSTEM_CHAIN.hex,))
        db.execute("DELETE FROM audit_heads WHERE dmp_id = ?", (SYSTEM_CHAIN.hex,))
        assert db.execute("SELECT count(*) FROM audit_entries").fetchone() == (0,)
    broken = _run(env, "audit", "verify", code=1)
    assert "RUPTURE — chaîne système, tête de chaîne : la chaîne a disparu de la base" in broken

    witness.unlink()
    missing = _run(env, "audit", "verify", code=1)
    assert f"RUPTURE — témoin introuvable : {witness}" in missing


def test_a_reset_demo_starts_a_new_witness_even_kept_elsewhere(env, tmp_path):
    env = {**env, "DMP_WITNESS_DIR": str(tmp_path / "witness-elsewhere")}
    _run(env, "demo", "--no-serve", "--seed", "7")
    _run(env, "demo", "--reset", "--no-serve", "--seed", "8")
    assert "Journal intègre" in _run(env, "audit", "verify")


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
    assert f"Base à jour (révision {head_revision()})." in out
    assert "INS de DMP scellés et indexés : 3" in out
    assert "comptes aux coordonnées scellées : 4" in out
    again = _run(env, "db", "upgrade")
    assert again.startswith(f"Base à jour (révision {head_revision()}).\n")
    assert "scellé" not in again
    ctx = build(load_settings(env))
    assert lookup(ctx, seeded.bruno, ALICE_INS).exists
    ctx.engine.dispose()


def test_backup_and_restore_as_an_operator_runs_them(env, tmp_path):
    """On the demo (SQLite): a backup, a restore into fresh places (the same key store and
    witness), verify reporting the restore; French errors for a folder in use or no backup."""
    _run(env, "demo", "--no-serve", "--seed", "7")
    out = _run(env, "backup", str(tmp_path / "sauvegarde"))
    assert "Sauvegarde écrite dans" in out
    assert "Le magasin de clés n'est pas dans la sauvegarde" in out
    taken = int(out.split(" document(s)")[0].rsplit(", ", 1)[-1])
    assert taken > 0
    print(f"\n{out}")
    refused = _run(env, "backup", str(tmp_path / "sauvegarde"), code=2)
    assert "n'est pas vide" in refused
    assert "ne contient pas de sauvegarde" in _run(env, "restore", str(tmp_path), code=2)
    data = tmp_path / "data"
    fresh = {
        **env,
        "DMP_DATABASE_URL": f"sqlite:///{tmp_path / 'ailleurs' / 'dmp.sqlite3'}",
        "DMP_BLOB_DIR": str(tmp_path / "ailleurs" / "blobs"),
        "DMP_KEYSTORE_URL": f"sqlite:///{data / 'keys.sqlite3'}",
        "DMP_WITNESS_DIR": str(data / "witness"),
    }
    restored = _run(fresh, "restore", str(tmp_path / "sauvegarde"))
    print(restored)
    assert f"{taken} document(s)" in restored
    verified = _run(fresh, "audit", "verify")
    assert "Restauration — " in verified
    assert "Journal intègre" in verified

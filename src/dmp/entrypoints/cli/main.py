"""The ``dmp`` command for operators. Each command parses, calls one use case, and prints."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from dmp.errors import DmpError
from dmp.settings import Settings, load_settings

app = typer.Typer(
    help="DMP — Dossier Médical Partagé : commandes d'exploitation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Base de données.", no_args_is_help=True)
professional_app = typer.Typer(help="Annuaire des professionnels.", no_args_is_help=True)
establishment_app = typer.Typer(help="Annuaire des établissements.", no_args_is_help=True)
token_app = typer.Typer(help="Jetons d'accès à l'API des professionnels.", no_args_is_help=True)
jobs_app = typer.Typer(help="Tâches planifiées.", no_args_is_help=True)
audit_app = typer.Typer(help="Journal d'audit.", no_args_is_help=True)
keys_app = typer.Typer(help="Clés de chiffrement.", no_args_is_help=True)
for sub, name in (
    (db_app, "db"),
    (professional_app, "professional"),
    (establishment_app, "establishment"),
    (token_app, "token"),
    (jobs_app, "jobs"),
    (audit_app, "audit"),
    (keys_app, "keys"),
):
    app.add_typer(sub, name=name)

F = TypeVar("F", bound=Callable[..., Any])


@app.callback()
def _private_files() -> None:
    """Every command may create databases, keys or content files: they are the service user's
    alone (umask 0o077), whatever the shell's umask."""
    from dmp.adapters.files import private_umask

    private_umask()


def user_errors(func: F) -> F:
    """A user error is a French sentence on stderr and exit code 2, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DmpError as exc:
            typer.secho(f"Erreur : {exc.message}", fg=typer.colors.RED, err=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _settings(demo: bool | None = None) -> Settings:
    return load_settings(demo=demo)


def _context(demo: bool | None = None, migrate: bool = False) -> Any:
    from dmp.bootstrap import build

    return build(_settings(demo), migrate=migrate)


@db_app.command("upgrade")
@user_errors
def db_upgrade() -> None:
    """Migrer la base de données à la dernière version du schéma (et sceller, avec les clés,
    les valeurs qu'une version précédente gardait en clair), puis écrire un point de contrôle
    dans le témoin du journal d'audit (le premier, sur une nouvelle installation)."""
    from dmp.services.migration import migrate_database

    ctx = _context()
    done = migrate_database(ctx)
    for line in done.lines():
        typer.echo(line)
    _checkpoint_written(done.checkpoint, ctx.witness.location)


@professional_app.command("add")
@user_errors
def professional_add(
    rpps: Annotated[str, typer.Option(help="Numéro RPPS (11 chiffres)")],
    family_name: Annotated[str, typer.Option("--nom", help="Nom de famille")],
    given_name: Annotated[str, typer.Option("--prenom", help="Prénom")],
    profession: Annotated[str, typer.Option(help="Code profession TRE_G15 (10 = médecin…)")],
    specialty: Annotated[str | None, typer.Option("--specialite")] = None,
    establishment: Annotated[
        list[str] | None, typer.Option("--etablissement", help="FINESS (répétable)")
    ] = None,
    email: Annotated[str | None, typer.Option(help="Adresse de messagerie sécurisée")] = None,
    occupational_health: Annotated[bool, typer.Option("--medecin-du-travail")] = False,
    samu_regulator: Annotated[bool, typer.Option("--regulateur-samu")] = False,
) -> None:
    """Inscrire un professionnel de santé dans l'annuaire."""
    from dmp.services.directory import NewProfessional, add_professional

    registered = add_professional(
        _context(),
        NewProfessional(
            rpps,
            family_name,
            given_name,
            profession,
            specialty,
            occupational_health,
            samu_regulator,
            email,
            tuple(establishment or ()),
        ),
    )
    pro = registered.professional
    typer.echo(f"Professionnel inscrit : {pro.display_name}, RPPS {pro.rpps}.")
    if not registered.credentials:
        typer.echo(
            "Exclu(e) du DMP par la loi : ce professionnel ne recevra jamais d'identifiants ni "
            f"aucun accès au DMP. {registered.credentials.message}"
        )


@professional_app.command("list")
@user_errors
def professional_list() -> None:
    """Lister les professionnels inscrits."""
    from dmp.services.directory import list_professionals

    ctx = _context()
    for pro in list_professionals(ctx):
        label = ctx.valuesets.professions.get(pro.profession, pro.profession)
        flag = ""
        if pro.occupational_health:
            flag = " (exclu : médecin du travail)"
        elif pro.attached_only_to_excluded:
            flag = " (exclu : n'exerce que pour des organismes exclus)"
        typer.echo(f"{pro.rpps}  {pro.display_name:<28} {label}{flag}")


@professional_app.command("password")
@user_errors
def professional_password(
    rpps: Annotated[str, typer.Option(help="Numéro RPPS (11 chiffres)")],
    password: Annotated[
        str, typer.Option(prompt="Mot de passe", hide_input=True, confirmation_prompt=True)
    ],
) -> None:
    """Donner un mot de passe à un professionnel pour l'espace professionnel (/pro) : son
    application d'authentification est associée à sa prochaine connexion."""
    from dmp.services.pro_login import set_password

    set_password(_context(), rpps, password)
    typer.echo(
        "Mot de passe enregistré : à sa prochaine connexion à /pro, le professionnel associe "
        "une application d'authentification."
    )


@establishment_app.command("add")
@user_errors
def establishment_add(
    finess: Annotated[str, typer.Option(help="Numéro FINESS (9 caractères)")],
    name: Annotated[str, typer.Option("--nom")],
    kind: Annotated[str, typer.Option("--type", help="hospital, clinic, laboratory, pharmacy…")],
) -> None:
    """Inscrire un établissement."""
    from dmp.services.directory import add_establishment

    registered = add_establishment(_context(), finess, name, kind)
    est = registered.establishment
    typer.echo(f"Établissement inscrit : {est.name}, FINESS {est.finess}.")
    if not registered.acting_for:
        typer.echo(
            "Type exclu du DMP par la loi : aucun accès ne pourra lui être accordé, et les "
            "professionnels agissant pour lui n'accéderont jamais au DMP. "
            f"{registered.acting_for.message}"
        )


@token_app.command("issue")
@user_errors
def token_issue(
    rpps: Annotated[str, typer.Option()],
    finess: Annotated[str | None, typer.Option(help="Agir pour cet établissement")] = None,
    days: Annotated[int, typer.Option(help="Validité en jours")] = 90,
) -> None:
    """Délivrer un jeton d'accès (affiché une seule fois, sur la sortie standard)."""
    from dmp.services.directory import issue_token

    issued = issue_token(_context(), rpps, finess=finess, days=days)
    typer.echo(issued.token)
    typer.echo(f"Jeton {issued.id}, valable jusqu'au {issued.expires_at:%d/%m/%Y}.", err=True)


@token_app.command("revoke")
@user_errors
def token_revoke(token_id: Annotated[str, typer.Argument(help="Identifiant du jeton")]) -> None:
    """Révoquer un jeton d'accès."""
    from uuid import UUID

    from dmp.errors import InvalidInput
    from dmp.services.directory import revoke_token

    try:
        parsed = UUID(token_id)
    except ValueError:
        raise InvalidInput(f"Identifiant de jeton invalide : {token_id}") from None
    revoke_token(_context(), parsed)
    typer.echo(f"Jeton {parsed} révoqué.")


@jobs_app.command("run")
@user_errors
def jobs_run() -> None:
    """Exécuter les tâches planifiées (point de contrôle du témoin, rétention, documents en
    attente, orphelins, envois). Code de sortie 1 si des notifications ont échoué pour de bon
    ou ont un envoi incertain : chacune est nommée par son identifiant (le Message-ID de
    l'e-mail, la référence du SMS)."""
    from dmp.services.jobs import run_jobs

    report = run_jobs(_context())
    for line in report.lines():
        typer.echo(line)
    for problem in report.delivery.problems:
        typer.secho(problem.line(), fg=typer.colors.RED, err=True)
    if report.delivery.problems:
        raise typer.Exit(1)


@audit_app.command("verify")
@user_errors
def audit_verify() -> None:
    """Vérifier l'intégrité de tout le journal d'audit (chaînage, têtes signées) et le confronter
    au témoin (chaînes revenues en arrière, réécrites ou disparues)."""
    from dmp.services.operations import verify_audit

    ctx = _context()
    result = verify_audit(ctx)
    typer.echo(f"{result.chains} chaîne(s), {result.entries} entrée(s) vérifiée(s).")
    typer.echo(
        f"Témoin {ctx.witness.location} : {result.checkpoints} point(s) de contrôle relu(s)."
    )
    for restoration in result.restorations:
        typer.echo(f"Restauration — {restoration}.")
    if result.ok:
        typer.echo("Journal intègre.")
        return
    for problem in result.breaks:
        typer.secho(f"RUPTURE — {problem}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)


@audit_app.command("checkpoint")
@user_errors
def audit_checkpoint() -> None:
    """Écrire dans le témoin un point de contrôle signé des têtes de chaîne qui ont bougé
    (« dmp serve » en écrit un toutes les DMP_WITNESS_INTERVAL secondes)."""
    from dmp.services.witness import checkpoint

    ctx = _context()
    _checkpoint_written(checkpoint(ctx), ctx.witness.location)


def _checkpoint_written(number: int, location: str) -> None:
    typer.echo(f"Point de contrôle n° {number} écrit dans le témoin {location}.")


@keys_app.command("rotate")
@user_errors
def keys_rotate() -> None:
    """Re-chiffrer toutes les clés de DMP sous la clé maîtresse courante (la première de
    DMP_MASTER_KEYS)."""
    from dmp.adapters.crypto import parse_master_keys
    from dmp.services.operations import rotate_keys

    ctx = _context()
    count = rotate_keys(ctx, parse_master_keys(ctx.settings.master_keys))
    typer.echo(f"{count} clé(s) re-chiffrée(s) sous la clé maîtresse courante.")


@keys_app.command("generate")
def keys_generate(key_id: Annotated[str, typer.Option("--id")] = "k1") -> None:
    """Générer une clé maîtresse et une clé de signature du journal (à mettre en configuration)."""
    from dmp.adapters.crypto import generate_master_key_spec
    from dmp.services.audit import AuditSigner

    typer.echo(f"DMP_MASTER_KEYS={generate_master_key_spec(key_id)}")
    typer.echo(f"DMP_AUDIT_SIGNING_KEY={AuditSigner.generate()}")


@app.command()
@user_errors
def backup(
    directory: Annotated[Path, typer.Argument(help="Dossier neuf où écrire la sauvegarde")],
) -> None:
    """Sauvegarder la base de données et les contenus des documents, service en marche : un
    instantané cohérent, un manifeste avec les empreintes. Le magasin de clés n'y est pas : il se
    sauvegarde à part (voir le README)."""
    from dmp.services.backup import take_backup

    for line in take_backup(_context(), directory).lines():
        typer.echo(line)


@app.command()
@user_errors
def restore(
    directory: Annotated[Path, typer.Argument(help="Dossier d'une sauvegarde (« dmp backup »)")],
) -> None:
    """Restaurer une sauvegarde dans la base et le dossier des contenus configurés, service
    arrêté. Les destructions faites depuis la sauvegarde sont appliquées de nouveau (d'après le
    registre du magasin de clés, qui n'est jamais restauré), et la restauration est inscrite au
    témoin du journal d'audit."""
    from dmp.services.backup import restore_backup

    for line in restore_backup(_context(), directory).lines():
        typer.echo(line)


@app.command()
@user_errors
def demo(
    reset: Annotated[bool, typer.Option(help="Repartir d'un dossier de données vide")] = False,
    seed: Annotated[int, typer.Option(help="Graine des données synthétiques")] = 2012,
    serve: Annotated[bool, typer.Option(help="Lancer ensuite le serveur")] = True,
) -> None:
    """Mode démo : base SQLite embarquée, données synthétiques réalistes, puis le serveur."""
    from dmp.demo.seed import reset_data, seed_demo

    settings = _settings(demo=True)
    if reset:
        reset_data(settings)
    from dmp.bootstrap import build

    ctx = build(settings, migrate=True)
    for line in seed_demo(ctx, seed):
        typer.echo(line)
    if serve:
        _serve(ctx.settings, workers=1)


@app.command()
@user_errors
def serve() -> None:
    """Servir l'API des professionnels (réglages de production : DMP_DATABASE_URL, DMP_WORKERS…).
    La base doit avoir été migrée (« dmp db upgrade »)."""
    settings = _settings()
    _serve(settings, workers=settings.workers)


def _serve(settings: Settings, workers: int) -> None:
    try:
        from dmp.entrypoints.fhir.server import addresses, run
    except ImportError:
        typer.echo("(Le serveur web n'est pas encore disponible dans cette version.)")
        return
    for line in addresses(settings):
        typer.echo(line)
    run(settings, workers=workers)


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())

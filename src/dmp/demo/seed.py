"""``dmp demo``: a realistic synthetic region — establishments, professionals of several
professions (an occupational physician and a mutuelle's médecin-conseil among them, both refused
by law), patients with their DMPs
(a minor with her legal representative, a closed DMP), real PDF and CDA documents, a few accesses.

Everything goes through the services, as it would in production, so the demo's audit trail,
notifications and encryption are the real ones. The demo's secrets stay in its data folder.
"""

from __future__ import annotations

import random
import secrets
import shutil
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

from dmp import policy
from dmp.adapters.files import write_private
from dmp.demo.documents import CATALOGUE, DocumentKind, document_kind
from dmp.demo.identities import (
    SyntheticEstablishment,
    SyntheticPerson,
    SyntheticProfessional,
    fake_establishment,
    fake_person,
    fake_professional,
)
from dmp.domain.identifiers import Ins
from dmp.domain.model import (
    AccessMode,
    Confidentiality,
    ContactChannels,
    ContentInput,
    DocumentMetadata,
    PatientActor,
    PatientIdentity,
    ProfessionalActor,
    RepresentativeActor,
)
from dmp.errors import DmpError
from dmp.services import authorizations, records
from dmp.services.accounts import DEMO_PASSWORD, reset_demo_password
from dmp.services.context import Context
from dmp.services.directory import (
    NewProfessional,
    add_establishment,
    add_professional,
    find_establishment,
    issue_token,
    professional_actor,
)
from dmp.services.documents import Submission, find_documents
from dmp.services.gate import Reading
from dmp.services.pro_login import set_password
from dmp.services.submission import submit_documents
from dmp.services.witness import checkpoint
from dmp.settings import Settings

CREDENTIALS_FILE = "demo-credentials.txt"


@dataclass
class _Pro:
    synthetic: SyntheticProfessional
    actor: ProfessionalActor


def reset_data(settings: Settings) -> None:
    """Remove the demo's data folder (demo mode only: the folder holds nothing else), and its
    audit witness when it was put elsewhere: a new demo's witness starts afresh."""
    for folder in (settings.data_dir, settings.witness_path):
        if folder.exists():
            shutil.rmtree(folder)


def _already_seeded(ctx: Context) -> bool:
    with ctx.uow() as uow:
        return bool(uow.directory.establishments())


def seed_demo(ctx: Context, seed: int = 2012) -> list[str]:
    """Create the demo region once; later runs print the saved credentials and fresh tokens.
    Either way, end with a checkpoint of the audit trail's witness, as an install would."""
    path = ctx.settings.data_dir / CREDENTIALS_FILE
    if _already_seeded(ctx):
        lines = ["Données de démonstration déjà présentes dans " + str(ctx.settings.data_dir)]
        lines += path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        return lines + _tokens(ctx) + _checkpoint(ctx) + _portal_login(ctx, lines)
    rng = random.Random(seed)
    lines = _seed(ctx, rng)
    write_private(path, "\n".join(lines) + "\n")
    created = [f"Démo créée dans {ctx.settings.data_dir} :", *lines]
    return created + _tokens(ctx) + _checkpoint(ctx) + _portal_login(ctx, lines)


DEMO_MARK = "(connexion de démonstration : voir à la fin)"


def _portal_login(ctx: Context, lines: list[str]) -> list[str]:
    """Where the portal is, and a login that works: the first patient's, their password set
    to the demo's known one at each start (whatever was done with it in the portal), the
    one-time code shown on the demo's page of messages."""
    found = next((line for line in lines if line.endswith(DEMO_MARK)), None)
    login = found.split(" — ")[-1].split()[0] if found else None
    if login is None or not reset_demo_password(ctx, login):
        return ["(Le patient de démonstration n'a plus de DMP : relancez avec --reset.)"]
    settings = ctx.settings
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    root = f"http://{host}:{settings.port}"
    return [
        f"Portail des patients : {root}/",
        f"  identifiant : {login}",
        f"  mot de passe : {DEMO_PASSWORD}",
        f"  le code de connexion s'affiche sur {root}/demo/messages (rien n'est envoyé)",
    ]


def _checkpoint(ctx: Context) -> list[str]:
    number = checkpoint(ctx)
    return [f"Point de contrôle n° {number} écrit dans le témoin {ctx.witness.location}."]


def _register(ctx: Context, est: SyntheticEstablishment) -> None:
    add_establishment(ctx, est.finess, est.name, est.kind)


def _professional(
    ctx: Context,
    rng: random.Random,
    est: SyntheticEstablishment,
    profession: str,
    specialty: str | None,
    *,
    samu_regulator: bool = False,
) -> _Pro:
    syn = fake_professional(rng, profession=profession, specialty=specialty, establishment=est)
    pro = add_professional(
        ctx,
        NewProfessional(
            syn.rpps,
            syn.family_name,
            syn.given_name,
            profession,
            syn.specialty,
            establishment_finess=(est.finess,),
            email=f"{syn.rpps}@mssante.example.org",
            samu_regulator=samu_regulator,
        ),
    ).professional
    return _Pro(syn, professional_actor(ctx, pro, find_establishment(ctx, est.finess)))


def _identity(person: SyntheticPerson) -> PatientIdentity:
    return PatientIdentity(person.family_name, person.given_names, person.birth_date, person.gender)


def _submit(
    ctx: Context,
    rng: random.Random,
    author: _Pro | None,
    patient: SyntheticPerson,
    actor: ProfessionalActor | PatientActor,
    dmp_id: UUID,
    kind: DocumentKind,
    when: datetime,
    *,
    invisible_patient: bool = False,
    invisible_representatives: bool = False,
) -> None:
    content = kind.generate(rng, patient, author.synthetic if author else None, when)
    metadata = DocumentMetadata(
        master_identifier=f"urn:uuid:{UUID(int=rng.getrandbits(128))}",
        type_code=kind.type_code,
        title=kind.title(author.synthetic if author else None, when),
        creation_time=when,
        format_code=kind.format_code,
        confidentiality=Confidentiality.NORMAL,
        service_start=when - timedelta(hours=1),
        service_stop=when,
        invisible_patient=invisible_patient,
        invisible_representatives=invisible_representatives,
    )
    submit_documents(
        ctx,
        actor,
        dmp_id,
        [Submission(metadata, [ContentInput(kind.mime_type, [content])])],
    )


def _seed(ctx: Context, rng: random.Random) -> list[str]:
    practice = fake_establishment(rng, "practice")
    chu = fake_establishment(rng, "hospital")
    clinic = fake_establishment(rng, "clinic")
    lab = fake_establishment(rng, "laboratory")
    pharmacy = fake_establishment(rng, "pharmacy")
    samu = fake_establishment(rng, "samu")
    for est in (practice, chu, clinic, lab, pharmacy, samu):
        _register(ctx, est)
    mutuelle = add_establishment(
        ctx,
        "750000000"[:2] + f"{rng.randrange(10**7):07d}",
        "Mutuelle Générale du Commerce",
        "mutuelle",
    ).establishment
    gp = _professional(ctx, rng, practice, "10", "Médecine générale")
    nurse = _professional(ctx, rng, practice, "60", None)
    radiologist = _professional(ctx, rng, chu, "10", "Radiologie et imagerie médicale")
    cardiologist = _professional(ctx, rng, clinic, "10", "Cardiologie")
    biologist = _professional(ctx, rng, lab, "10", "Biologie médicale")
    pharmacist = _professional(ctx, rng, pharmacy, "21", None)
    regulator = _professional(ctx, rng, samu, "10", "Médecine d'urgence", samu_regulator=True)
    occupational = fake_professional(rng, profession="10", specialty="Médecine du travail")
    elise = add_professional(
        ctx,
        NewProfessional(
            occupational.rpps,
            occupational.family_name,
            occupational.given_name,
            "10",
            "Médecine du travail",
            occupational_health=True,
        ),
    ).professional
    adviser = fake_professional(rng, profession="10", specialty="Médecine générale")
    conseil = add_professional(  # the mutuelle's médecin-conseil: excluded, even acting alone
        ctx,
        NewProfessional(
            adviser.rpps,
            adviser.family_name,
            adviser.given_name,
            "10",
            adviser.specialty,
            establishment_finess=(mutuelle.finess,),
        ),
    ).professional
    lines = [
        "Établissements : "
        + ", ".join(e.name for e in (practice, chu, clinic, lab, pharmacy, samu))
        + f" ; {mutuelle.name} (exclue par la loi)",
        "Professionnels :",
    ]
    for pro in (gp, nurse, radiologist, cardiologist, biologist, pharmacist, regulator):
        s = pro.synthetic
        label = ctx.valuesets.professions[s.profession]
        lines.append(
            f"  {s.display_name} — {label}{', ' + s.specialty if s.specialty else ''}"
            f" — RPPS {s.rpps} — {s.establishment_name}"
        )
    lines.append(
        f"  Dr {elise.given_name} {elise.family_name} — médecin du travail — RPPS "
        f"{elise.rpps} — exclu(e) du DMP par la loi"
    )
    lines.append(
        f"  Dr {conseil.given_name} {conseil.family_name} — médecin-conseil — RPPS "
        f"{conseil.rpps} — {mutuelle.name} — exclu(e) du DMP par la loi"
    )
    lines += _pro_portal(ctx, gp.synthetic.rpps, gp.synthetic.display_name)
    lines.append("Patients (identifiant / mot de passe provisoire, démo uniquement) :")
    team = {
        "gp": gp,
        "nurse": nurse,
        "radiologist": radiologist,
        "cardiologist": cardiologist,
        "biologist": biologist,
        "pharmacist": pharmacist,
        "regulator": regulator,
    }
    excluded = (professional_actor(ctx, elise), professional_actor(ctx, conseil))
    for index in range(6):
        lines += _patient(ctx, rng, index, team, excluded)
    lines.append(
        f"Documents : {len(CATALOGUE)} sortes (PDF, CDA R2, PNG, texte), chiffrés au repos."
    )
    return lines


def _pro_portal(ctx: Context, rpps: str, name: str) -> list[str]:
    """The médecin traitant logs in to the professional portal with RPPS and a password (their
    authenticator app is enrolled at the first login)."""
    password = "demo-" + secrets.token_urlsafe(12)
    set_password(ctx, rpps, password)
    return [
        "Espace professionnel (/pro) : RPPS et mot de passe, puis une application "
        "d'authentification associée à la première connexion :",
        f"  {name} — RPPS {rpps} — mot de passe {password}",
    ]


def _tokens(ctx: Context) -> list[str]:
    lines = ["Jetons d'accès à l'API (valables 30 jours, Authorization: Bearer …) :"]
    with ctx.uow() as uow:
        pros = [p for p in uow.directory.professionals() if policy.may_hold_credentials(p, None)]
    for pro in pros:
        token = issue_token(ctx, pro.rpps, days=30)
        lines.append(f"  {pro.display_name:<26} RPPS {pro.rpps} : {token.token}")
    return lines


def _patient(
    ctx: Context,
    rng: random.Random,
    index: int,
    team: dict[str, _Pro],
    excluded: tuple[ProfessionalActor, ...],
) -> list[str]:
    """One synthetic patient and their DMP: index 5 is a minor, index 4 closes their DMP."""
    now, gp, minor = ctx.now(), team["gp"], index == 5
    consent = records.Consent(ctx.brochure.version, True, True)
    person = fake_person(rng, minor=minor, today=now.date())
    reps: tuple[records.NewRepresentative, ...] = ()
    parent = None
    if minor:
        drawn = fake_person(rng, today=now.date())
        parent = SyntheticPerson(
            person.family_name,
            drawn.given_names,
            drawn.birth_date,
            drawn.gender,
            drawn.ins,
            drawn.email,
            drawn.phone,
            person.city,
        )
        reps = (
            records.NewRepresentative(
                _identity(parent), ContactChannels(parent.email, parent.phone)
            ),
        )
    created = records.create_record(
        ctx,
        gp.actor,
        ins=Ins.parse(person.ins),
        identity=_identity(person),
        contacts=ContactChannels(person.email, person.phone),
        consent=consent,
        representatives=reps,
    )
    patient = PatientActor(created.patient.account_id, created.dmp_id)
    owner = (
        RepresentativeActor(created.representatives[0].account_id, created.dmp_id)
        if minor
        else patient
    )
    authorizations.designate_medecin_traitant(ctx, owner, created.dmp_id, gp.actor.professional_id)
    for role in ("nurse", "pharmacist", "radiologist", "cardiologist", "biologist"):
        authorizations.declare_authorization(ctx, team[role].actor, created.dmp_id)
    _documents(ctx, rng, team, person, created.dmp_id, index)
    if not minor:
        _submit(
            ctx,
            rng,
            None,
            person,
            patient,
            created.dmp_id,
            document_kind("advance_directives"),
            now - timedelta(days=30),
        )
    name = f"{person.given_names.split()[0]} {person.family_name}"
    lines = [
        f"  {name}, né(e) le {person.birth_date:%d/%m/%Y}, INS {person.ins} — "
        f"{created.patient.login} / {created.patient.temporary_password}"
    ]
    if index == 0:  # the one whose login ``dmp demo`` prints, with a known password
        lines[0] = lines[0].split(" — ")[0] + f" — {created.patient.login} {DEMO_MARK}"
    if parent is not None:
        rep = created.representatives[0]
        lines.append(
            f"    représentant légal {parent.given_names.split()[0]} "
            f"{parent.family_name} — {rep.login} / {rep.temporary_password}"
        )
    if index == 0:
        _accesses(ctx, team, excluded, created.dmp_id, Ins.parse(person.ins))
    if index == 4:
        confirmed = replace(patient, step_up_at=ctx.now())  # as the portal asks: a fresh code
        records.close_record(ctx, confirmed, created.dmp_id, "Déménagement à l'étranger")
        lines[-1] += " (DMP fermé)"
    return lines


_AUTHORS = {
    "consultation": "gp",
    "lab": "biologist",
    "imaging": "radiologist",
    "prescription": "gp",
    "discharge": "cardiologist",
    "summary": "gp",
    "ecg": "cardiologist",
}


def _documents(
    ctx: Context,
    rng: random.Random,
    team: dict[str, _Pro],
    person: SyntheticPerson,
    dmp_id: UUID,
    index: int,
) -> None:
    for n, name in enumerate(rng.sample(sorted(_AUTHORS), rng.randint(3, 6))):
        author = team[_AUTHORS[name]]
        when = ctx.now() - timedelta(days=rng.randint(2, 700), hours=rng.randint(0, 8))
        _submit(
            ctx,
            rng,
            author,
            person,
            author.actor,
            dmp_id,
            document_kind(name),
            when,
            invisible_patient=n == 0 and index == 1,  # awaiting the announcement consultation
            invisible_representatives=index == 5 and name == "consultation",  # a minor's secret
        )


def _accesses(
    ctx: Context,
    team: dict[str, _Pro],
    excluded: tuple[ProfessionalActor, ...],
    dmp_id: UUID,
    ins: Ins,
) -> None:
    """A few accesses for the history: a nurse, a SAMU regulation, refusals by law (an
    occupational physician; a mutuelle's médecin-conseil acting for no establishment)."""
    find_documents(ctx, Reading(team["nurse"].actor), dmp_id)
    find_documents(
        ctx,
        Reading(
            team["regulator"].actor, AccessMode.SAMU, "Appel au 15 : malaise, patient inconscient"
        ),
        dmp_id,
    )
    for actor in excluded:
        with suppress(DmpError):  # refused by law; the refusal is in the audit trail
            records.lookup(ctx, actor, ins)

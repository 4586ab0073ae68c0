"""The named people of the tests, created through the services.

Alice, the patient; Bruno, her médecin traitant (who created her DMP); Chloé, a nurse she
authorized; Damien, a médecin with no relation to her; Élise, an occupational physician (legally
excluded); Pauline, a pharmacist at the Pharmacie du Port; Samuel, a SAMU regulator; Léa, a minor,
and Marc, her father and legal representative; the CHU de Nantes (its staff are authorized when
Alice authorizes the establishment); the Mutuelle Atlantique (legally excluded)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from uuid import UUID

from dmp.domain.identifiers import Ins, luhn_check_digit, nir_key
from dmp.domain.model import (
    ContactChannels,
    Establishment,
    PatientActor,
    PatientIdentity,
    Professional,
    ProfessionalActor,
    RepresentativeActor,
)
from dmp.services import authorizations, records
from dmp.services.context import Context
from dmp.services.directory import (
    NewProfessional,
    add_establishment,
    add_professional,
    professional_actor,
)


def rpps(n: int) -> str:
    base = f"1000{n:06d}"
    return base + luhn_check_digit(base)


def ins(nir13: str) -> Ins:
    return Ins.parse(f"{nir13}{nir_key(nir13):02d}")


ALICE_INS = ins("2850375123456")
LEA_INS = ins("2150644109012")


@dataclass
class Cast:
    chu: Establishment
    mutuelle: Establishment
    pharmacie: Establishment
    bruno: ProfessionalActor
    chloe: ProfessionalActor
    damien: ProfessionalActor
    elise: ProfessionalActor
    pauline: ProfessionalActor
    samuel: ProfessionalActor
    hugo: ProfessionalActor  # a CHU radiologist acting for the CHU
    professionals: dict[str, Professional]
    alice_dmp: UUID
    alice: PatientActor
    alice_login: str
    alice_password: str
    lea_dmp: UUID
    lea: PatientActor
    marc: RepresentativeActor
    lea_login: str = ""
    lea_password: str = ""
    marc_login: str = ""
    marc_password: str = ""


def _pro(
    ctx: Context, n: int, family: str, given: str, profession: str, **kw: object
) -> Professional:
    new = NewProfessional(rpps(n), family, given, profession, **kw)  # type: ignore[arg-type]
    return add_professional(ctx, new).professional


def consent(ctx: Context) -> records.Consent:
    return records.Consent(ctx.brochure.version, informed=True, consented=True)


def populate(ctx: Context) -> Cast:
    chu = add_establishment(ctx, "440000289", "CHU de Nantes", "hospital").establishment
    mutuelle = add_establishment(ctx, "440000297", "Mutuelle Atlantique", "mutuelle").establishment
    pharmacie = add_establishment(ctx, "440000305", "Pharmacie du Port", "pharmacy").establishment
    pros = {
        "bruno": _pro(ctx, 1, "Martin", "Bruno", "10", specialty="Médecine générale"),
        "chloe": _pro(ctx, 2, "Bernard", "Chloé", "60"),
        "damien": _pro(ctx, 3, "Petit", "Damien", "10"),
        "elise": _pro(ctx, 4, "Durand", "Élise", "10", occupational_health=True),
        "pauline": _pro(ctx, 5, "Leroy", "Pauline", "21", establishment_finess=("440000305",)),
        "samuel": _pro(ctx, 6, "Moreau", "Samuel", "10", samu_regulator=True),
        "hugo": _pro(
            ctx,
            7,
            "Roux",
            "Hugo",
            "10",
            specialty="Radiologie",
            establishment_finess=("440000289",),
        ),
    }
    actor = {name: professional_actor(ctx, p) for name, p in pros.items()}
    actor["pauline"] = professional_actor(ctx, pros["pauline"], pharmacie)
    actor["hugo"] = professional_actor(ctx, pros["hugo"], chu)
    alice = records.create_record(
        ctx,
        actor["bruno"],
        ins=ALICE_INS,
        identity=PatientIdentity("Dupont", "Alice", date(1985, 3, 12), "female"),
        contacts=ContactChannels(email="alice@example.org", phone="+33612345678"),
        consent=consent(ctx),
    )
    lea = records.create_record(
        ctx,
        actor["bruno"],
        ins=LEA_INS,
        identity=PatientIdentity("Lefèvre", "Léa", date(2015, 6, 1), "female"),
        contacts=ContactChannels(email="lea@example.org"),
        consent=consent(ctx),
        representatives=(
            records.NewRepresentative(
                PatientIdentity("Lefèvre", "Marc", date(1980, 1, 5), "male"),
                ContactChannels(email="marc@example.org"),
            ),
        ),
    )
    alice_actor = PatientActor(alice.patient.account_id, alice.dmp_id)
    authorizations.designate_medecin_traitant(ctx, alice_actor, alice.dmp_id, pros["bruno"].id)
    authorizations.authorize(ctx, alice_actor, alice.dmp_id, pros["chloe"])
    authorizations.authorize(ctx, alice_actor, alice.dmp_id, pros["pauline"])
    return Cast(
        chu=chu,
        mutuelle=mutuelle,
        pharmacie=pharmacie,
        bruno=actor["bruno"],
        chloe=actor["chloe"],
        damien=actor["damien"],
        elise=actor["elise"],
        pauline=actor["pauline"],
        samuel=actor["samuel"],
        hugo=actor["hugo"],
        professionals=pros,
        alice_dmp=alice.dmp_id,
        alice=alice_actor,
        alice_login=alice.patient.login,
        alice_password=alice.patient.temporary_password,
        lea_dmp=lea.dmp_id,
        lea=PatientActor(lea.patient.account_id, lea.dmp_id),
        marc=RepresentativeActor(lea.representatives[0].account_id, lea.dmp_id),
        lea_login=lea.patient.login,
        lea_password=lea.patient.temporary_password,
        marc_login=lea.representatives[0].login,
        marc_password=lea.representatives[0].temporary_password,
    )


def fresh(ctx: Context, actor: PatientActor | RepresentativeActor) -> PatientActor:
    """The patient (or a representative) having just entered a fresh one-time code, as the
    portal asks before closing or destroying the DMP."""
    return replace(actor, step_up_at=ctx.now())  # type: ignore[return-value]

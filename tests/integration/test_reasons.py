"""Every refusal reason the policy knows, and each of the service's own, is reached by a scenario
and written to the trail exactly (both backends). A refusal that is not in the trail did not
happen; a refusal written with another reason tells the patient something false."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select, update

from dmp.adapters.db.tables import audit_entries, professionals
from dmp.domain.model import (
    AccessMode,
    ContactChannels,
    PatientActor,
    PatientIdentity,
    RepresentativeActor,
    SystemActor,
)
from dmp.errors import DmpError
from dmp.policy import REASONS, DocumentChange
from dmp.policy.decision import _REFUSALS
from dmp.services import authorizations as auth
from dmp.services import gate, history, records
from dmp.services.audit import SYSTEM_CHAIN
from dmp.services.directory import issue_token
from dmp.services.documents import find_documents, get_document, open_content
from dmp.services.gate import Reading
from dmp.services.submission import change_document, submit_documents
from dmp.services.wording import wording
from tests.factories import CDA, pdf_submission
from tests.personas import ALICE_INS, Cast, consent, fresh, populate

Scenario = Callable[["Play"], None]
WHY = "Patiente inconsciente aux urgences"


class Play:
    """The cast, and what a scenario needs to stage its refusal."""

    def __init__(self, ctx, cast: Cast, clock) -> None:
        self.ctx, self.cast, self.clock = ctx, cast, clock

    def attempt(self, action: Callable[[], object]) -> None:
        with pytest.raises(DmpError):
            action()

    def doc(self, author=None, dmp: UUID | None = None, **metadata: object) -> UUID:
        who = author or self.cast.bruno
        [stored] = submit_documents(
            self.ctx, who, dmp or self.cast.alice_dmp, [pdf_submission(**metadata)]
        )
        return stored.id

    def reads(self, reading: Reading, doc: UUID, dmp: UUID | None = None) -> None:
        self.attempt(lambda: get_document(self.ctx, reading, dmp or self.cast.alice_dmp, doc))

    def searches(self, reading: Reading, dmp: UUID | None = None) -> None:
        self.attempt(lambda: find_documents(self.ctx, reading, dmp or self.cast.alice_dmp))

    def inactive(self, name: str) -> None:
        with self.ctx.engine.begin() as conn:
            pro = self.cast.professionals[name]
            conn.execute(
                update(professionals).where(professionals.c.id == pro.id).values(active=False)
            )


def _deleted(play: Play) -> None:
    doc = play.doc()
    change_document(play.ctx, play.cast.bruno, play.cast.alice_dmp, doc, DocumentChange.DELETE)
    play.reads(Reading(play.cast.bruno), doc)


def _inactive(play: Play) -> None:
    play.inactive("damien")
    damien = play.cast.professionals["damien"].id
    play.attempt(
        lambda: auth.designate_medecin_traitant(
            play.ctx, play.cast.alice, play.cast.alice_dmp, damien
        )
    )


def _invisible_representatives(play: Play) -> None:
    doc = play.doc(dmp=play.cast.lea_dmp, invisible_representatives=True)
    play.reads(Reading(play.cast.marc), doc, play.cast.lea_dmp)


def _medecin_traitant_designated(play: Play) -> None:
    c = play.cast
    auth.declare_authorization(play.ctx, c.damien, c.alice_dmp)
    play.attempt(
        lambda: auth.designate_medecin_traitant(
            play.ctx, c.damien, c.alice_dmp, c.damien.professional_id
        )
    )


def _representative_of_adult(play: Play) -> None:
    play.clock.advance(days=365 * 8)  # Léa, born in 2015, is now of age
    play.attempt(lambda: history.read_history(play.ctx, play.cast.marc, play.cast.lea_dmp))


def _record_destroyed(play: Play) -> None:
    with play.ctx.uow() as uow:
        uow.records.mark_destroying(play.cast.alice_dmp)  # a destruction cut short
        uow.commit()
    play.searches(Reading(play.cast.bruno))


def _closed(play: Play) -> None:
    records.close_record(
        play.ctx, fresh(play.ctx, play.cast.alice), play.cast.alice_dmp, "Choix personnel"
    )
    play.searches(Reading(play.cast.chloe))


def _wrong_status(play: Play) -> None:
    doc = play.doc()
    change_document(play.ctx, play.cast.bruno, play.cast.alice_dmp, doc, DocumentChange.ARCHIVE)
    play.attempt(
        lambda: change_document(
            play.ctx, play.cast.bruno, play.cast.alice_dmp, doc, DocumentChange.ARCHIVE
        )
    )


def _no_content(play: Play) -> None:
    doc = play.doc()
    play.attempt(
        lambda: open_content(play.ctx, Reading(play.cast.bruno), play.cast.alice_dmp, doc, 3)
    )


def _stale_version(play: Play) -> None:
    doc = play.doc()
    change_document(play.ctx, play.cast.bruno, play.cast.alice_dmp, doc, DocumentChange.MASK)
    play.attempt(  # If-Match named version 1, the document is at version 2
        lambda: change_document(
            play.ctx,
            play.cast.bruno,
            play.cast.alice_dmp,
            doc,
            DocumentChange.ARCHIVE,
            expected_version=1,
        )
    )


def _duplicate(play: Play) -> None:
    play.doc(master_identifier="urn:oid:1.2.250.1.999.7")
    play.attempt(lambda: play.doc(master_identifier="urn:oid:1.2.250.1.999.7"))


def _unsupported(play: Play) -> None:
    cda_as_pdf = replace(pdf_submission(), contents=[pdf_submission(CDA).contents[0]])
    play.attempt(
        lambda: submit_documents(play.ctx, play.cast.bruno, play.cast.alice_dmp, [cda_as_pdf])
    )


def _mismatch(play: Play) -> None:
    submission = pdf_submission()
    declared = replace(submission.contents[0], declared_size=1)
    play.attempt(
        lambda: submit_documents(
            play.ctx,
            play.cast.bruno,
            play.cast.alice_dmp,
            [replace(submission, contents=[declared])],
        )
    )


def _too_large(play: Play) -> None:
    big = pdf_submission(b"%PDF-1.7\n" + b"\0" * (play.ctx.settings.max_content_bytes + 1))
    play.attempt(lambda: submit_documents(play.ctx, play.cast.bruno, play.cast.alice_dmp, [big]))


def _emergency(c: Cast, who: str, mode: AccessMode = AccessMode.EMERGENCY) -> Reading:
    return Reading(getattr(c, who), mode, WHY)


# reason → (the chain the refusal goes to, the scenario)
SCENARIOS: dict[str, tuple[str, Scenario]] = {
    "blocked": (
        "alice",
        lambda p: (
            auth.block(p.ctx, p.cast.alice, p.cast.alice_dmp, p.cast.chloe.professional_id),
            p.searches(Reading(p.cast.chloe)),
        ),
    ),
    "document-deleted": ("alice", _deleted),
    "emergency-opposed": (
        "alice",
        lambda p: (
            auth.set_oppositions(p.ctx, p.cast.alice, p.cast.alice_dmp, emergency=True),
            p.searches(_emergency(p.cast, "damien")),
        ),
    ),
    "excluded-actor": ("alice", lambda p: p.searches(Reading(p.cast.elise))),
    "holder-only": (
        "alice",
        lambda p: p.attempt(
            lambda: auth.revoke(
                p.ctx, p.cast.bruno, p.cast.alice_dmp, "professional", p.cast.chloe.professional_id
            )
        ),
    ),
    "inactive": ("alice", _inactive),
    "invisible-patient": (
        "alice",
        lambda p: p.reads(Reading(p.cast.alice), p.doc(invisible_patient=True)),
    ),
    "invisible-representatives": ("lea", _invisible_representatives),
    "justification-required": (
        "alice",
        lambda p: p.searches(Reading(p.cast.damien, AccessMode.EMERGENCY)),
    ),
    "masked": ("alice", lambda p: p.reads(Reading(p.cast.chloe), p.doc(masked=True))),
    "medecin-traitant-designated": ("alice", _medecin_traitant_designated),
    "mode-not-for-patient": ("alice", lambda p: p.searches(_emergency(p.cast, "alice"))),
    "not-a-medecin": (
        "alice",
        lambda p: p.attempt(
            lambda: auth.designate_medecin_traitant(
                p.ctx, p.cast.alice, p.cast.alice_dmp, p.cast.chloe.professional_id
            )
        ),
    ),
    "not-a-member": (
        "system",
        lambda p: p.attempt(
            lambda: issue_token(
                p.ctx, p.cast.professionals["pauline"].rpps, finess=p.cast.chu.finess
            )
        ),
    ),
    "not-allowed-change": (
        "alice",
        lambda p: p.attempt(
            lambda: change_document(
                p.ctx, p.cast.chloe, p.cast.alice_dmp, p.doc(), DocumentChange.MASK
            )
        ),
    ),
    "not-authorized": ("alice", lambda p: p.searches(Reading(p.cast.damien))),
    "not-holder": (
        "alice",
        lambda p: p.attempt(
            lambda: history.read_history(
                p.ctx, PatientActor(uuid4(), p.cast.alice_dmp), p.cast.alice_dmp
            )
        ),
    ),
    "not-representative": (
        "lea",
        lambda p: p.attempt(
            lambda: history.read_history(
                p.ctx, RepresentativeActor(uuid4(), p.cast.lea_dmp), p.cast.lea_dmp
            )
        ),
    ),
    "not-samu-regulator": (
        "alice",
        lambda p: p.searches(_emergency(p.cast, "damien", AccessMode.SAMU)),
    ),
    "operator-no-health-data": ("alice", lambda p: p.searches(Reading(SystemActor("operator")))),
    "other-record": (
        "alice",
        lambda p: p.attempt(lambda: history.read_history(p.ctx, p.cast.lea, p.cast.alice_dmp)),
    ),
    "patient-class-only": ("alice", lambda p: p.attempt(lambda: p.doc(type_code="DOCPAT01"))),
    "profession-matrix": (
        "alice",
        lambda p: p.reads(Reading(p.cast.pauline), p.doc(type_code="18748-4")),
    ),
    "professional-class-only": ("alice", lambda p: p.attempt(lambda: p.doc(p.cast.alice))),
    "professional-only": (
        "alice",
        lambda p: p.attempt(
            lambda: records.lookup(p.ctx, p.cast.alice, ALICE_INS)  # type: ignore[arg-type]
        ),
    ),
    "read-only-mode": (
        "alice",
        lambda p: p.attempt(
            lambda: submit_documents(
                p.ctx,
                p.cast.damien,
                p.cast.alice_dmp,
                [pdf_submission()],
                mode=AccessMode.EMERGENCY,
                justification=WHY,
            )
        ),
    ),
    "record-closed": ("alice", _closed),
    "record-destroyed": ("system", _record_destroyed),
    "record-exists": (
        "alice",
        lambda p: p.attempt(
            lambda: records.create_record(
                p.ctx,
                p.cast.damien,
                ins=ALICE_INS,
                identity=_identity(),
                contacts=_contacts(),
                consent=consent(p.ctx),
            )
        ),
    ),
    "record-not-closed": (
        "alice",
        lambda p: p.attempt(
            lambda: records.reactivate_record(p.ctx, p.cast.damien, ALICE_INS, consent(p.ctx))
        ),
    ),
    "representative-of-adult": ("lea", _representative_of_adult),
    "samu-opposed": (
        "alice",
        lambda p: (
            auth.set_oppositions(p.ctx, p.cast.alice, p.cast.alice_dmp, samu=True),
            p.searches(_emergency(p.cast, "samuel", AccessMode.SAMU)),
        ),
    ),
    "self-designation-only": (
        "alice",
        lambda p: p.attempt(
            lambda: auth.designate_medecin_traitant(
                p.ctx, p.cast.bruno, p.cast.alice_dmp, p.cast.damien.professional_id
            )
        ),
    ),
    "step-up-required": (
        "alice",
        lambda p: p.attempt(lambda: records.destroy_record(p.ctx, p.cast.alice, p.cast.alice_dmp)),
    ),
    "wrong-status": ("alice", _wrong_status),
    # -- the service's own: nothing by that id, or content that cannot be stored as given
    gate.NO_RECORD: ("system", lambda p: p.searches(Reading(p.cast.bruno), uuid4())),
    gate.NO_DOCUMENT: ("alice", lambda p: p.reads(Reading(p.cast.bruno), uuid4())),
    gate.NO_CONTENT: ("alice", _no_content),
    gate.DUPLICATE_IDENTIFIER: ("alice", _duplicate),
    gate.STALE_VERSION: ("alice", _stale_version),
    "unsupported-content": ("alice", _unsupported),
    "content-mismatch": ("alice", _mismatch),
    "too-large": ("alice", _too_large),
}


def _identity() -> PatientIdentity:
    return PatientIdentity("Dupont", "Alice", date(1985, 3, 12), "female")


def _contacts() -> ContactChannels:
    return ContactChannels(email="alice@example.org")


def _entries(ctx) -> set[tuple[UUID, int, str, str, str]]:
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(
                audit_entries.c.dmp_id,
                audit_entries.c.seq,
                audit_entries.c.outcome,
                audit_entries.c.reason,
                audit_entries.c.action,
            )
        )
        return {tuple(row) for row in rows}  # type: ignore[misc]


def test_every_refusal_reason_has_a_scenario():
    assert set(SCENARIOS) >= set(_REFUSALS)
    assert all(reason in REASONS for reason in _REFUSALS)


@pytest.mark.parametrize("reason", sorted(SCENARIOS))
def test_the_trail_holds_exactly_the_reason_of_the_refusal(ctx, clock, reason):
    cast = populate(ctx)
    chains = {"alice": cast.alice_dmp, "lea": cast.lea_dmp, "system": SYSTEM_CHAIN}
    chain, scenario = SCENARIOS[reason]
    before = _entries(ctx)
    scenario(Play(ctx, cast, clock))
    written = _entries(ctx) - before
    refusals = [(dmp_id, why) for dmp_id, _, outcome, why, _ in written if outcome == "denied"]
    assert (chains[chain], reason) in refusals, refusals
    # … and the patient's history says it in French: a sentence for every action, a clause for
    # every refusal written to a DMP's chain.
    said = wording()
    in_a_dmp = [entry for entry in written if entry[0] != SYSTEM_CHAIN]
    assert {action for *_, action in in_a_dmp} <= set(said.actions)
    assert {why for _, _, outcome, why, _ in in_a_dmp if outcome == "denied"} <= set(said.reasons)

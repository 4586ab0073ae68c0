"""Properties that hold whatever the facts: the law's exclusions and the operator's blindness.

For any record (any state, any authorizations, even ones naming the actor), any access mode and
any justification, these actors are never allowed anything; the excluded are told the law's
reason, and nothing else, every time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from dmp.domain.model import (
    MEDECIN,
    AccessMode,
    Actor,
    DocStatus,
    DocumentFacts,
    Establishment,
    PatientActor,
    Professional,
    ProfessionalActor,
    RecordFacts,
    RecordState,
    RepresentativeActor,
    SystemActor,
)
from dmp.policy import (
    Access,
    Decision,
    DocumentChange,
    acts_only_for_excluded,
    add_document,
    change_document,
    close_record,
    create_record,
    declare_authorization,
    designate_medecin_traitant,
    destroy,
    document_visible,
    export_record,
    grant,
    look_up,
    manage_authorizations,
    may_hold_credentials,
    open_record,
    reactivate_record,
    read_document,
    read_history,
)

from .personas import MATRIX, WHY

BOUNDED = settings(max_examples=200, deadline=None, database=None)
NOW = datetime(2024, 3, 14, 10, 30, tzinfo=UTC)

# A small pool of identifiers, so that the actor's own ids turn up everywhere in the record:
# authorized, médecin traitant, author, even "patient" accounts.
IDS = [UUID(int=n) for n in range(1, 5)]
ids = st.sampled_from(IDS)
some_ids = st.frozensets(ids, max_size=3)

records = st.builds(
    RecordFacts,
    dmp_id=ids,
    state=st.sampled_from(RecordState),
    patient_account_id=st.none() | ids,
    representative_account_ids=some_ids,
    patient_is_minor=st.booleans(),
    medecin_traitant_id=st.none() | ids,
    authorized_professionals=some_ids,
    authorized_establishments=some_ids,
    blocked_professionals=some_ids,
    oppose_emergency=st.booleans(),
    oppose_samu=st.booleans(),
)
documents = st.builds(
    DocumentFacts,
    class_code=st.sampled_from(["10", "31", "42", "90"]),
    status=st.sampled_from(DocStatus),
    masked=st.booleans(),
    invisible_patient=st.booleans(),
    invisible_representatives=st.booleans(),
    author_professional_id=st.none() | ids,
    author_establishment_id=st.none() | ids,
    added_by_patient=st.booleans(),
)
justifications = st.none() | st.just(WHY) | st.text(max_size=12)


@st.composite
def excluded_actors(draw: st.DrawFn) -> ProfessionalActor:
    """An occupational physician, a professional acting for an excluded establishment, or one
    attached only to excluded organizations (acting for one of them or for none): any mix."""
    occupational, for_excluded, only_excluded = draw(
        st.tuples(st.booleans(), st.booleans(), st.booleans()).filter(any)
    )
    return ProfessionalActor(
        professional_id=draw(ids),
        rpps="10000000001",
        profession=draw(st.sampled_from([MEDECIN, "21", "60"])),
        occupational_health=occupational,
        samu_regulator=draw(st.booleans()),
        establishment_id=draw(ids) if for_excluded else draw(st.none() | ids),
        establishment_excluded=for_excluded,
        attached_only_to_excluded=only_excluded,
    )


# (occupational physician, attached only to excluded organizations) of the actor as a target.
TARGET_KINDS = [(False, False), (True, False), (False, True)]


def himself(
    actor: ProfessionalActor, occupational_health: bool, only_excluded: bool
) -> Professional:
    """The actor as a candidate or a target: makes self-designation and self-grant reachable."""
    return Professional(
        actor.professional_id, actor.rpps, "Test", "Test", actor.profession, None,
        occupational_health=occupational_health, samu_regulator=actor.samu_regulator,
        attached_only_to_excluded=only_excluded,
    )  # fmt: skip


def every_decision(
    actor: Actor, record: RecordFacts, mode: AccessMode, why: str | None, doc: DocumentFacts
) -> list[Decision]:
    """What the actor may do to this record, in every way the policy knows."""
    access = Access(actor, record, mode, why)
    decisions = [
        open_record(access),
        read_document(access, doc, MATRIX),
        *(add_document(access, code) for code in ("10", "90")),
        *(change_document(access, doc, change, MATRIX) for change in DocumentChange),
        declare_authorization(access),
        manage_authorizations(access),
        read_history(access),
        look_up(actor),
        close_record(access, NOW, timedelta(minutes=5)),
        export_record(access),
        reactivate_record(access),
        destroy(access, NOW, timedelta(minutes=5)),
        create_record(actor, record.state),
        create_record(actor, None),
    ]
    if isinstance(actor, ProfessionalActor):
        for occupational, only_excluded in TARGET_KINDS:
            target = himself(actor, occupational, only_excluded)
            decisions.append(grant(access, target))
            decisions.append(designate_medecin_traitant(access, target))
    return decisions


@BOUNDED
@given(excluded_actors(), records, st.sampled_from(AccessMode), justifications, documents)
def test_an_excluded_actor_is_refused_everything_with_the_laws_reason(
    actor: ProfessionalActor,
    record: RecordFacts,
    mode: AccessMode,
    why: str | None,
    doc: DocumentFacts,
) -> None:
    decisions = every_decision(actor, record, mode, why, doc)
    assert {d.reason for d in decisions} == {"excluded-actor"}
    assert not any(decisions)


@BOUNDED
@given(st.builds(SystemActor, name=st.text(max_size=8)), records, st.sampled_from(AccessMode))
def test_the_operator_is_never_allowed_anything(
    actor: SystemActor, record: RecordFacts, mode: AccessMode
) -> None:
    for decision in every_decision(actor, record, mode, WHY, DocumentFacts(class_code="10")):
        assert not decision


holders = st.builds(PatientActor, account_id=ids, dmp_id=ids, step_up_at=st.just(NOW)) | st.builds(
    RepresentativeActor, account_id=ids, dmp_id=ids, step_up_at=st.just(NOW)
)
anyone = holders | excluded_actors() | st.builds(SystemActor, name=st.just("operator"))


professionals = st.builds(
    ProfessionalActor, professional_id=ids, rpps=st.just("10000000001"),
    profession=st.sampled_from([MEDECIN, "21", "60"]), occupational_health=st.booleans(),
    samu_regulator=st.booleans(), establishment_id=st.none() | ids,
    establishment_excluded=st.booleans(), attached_only_to_excluded=st.booleans(),
)  # fmt: skip


@given(anyone | professionals, records, st.sampled_from(AccessMode), justifications, documents)
def test_a_documents_visibility_once_opened_is_read_document(
    actor: Actor, record: RecordFacts, mode: AccessMode, why: str | None, doc: DocumentFacts
) -> None:
    """The services decide the DMP's opening once for a search's documents (``Door``)."""
    access = Access(actor, record, mode, why)
    opened = open_record(access)
    assert document_visible(access, doc, MATRIX, opened) == read_document(access, doc, MATRIX)


def establishments(excluded: st.SearchStrategy[bool]) -> st.SearchStrategy[Establishment]:
    return st.builds(
        Establishment, id=ids, finess=st.just("750000001"), name=st.just("Assurance Horizon"),
        kind=st.just("insurer"), excluded=excluded,
    )  # fmt: skip


def professionals(
    occupational_health: st.SearchStrategy[bool], only_excluded: st.SearchStrategy[bool]
) -> st.SearchStrategy[Professional]:
    return st.builds(
        Professional, id=ids, rpps=st.just("10000000001"), family_name=st.just("Test"),
        given_name=st.just("Élise"), profession=st.just(MEDECIN), specialty=st.none(),
        occupational_health=occupational_health, samu_regulator=st.booleans(),
        establishment_ids=some_ids, active=st.booleans(), attached_only_to_excluded=only_excluded,
    )  # fmt: skip


occupational_physicians = professionals(st.just(True), st.booleans())
# Attached only to excluded organizations: a mutuelle's or an insurer's médecin-conseil.
medecins_conseils = professionals(st.booleans(), st.just(True))
excluded_persons = occupational_physicians | medecins_conseils
excluded_targets = excluded_persons | establishments(st.just(True))


@BOUNDED
@given(anyone, records, st.sampled_from(AccessMode), excluded_targets)
def test_granting_an_excluded_actor_is_refused_whoever_asks(
    actor: Actor, record: RecordFacts, mode: AccessMode, target: Professional | Establishment
) -> None:
    assert grant(Access(actor, record, mode), target).reason == "excluded-actor"


@BOUNDED
@given(anyone, records, st.sampled_from(AccessMode), excluded_persons)
def test_an_excluded_medecin_is_never_designated(
    actor: Actor, record: RecordFacts, mode: AccessMode, candidate: Professional
) -> None:
    decision = designate_medecin_traitant(Access(actor, record, mode), candidate)
    assert decision.reason == "excluded-actor"


@BOUNDED
@given(excluded_persons, st.none() | establishments(st.booleans()))
def test_no_credentials_for_an_excluded_person_whatever_they_act_for(
    professional: Professional, establishment: Establishment | None
) -> None:
    assert may_hold_credentials(professional, establishment).reason == "excluded-actor"


@BOUNDED
@given(establishments(st.just(True)), st.booleans())
def test_no_credentials_for_an_excluded_establishment(
    establishment: Establishment, member: bool
) -> None:
    professional = Professional(
        UUID(int=99), "10000000001", "Test", "Oscar", MEDECIN, None, occupational_health=False,
        samu_regulator=False,
        establishment_ids=frozenset({establishment.id}) if member else frozenset(),
    )  # fmt: skip
    assert may_hold_credentials(professional, establishment).reason == "excluded-actor"


# A professional's attachments: care establishments and excluded organizations, in any mix.
an_attachment = st.builds(
    Establishment, id=st.uuids(), finess=st.just("750000001"), name=st.just("Test"),
    kind=st.just("test"), excluded=st.booleans(),
)  # fmt: skip
attachments = st.lists(an_attachment, max_size=4)


@BOUNDED
@given(attachments, st.booleans(), st.data())
def test_credentials_follow_the_attachments(
    attached: list[Establishment], occupational_health: bool, data: st.DataObject
) -> None:
    """Whatever the attachments: someone with at least one, all excluded, gets nothing, for no
    establishment or any; otherwise a practising non-occupational professional gets credentials
    for each non-excluded attachment and alone, never for an excluded one."""
    professional = Professional(
        UUID(int=7), "10000000001", "Test", "Mathilde", MEDECIN, None,
        occupational_health=occupational_health, samu_regulator=False,
        establishment_ids=frozenset(e.id for e in attached),
        attached_only_to_excluded=acts_only_for_excluded(attached),
    )  # fmt: skip
    acting_for = data.draw((st.none() | st.sampled_from(attached)) if attached else st.none())
    decision = may_hold_credentials(professional, acting_for)
    only_excluded = bool(attached) and all(e.excluded for e in attached)
    excluded = (
        occupational_health or only_excluded or (acting_for is not None and acting_for.excluded)
    )
    assert decision.reason == ("excluded-actor" if excluded else "credentials")

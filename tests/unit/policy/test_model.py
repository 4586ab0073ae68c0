"""A Hypothesis model of one DMP in memory, driven through the policy as the services drive it.

Each rule asks the policy, as a service would, and applies the change only when allowed; the rule
checks the decision against a plain statement of the rule (oracle.py, written from SPEC §2–3 in
terms of sets, never calling the policy). After every step, the invariants ask the policy about
every person, in every access mode, for every document, and check what must never happen: a
blocked or excluded professional getting in, a closed DMP opened by a professional, a masked
document read by someone other than its author or the médecin traitant, and so on.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from dmp.domain.model import (
    MEDECIN,
    PATIENT_CLASS,
    AccessMode,
    Actor,
    DocStatus,
    DocumentFacts,
    Establishment,
    PatientActor,
    ProfessionalActor,
    RecordFacts,
    RecordState,
    RepresentativeActor,
    SystemActor,
)
from dmp.policy import (
    Access,
    DocumentChange,
    add_document,
    change_document,
    close_record,
    create_record,
    declare_authorization,
    designate_medecin_traitant,
    destroy,
    grant,
    manage_authorizations,
    open_record,
    reactivate_record,
    read_document,
)

from .oracle import Oracle
from .personas import (
    ACTORS,
    ALICE,
    ESTABLISHMENTS,
    MARC_ACCOUNT,
    MATRIX,
    OPERATOR,
    PROFESSIONALS,
    WHY,
)

# A small cast, so that the same people meet often (blocked, then granted; designated, then...).
# Mathilde (the hospital and a mutuelle) acts for each and alone; Oscar (only an insurer) and
# Ulysse (an insurer and a mutuelle) are excluded even acting for no establishment.
CAST = [
    "bruno", "chloe", "damien", "elise", "farid", "gael", "gael-alone", "oscar", "oscar-alone",
    "samia", "mathilde", "mathilde-mutuelle", "mathilde-alone", "ulysse-alone",
]  # fmt: skip
PROS = {k: a for k, a in ACTORS.items() if k in CAST and isinstance(a, ProfessionalActor)}
PROFESSIONAL_OF = {key: PROFESSIONALS[key.partition("-")[0]] for key in PROS}
PATIENT = ALICE
REPRESENTATIVE = RepresentativeActor(MARC_ACCOUNT, ALICE.dmp_id)  # Alice's guardian while a minor
HOLDERS = {"patient": PATIENT, "representative": REPRESENTATIVE}
EVERYONE: dict[str, Actor] = {**PROS, **HOLDERS, "operator": OPERATOR}
MODES = [
    (AccessMode.NORMAL, None),
    (AccessMode.EMERGENCY, None),
    (AccessMode.EMERGENCY, WHY),
    (AccessMode.SAMU, None),
    (AccessMode.SAMU, WHY),
]
MAX_DOCS = 6
NOW = datetime(2024, 3, 14, 10, 30, tzinfo=UTC)
FRESH, STALE = timedelta(minutes=5), timedelta(minutes=6)  # one-time code age for destruction

pros = st.sampled_from(sorted(PROS))
# Half the time, someone who may open the DMP now, or someone the patient blocked: resolved by the
# model (DmpModel._resolve), so that rules often meet the people they matter for.
people = st.sampled_from(["treating", "blocked"]) | pros
picks = st.integers(0)
holders = st.sampled_from(sorted(HOLDERS))
establishments = st.sampled_from(sorted(ESTABLISHMENTS))


class DmpModel(RuleBasedStateMachine):
    """Alice's DMP: who is authorized, blocked, médecin traitant; her documents; its state."""

    def __init__(self) -> None:
        super().__init__()
        self.oracle = Oracle(RecordFacts(PATIENT.dmp_id, RecordState.ACTIVE))
        self.docs: list[DocumentFacts] = []
        self.writers: list[str] = []  # who added each document, to let them change it often

    @property
    def record(self) -> RecordFacts:
        return self.oracle.record

    def _set(self, **changes: Any) -> None:
        self.oracle = Oracle(replace(self.record, **changes))

    def _access(self, actor: Actor, mode: AccessMode = AccessMode.NORMAL) -> Access:
        return Access(actor, self.record, mode, None if mode is AccessMode.NORMAL else WHY)

    # --- creation ---------------------------------------------------------------------------

    @initialize(
        minor=st.booleans(), creator=pros, team=st.lists(pros, max_size=4), doctor=st.none() | pros
    )
    def create(self, minor: bool, creator: str, team: list[str], doctor: str | None) -> None:
        self._create(creator, existing=None, minor=minor)
        for pro in team:  # Alice then authorizes the professionals who treat her,
            self.grant_professional("patient", pro)
        if doctor:  # and designates her médecin traitant
            self.designate("patient", doctor, pick=0)

    @precondition(lambda self: self.record.state is RecordState.DESTROYED)
    @rule(creator=pros)
    def recreate(self, creator: str) -> None:
        self._create(creator, existing=RecordState.DESTROYED, minor=self.record.patient_is_minor)

    def _create(self, creator: str, existing: RecordState | None, minor: bool) -> None:
        actor = PROS[creator]
        decision = create_record(actor, existing)
        assert bool(decision) == (not Oracle.excluded(actor)), decision
        # Whoever creates it (an excluded creator is refused; Damien then does), the creator
        # is authorized, and the new DMP is empty.
        founder = actor if decision else PROS["damien"]
        self.docs, self.writers = [], []
        self.oracle = Oracle(
            RecordFacts(
                dmp_id=PATIENT.dmp_id,
                state=RecordState.ACTIVE,
                patient_account_id=PATIENT.account_id,
                representative_account_ids=frozenset({REPRESENTATIVE.account_id}),
                patient_is_minor=minor,
                authorized_professionals=frozenset({founder.professional_id}),
            )
        )

    # --- authorizations ---------------------------------------------------------------------

    @rule(who=holders, pro=people, pick=picks)
    def grant_professional(self, who: str, pro: str, pick: int = 0) -> None:
        target = PROFESSIONAL_OF[self._resolve(pro, pick)]
        decision = grant(self._access(HOLDERS[who]), target)
        expected = (
            not Oracle.excluded_person(target)
            and self.oracle.holder_may_decide(HOLDERS[who])
            and target.id not in self.record.blocked_professionals
        )
        assert bool(decision) == expected, decision
        if decision:
            self._set(authorized_professionals=self.record.authorized_professionals | {target.id})

    @rule(who=holders, key=establishments)
    def grant_establishment(self, who: str, key: str) -> None:
        target: Establishment = ESTABLISHMENTS[key]
        decision = grant(self._access(HOLDERS[who]), target)
        expected = not target.excluded and self.oracle.holder_may_decide(HOLDERS[who])
        assert bool(decision) == expected, decision
        if decision:
            self._set(authorized_establishments=self.record.authorized_establishments | {target.id})

    @rule(who=holders, pro=pros, action=st.sampled_from(["revoke", "block", "unblock"]))
    def manage_professional(self, who: str, pro: str, action: str) -> None:
        if not self._may_manage(who):
            return
        pid = PROFESSIONAL_OF[pro].id
        if action == "revoke":
            self._set(authorized_professionals=self.record.authorized_professionals - {pid})
        elif action == "block":  # the authorization stays: the block must win over it
            self._set(blocked_professionals=self.record.blocked_professionals | {pid})
        else:
            self._set(blocked_professionals=self.record.blocked_professionals - {pid})

    @rule(who=holders, key=establishments)
    def revoke_establishment(self, who: str, key: str) -> None:
        if self._may_manage(who):
            eid = ESTABLISHMENTS[key].id
            self._set(authorized_establishments=self.record.authorized_establishments - {eid})

    @rule(who=holders, emergency=st.booleans(), samu=st.booleans())
    def set_oppositions(self, who: str, emergency: bool, samu: bool) -> None:
        if self._may_manage(who):
            self._set(oppose_emergency=emergency, oppose_samu=samu)

    def _may_manage(self, who: str) -> bool:
        decision = manage_authorizations(self._access(HOLDERS[who]))
        assert bool(decision) == self.oracle.holder_may_decide(HOLDERS[who]), decision
        return bool(decision)

    @rule(pro=people, pick=picks)
    def declare(self, pro: str, pick: int) -> None:
        actor = PROS[self._resolve(pro, pick)]
        decision = declare_authorization(self._access(actor))
        assert bool(decision) == self.oracle.may_declare(actor), decision
        if decision:
            self._set(
                authorized_professionals=self.record.authorized_professionals
                | {actor.professional_id}
            )

    @rule(who=st.sampled_from(["patient", "representative", "candidate"]), pro=people, pick=picks)
    def designate(self, who: str, pro: str, pick: int) -> None:
        candidate = self._resolve(pro, pick)
        target = PROFESSIONAL_OF[candidate]
        actor = PROS[candidate] if who == "candidate" else HOLDERS[who]
        decision = designate_medecin_traitant(self._access(actor), target)
        eligible = (
            not Oracle.excluded_person(target)
            and target.profession == MEDECIN
            and target.id not in self.record.blocked_professionals
        )
        expected = eligible and self.oracle.may_designate(actor, target.id)
        assert bool(decision) == expected, decision
        if decision:
            self._set(medecin_traitant_id=target.id)

    # --- documents --------------------------------------------------------------------------

    @precondition(lambda self: len(self.docs) < MAX_DOCS)
    @rule(
        # Half the time someone who may open the DMP, so that documents pile up.
        who=st.just("treating") | st.sampled_from(sorted(PROS) + sorted(HOLDERS)),
        pick=st.integers(0),
        class_code=st.sampled_from(["10", "31", "42", PATIENT_CLASS]),
        flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    )
    def add_doc(self, who: str, pick: int, class_code: str, flags: tuple[bool, ...]) -> None:
        who = self._resolve(who, pick)
        actor = EVERYONE[who]
        masked, invisible_patient, invisible_representatives = flags
        decision = add_document(self._access(actor), class_code, invisible_patient)
        assert bool(decision) == self.oracle.may_add(actor, class_code, invisible_patient), decision
        if not decision:
            return
        pro = actor if isinstance(actor, ProfessionalActor) else None
        self.writers.append(who)
        self.docs.append(
            DocumentFacts(
                class_code=class_code,
                masked=masked,
                invisible_patient=invisible_patient,
                invisible_representatives=invisible_representatives,
                author_professional_id=pro.professional_id if pro else None,
                author_establishment_id=pro.establishment_id if pro else None,
                added_by_patient=pro is None,
            )
        )

    def _resolve(self, who: str, pick: int) -> str:
        """ "treating": one who may open the DMP now; "blocked": one the patient blocked."""
        if who == "treating":
            keys = [key for key, pro in PROS.items() if self.oracle.opens_normally(pro)]
        elif who == "blocked":
            blocked = self.record.blocked_professionals
            keys = [key for key, pro in PROS.items() if pro.professional_id in blocked]
        else:
            return who
        return keys[pick % len(keys)] if keys else CAST[pick % len(CAST)]

    @precondition(lambda self: self.docs)
    @rule(
        who=st.just("writer") | st.sampled_from(sorted(EVERYONE)),  # the writer, half the time
        index=st.integers(0),
        change=st.sampled_from(DocumentChange),
    )
    def change_doc(self, who: str, index: int, change: DocumentChange) -> None:
        position = index % len(self.docs)
        doc = self.docs[position]
        actor = EVERYONE[self.writers[position] if who == "writer" else who]
        decision = change_document(self._access(actor), doc, change, MATRIX)
        assert bool(decision) == self.oracle.may_change(actor, doc, change), decision
        if decision:
            self.docs[position] = _changed(doc, change)
            if change is DocumentChange.REPLACE:
                self.docs.append(doc)  # the new version, current
                self.writers.append(self.writers[position])

    # --- the life of the DMP ----------------------------------------------------------------

    @rule(who=st.sampled_from(sorted(PROS) + sorted(HOLDERS)))
    def close(self, who: str) -> None:
        actor = EVERYONE[who]
        if who in HOLDERS:  # the patient and the representative close with a fresh code
            actor = replace(HOLDERS[who], step_up_at=NOW - FRESH)
        decision = close_record(self._access(actor), NOW, FRESH)
        assert bool(decision) == self.oracle.may_close(actor), decision
        if decision:
            self._set(state=RecordState.CLOSED)

    @rule(pro=people, pick=picks)
    def reactivate(self, pro: str, pick: int) -> None:
        actor = PROS[self._resolve(pro, pick)]
        decision = reactivate_record(self._access(actor))
        assert bool(decision) == self.oracle.may_reactivate(actor), decision
        if decision:
            self._set(state=RecordState.ACTIVE)

    # Only a DMP with some content: destroying early would leave most runs with nothing to check.
    @precondition(lambda self: len(self.docs) >= 2)
    @rule(who=holders, fresh=st.booleans())
    def destroy_record(self, who: str, fresh: bool) -> None:
        actor = replace(HOLDERS[who], step_up_at=NOW - (FRESH if fresh else STALE))
        decision = destroy(self._access(actor), NOW, FRESH)
        assert bool(decision) == (fresh and self.oracle.holder_opens(actor)), decision
        if decision:
            self._set(state=RecordState.DESTROYED)

    # --- what must always hold ----------------------------------------------------------------

    @invariant()
    def every_question_gets_the_right_answer(self) -> None:
        for actor in EVERYONE.values():
            for mode, why in MODES:
                access = Access(actor, self.record, mode, why)
                opened = bool(open_record(access))
                assert opened == self.oracle.opens(actor, mode, why), (actor, mode, opened)
                self._never_opens_wrongly(actor, mode, why, opened)
                if not opened and why is None and mode is not AccessMode.NORMAL:
                    continue  # unjustified and refused: nothing to read (READ_DOCUMENT shows it)
                for doc in self.docs:
                    read = bool(read_document(access, doc, MATRIX))
                    assert read == self.oracle.reads(actor, mode, why, doc), (actor, mode, doc)
                    self._never_reads_wrongly(actor, mode, doc, read, opened)
                if opened and mode is not AccessMode.NORMAL:
                    self._emergency_only_reads(access)

    def _never_opens_wrongly(
        self, actor: Actor, mode: AccessMode, why: str | None, opened: bool
    ) -> None:
        """What must never happen, stated one by one (the oracle says the same, all at once)."""
        record = self.record
        if not opened:
            return
        assert record.state is not RecordState.DESTROYED, "a destroyed DMP was opened"
        assert not isinstance(actor, SystemActor), "the operator opened a DMP"
        if not isinstance(actor, ProfessionalActor):
            assert mode is AccessMode.NORMAL, "a patient used an emergency mode"
            return
        assert not Oracle.excluded(actor), "an excluded actor got in"
        assert actor.professional_id not in record.blocked_professionals, "a blocked one got in"
        assert record.state is RecordState.ACTIVE, "a professional opened a closed DMP"
        if mode is not AccessMode.NORMAL:
            assert (why or "").strip(), "an emergency access without justification"
        assert not (mode is AccessMode.EMERGENCY and record.oppose_emergency), "bris de glace"
        assert not (mode is AccessMode.SAMU and record.oppose_samu), "SAMU access opposed"

    def _never_reads_wrongly(
        self, actor: Actor, mode: AccessMode, doc: DocumentFacts, read: bool, opened: bool
    ) -> None:
        if not read:
            return
        assert opened, "a document read in a DMP that does not open"
        assert doc.status is not DocStatus.DELETED, "a deleted document was read"
        if isinstance(actor, PatientActor | RepresentativeActor):
            assert not doc.invisible_patient, "read before the announcement consultation"
        if isinstance(actor, RepresentativeActor):
            assert not doc.invisible_representatives, "read by a legal representative"
        if isinstance(actor, ProfessionalActor) and doc.masked:
            medecin_traitant = actor.professional_id == self.record.medecin_traitant_id
            allowed = Oracle.authored(actor, doc) or (
                mode is AccessMode.NORMAL and medecin_traitant
            )
            assert allowed, "a masked document read by someone other than author or MT"

    def _emergency_only_reads(self, access: Access) -> None:
        assert not add_document(access, "10"), "a document added in an emergency mode"
        assert not close_record(access, NOW, FRESH), "a DMP closed in an emergency mode"
        for doc in self.docs:
            changed = change_document(access, doc, DocumentChange.MASK, MATRIX)
            assert not changed, "changed in emergency"


# What each allowed change does to the document (REPLACE: the old version is superseded).
_EFFECTS: dict[DocumentChange, dict[str, Any]] = {
    DocumentChange.MASK: {"masked": True},
    DocumentChange.UNMASK: {"masked": False},
    DocumentChange.HIDE_FROM_PATIENT: {"invisible_patient": True},
    DocumentChange.REVEAL: {"invisible_patient": False},
    DocumentChange.ARCHIVE: {"status": DocStatus.ARCHIVED},
    DocumentChange.UNARCHIVE: {"status": DocStatus.CURRENT},
    DocumentChange.DELETE: {"status": DocStatus.DELETED},
    DocumentChange.REPLACE: {"status": DocStatus.SUPERSEDED},
}


def _changed(doc: DocumentFacts, change: DocumentChange) -> DocumentFacts:
    return replace(doc, **_EFFECTS[change])


DmpModel.TestCase.settings = settings(
    max_examples=100, stateful_step_count=40, deadline=None, database=None
)
TestDmpModel = DmpModel.TestCase

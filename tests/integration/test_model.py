"""A Hypothesis state machine drives a real DMP through the services (SQLite) and checks, after
every step, what each persona sees against a small model of SPEC §3 written independently."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from uuid import UUID

from argon2 import PasswordHasher
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from dmp.adapters.crypto import generate_master_key_spec
from dmp.adapters.db.engine import make_engine
from dmp.adapters.db.migrate import upgrade
from dmp.bootstrap import build
from dmp.domain.model import AccessMode, DocStatus
from dmp.errors import DmpError, Forbidden, NotFound
from dmp.policy import DocumentChange
from dmp.services import authorizations as auth
from dmp.services import records
from dmp.services.audit import AuditSigner
from dmp.services.documents import DocumentQuery, Reading, find_documents
from dmp.services.submission import change_document, submit_documents
from dmp.settings import DeliverySettings, Settings
from tests.conftest import FakeClock
from tests.factories import pdf_submission
from tests.personas import ALICE_INS, consent, fresh, populate

PROS = ("bruno", "chloe", "damien", "pauline", "hugo", "elise")
MEDECINS = {"bruno", "damien", "hugo", "elise"}
READS = {  # the default profession matrix, for the classes used here
    "10": {"10", "31", "42"},
    "60": {"10", "42"},
    "21": {"42"},
}
PROFESSION = {
    "bruno": "10",
    "chloe": "60",
    "damien": "10",
    "pauline": "21",
    "hugo": "10",
    "elise": "10",
}
TYPES = {"11488-4": "10", "18748-4": "31", "57833-6": "42"}


@dataclass
class Doc:
    klass: str
    author: str
    masked: bool
    hidden_from_patient: bool
    status: DocStatus = DocStatus.CURRENT


@dataclass
class Model:
    authorized: set[str] = field(default_factory=lambda: {"bruno", "chloe", "pauline"})
    chu_authorized: bool = False
    blocked: set[str] = field(default_factory=set)
    mt: str | None = "bruno"
    closed: bool = False
    oppose_emergency: bool = False
    docs: dict[UUID, Doc] = field(default_factory=dict)

    def opens(self, pro: str, mode: AccessMode) -> bool:
        if pro == "elise" or pro in self.blocked or self.closed:
            return False
        if mode is AccessMode.EMERGENCY:
            return not self.oppose_emergency
        return pro == self.mt or pro in self.authorized or (pro == "hugo" and self.chu_authorized)

    def sees(self, pro: str, mode: AccessMode) -> set[UUID] | None:
        if not self.opens(pro, mode):
            return None
        seen = set()
        for doc_id, d in self.docs.items():
            if d.status is DocStatus.DELETED:
                continue
            if (
                d.author == pro
                or (mode is AccessMode.NORMAL and pro == self.mt)
                or (not d.masked and d.klass in READS[PROFESSION[pro]])
            ):
                seen.add(doc_id)
        return seen

    def patient_sees(self) -> set[UUID]:
        return {
            i
            for i, d in self.docs.items()
            if d.status is not DocStatus.DELETED and not d.hidden_from_patient
        }


def _context(folder: Path):
    db = folder / "dmp.sqlite3"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    engine.dispose()
    ctx = build(
        Settings(
            data_dir=folder / "data",
            database_url=f"sqlite:///{db}",
            keystore_url=f"sqlite:///{folder / 'keys.sqlite3'}",
            blob_dir=folder / "blobs",
            master_keys=generate_master_key_spec("m"),
            audit_signing_key=AuditSigner.generate(),
            delivery=DeliverySettings(enabled=False),
        ),
        clock=FakeClock(),
    )
    ctx.password_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return ctx


class DmpMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="dmp-model-"))
        self.ctx = _context(self.folder)
        self.cast = populate(self.ctx)
        self.actors = {name: getattr(self.cast, name) for name in PROS}
        self.model = Model()

    def teardown(self) -> None:
        self.ctx.engine.dispose()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _pro(self, name: str):
        return self.cast.professionals[name]

    def _try(self, action) -> bool:
        try:
            action()
        except DmpError:
            return False
        return True

    @rule(pro=st.sampled_from(PROS))
    def authorize(self, pro):
        done = self._try(
            lambda: auth.authorize(self.ctx, self.cast.alice, self.cast.alice_dmp, self._pro(pro))
        )
        expected = pro != "elise" and pro not in self.model.blocked and not self.model.closed
        assert done == expected
        if done:
            self.model.authorized.add(pro)

    @rule()
    def authorize_chu(self):
        if self._try(
            lambda: auth.authorize(self.ctx, self.cast.alice, self.cast.alice_dmp, self.cast.chu)
        ):
            self.model.chu_authorized = True
        else:
            assert self.model.closed

    @rule(pro=st.sampled_from(PROS))
    def revoke(self, pro):
        pid = self._pro(pro).id
        done = self._try(
            lambda: auth.revoke(self.ctx, self.cast.alice, self.cast.alice_dmp, "professional", pid)
        )
        assert done == (pro in self.model.authorized and not self.model.closed)
        self.model.authorized.discard(pro) if done else None

    @rule(pro=st.sampled_from(PROS), blocking=st.booleans())
    def block(self, pro, blocking):
        pid, alice, dmp = self._pro(pro).id, self.cast.alice, self.cast.alice_dmp
        if blocking:
            done = self._try(lambda: auth.block(self.ctx, alice, dmp, pid))
            if done:
                self.model.blocked.add(pro)
                self.model.authorized.discard(pro)
                self.model.mt = None if self.model.mt == pro else self.model.mt
        else:
            done = self._try(lambda: auth.unblock(self.ctx, alice, dmp, pid))
            self.model.blocked.discard(pro) if done else None
        assert done or self.model.closed or (not blocking and pro not in self.model.blocked)

    @rule(pro=st.sampled_from(PROS))
    def designate(self, pro):
        done = self._try(
            lambda: auth.designate_medecin_traitant(
                self.ctx, self.cast.alice, self.cast.alice_dmp, self._pro(pro).id
            )
        )
        allowed = (
            pro in MEDECINS
            and pro != "elise"
            and pro not in self.model.blocked
            and not self.model.closed
        )
        assert done == allowed
        if done:
            self.model.mt = pro

    @rule(pro=st.sampled_from(PROS))
    def declare_medecin_traitant(self, pro):
        """A médecin declares himself médecin traitant at the point of care: only while the
        patient has none (replacing one is the patient's act alone)."""
        done = self._try(
            lambda: auth.designate_medecin_traitant(
                self.ctx, self.actors[pro], self.cast.alice_dmp, self._pro(pro).id
            )
        )
        allowed = (
            pro in MEDECINS
            and self.model.opens(pro, AccessMode.NORMAL)
            and self.model.mt in (None, pro)
        )
        assert done == allowed
        if done:
            self.model.mt = pro

    @rule(data=st.data(), masked=st.booleans())
    def author_replaces(self, data, masked):
        """A new version keeps the patient's mask, whatever its author declares."""
        if not self.model.docs:
            return
        old_id = data.draw(st.sampled_from(sorted(self.model.docs)))
        old = self.model.docs[old_id]
        submission = replace(pdf_submission(masked=masked), replaces_id=old_id)
        docs = []
        done = self._try(
            lambda: docs.extend(
                submit_documents(
                    self.ctx, self.actors[old.author], self.cast.alice_dmp, [submission]
                )
            )
        )
        current = old.status is DocStatus.CURRENT
        assert done == (self.model.opens(old.author, AccessMode.NORMAL) and current)
        if done:
            old.status = DocStatus.SUPERSEDED
            new = Doc("10", old.author, masked or old.masked, False)  # a 11488-4 report
            self.model.docs[docs[0].id] = new

    @rule(
        pro=st.sampled_from(PROS),
        type_code=st.sampled_from(sorted(TYPES)),
        masked=st.booleans(),
        hidden=st.booleans(),
    )
    def add(self, pro, type_code, masked, hidden):
        docs = []
        done = self._try(
            lambda: docs.extend(
                submit_documents(
                    self.ctx,
                    self.actors[pro],
                    self.cast.alice_dmp,
                    [pdf_submission(type_code=type_code, masked=masked, invisible_patient=hidden)],
                )
            )
        )
        assert done == self.model.opens(pro, AccessMode.NORMAL)
        if done:
            self.model.docs[docs[0].id] = Doc(TYPES[type_code], pro, masked, hidden)

    @rule(data=st.data(), mask=st.booleans())
    def patient_masks(self, data, mask):
        if not self.model.docs:
            return
        doc_id = data.draw(st.sampled_from(sorted(self.model.docs)))
        change = DocumentChange.MASK if mask else DocumentChange.UNMASK
        done = self._try(
            lambda: change_document(self.ctx, self.cast.alice, self.cast.alice_dmp, doc_id, change)
        )
        d = self.model.docs[doc_id]
        visible = d.status is not DocStatus.DELETED and not d.hidden_from_patient
        assert done == (visible and not self.model.closed)
        if done:
            d.masked = mask

    @rule(data=st.data())
    def author_deletes(self, data):
        if not self.model.docs:
            return
        doc_id = data.draw(st.sampled_from(sorted(self.model.docs)))
        d = self.model.docs[doc_id]
        done = self._try(
            lambda: change_document(
                self.ctx, self.actors[d.author], self.cast.alice_dmp, doc_id, DocumentChange.DELETE
            )
        )
        expected = self.model.opens(d.author, AccessMode.NORMAL) and d.status is DocStatus.CURRENT
        assert done == expected
        if done:
            d.status = DocStatus.DELETED

    @rule(oppose=st.booleans())
    def oppositions(self, oppose):
        if self._try(
            lambda: auth.set_oppositions(
                self.ctx, self.cast.alice, self.cast.alice_dmp, emergency=oppose
            )
        ):
            self.model.oppose_emergency = oppose

    @rule()
    def close(self):
        done = self._try(
            lambda: records.close_record(
                self.ctx, fresh(self.ctx, self.cast.alice), self.cast.alice_dmp, "Choix personnel"
            )
        )
        assert done != self.model.closed
        self.model.closed = True

    @rule()
    def reactivate(self):
        done = self._try(
            lambda: records.reactivate_record(
                self.ctx, self.cast.damien, ALICE_INS, consent(self.ctx)
            )
        )
        allowed = self.model.closed and "damien" not in self.model.blocked
        assert done == allowed
        if done:
            self.model.closed = False
            self.model.authorized.add("damien")  # the reactivating professional

    def _seen(self, reading) -> set[UUID] | None:
        query = DocumentQuery(statuses=frozenset(DocStatus))
        try:
            return {d.id for d in find_documents(self.ctx, reading, self.cast.alice_dmp, query)}
        except (NotFound, Forbidden):  # the law's refusal is told, every other one is hidden
            return None

    @invariant()
    def everyone_sees_what_the_model_says(self):
        for pro in PROS:
            assert self._seen(Reading(self.actors[pro])) == self.model.sees(
                pro, AccessMode.NORMAL
            ), pro
        emergency = Reading(self.actors["damien"], AccessMode.EMERGENCY, "Inconsciente")
        assert self._seen(emergency) == self.model.sees("damien", AccessMode.EMERGENCY)
        assert self._seen(Reading(self.cast.alice)) == self.model.patient_sees()


DmpMachine.TestCase.settings = settings(
    max_examples=8,
    stateful_step_count=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
test_services_follow_the_model = DmpMachine.TestCase

"""One synthetic patient: their account, DMP, care team, documents (with keys and, for the sampled
patients, encrypted contents) and their audit chain, as rows ready to load."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from benchmarks.content import make_content
from benchmarks.synth import (
    ABSENT_SHA256,
    DOC_MIX,
    INS_SYSTEM,
    MEDIA,
    Crypto,
    DocType,
    Event,
    Pro,
    Rows,
    chain_rows,
    draw_count,
    draw_size,
    patient_actor,
    patient_rng,
    random_moment,
    sealed_identity,
    sha256_hex,
    unique_ins,
    unique_login,
    uuid_from,
)
from dmp.adapters.fieldcipher import FieldCipher
from dmp.demo.identities import fake_person
from dmp.domain.model import PatientIdentity
from dmp.domain.valuesets import load_valuesets
from dmp.services.documents import content_aad

HISTORY_PATIENT = 0  # patient 0 has the long audit chain of the history scenario
_WEIGHTS = [t.weight for t in DOC_MIX]


@dataclass(frozen=True)
class Plan:
    """What to generate, beyond the number of patients."""

    seed: int
    docs_per_patient: float
    sample_every: int  # every n-th patient gets real encrypted contents (0: none)
    audit_extra: float  # mean number of extra read events per patient
    history_entries: int  # length of patient 0's audit chain (0: no special chain)
    now: datetime
    password_hash: str
    brochure_version: str

    def sampled(self, index: int) -> bool:
        return self.sample_every > 0 and index % self.sample_every == 0


@dataclass
class _Patient:
    """What the rows of one patient share while they are being built."""

    index: int
    rng: random.Random
    dmp_id: UUID
    account_id: UUID
    cipher: FieldCipher
    created_at: datetime
    team: list[Pro]
    mt: Pro | None
    events: list[Any]
    rows: Rows


class PatientFactory:
    def __init__(self, plan: Plan, crypto: Crypto, pros: list[Pro], gps: list[int]) -> None:
        self.plan, self.crypto, self.pros, self.gps = plan, crypto, pros, gps
        types = load_valuesets().types
        self._class_of = {code: t.class_code for code, t in types.items()}
        self._display = {code: t.coding.display for code, t in types.items()}

    def rows(self, index: int) -> Rows:
        p = self._start(index)
        self._record(p)
        self._team(p)
        self._documents(p)
        self._reads(p)
        entries, head = chain_rows(self.crypto, p.dmp_id, p.events)
        p.rows.tables["audit_entries"] = entries
        p.rows.add("audit_heads", head)
        return p.rows

    # --- steps ----------------------------------------------------------------------------------

    def _start(self, index: int) -> _Patient:
        rng = patient_rng(self.plan.seed, index)
        dmp_id, account_id = uuid_from(rng), uuid_from(rng)
        created_at = self.plan.now - timedelta(days=rng.uniform(30, 3650))
        data_key = self.crypto.keyring.new_data_key()
        rows = Rows()
        rows.keys.append(self.crypto.key_row(dmp_id, data_key, created_at))
        mt = self.pros[rng.choice(self.gps)] if rng.random() < 0.85 or index == 0 else None
        cipher = FieldCipher(dmp_id, data_key)
        return _Patient(index, rng, dmp_id, account_id, cipher, created_at, [], mt, [], rows)

    def _record(self, p: _Patient) -> None:
        person = fake_person(p.rng, today=self.plan.now.date())
        identity = PatientIdentity(
            person.family_name, person.given_names, person.birth_date, person.gender
        )
        creator = p.mt or self.pros[p.rng.randrange(len(self.pros))]
        ins = unique_ins(p.index, person.birth_date, person.gender)
        p.rows.ins[p.dmp_id] = ins
        p.rows.add("accounts", self._account(p, person.email, person.phone))
        p.rows.add(
            "records",
            {
                "dmp_id": p.dmp_id,
                "ins_index": self.crypto.index.ins(ins),
                "ins_enc": p.cipher.seal("ins", "record", ins),
                "ins_system": INS_SYSTEM,
                "state": "active",
                "identity_enc": sealed_identity(p.cipher, identity),
                "patient_account_id": p.account_id,
                "medecin_traitant_id": p.mt.id if p.mt else None,
                "oppose_emergency": p.rng.random() < 0.02,
                "oppose_samu": p.rng.random() < 0.01,
                "created_at": p.created_at,
                "created_by": creator.id,
                "closed_at": None,
                "closure_reason_enc": None,
            },
        )
        p.rows.add(
            "consents",
            {
                "dmp_id": p.dmp_id,
                "id": uuid_from(p.rng),
                "kind": "creation",
                "professional_id": creator.id,
                "establishment_id": creator.establishment_id,
                "brochure_version": self.plan.brochure_version,
                "collected_at": p.created_at,
            },
        )
        p.team.append(creator)
        p.events.append(
            Event(p.created_at, creator.actor(), "record.create", "create", "record", p.dmp_id)
        )

    def _account(self, p: _Patient, email: str, phone: str) -> dict[str, Any]:
        """The patient's account, its contact channels sealed under its own key."""
        account_key = self.crypto.keyring.new_data_key()
        p.rows.keys.append(self.crypto.key_row(p.account_id, account_key, p.created_at))
        cipher = FieldCipher(p.account_id, account_key)
        return {
            "id": p.account_id,
            "login": unique_login(p.index),
            "password_hash": self.plan.password_hash,
            "must_change_password": p.rng.random() < 0.3,
            "kind": "patient",
            "email_enc": cipher.seal("email", "account", email),
            "phone_enc": cipher.seal("phone", "account", phone),
            "notify_email": True,
            "notify_sms": True,
            "created_at": p.created_at,
        }

    def _team(self, p: _Patient) -> None:
        """The creator (authorized as such), the médecin traitant, and 0-4 declared others."""
        creator = p.team[0]
        self._authorize(p, creator, "creator", p.created_at)
        if p.mt is not None and p.mt != creator:
            self._authorize(p, p.mt, "declared", p.created_at + timedelta(minutes=5))
            p.team.append(p.mt)
        if p.mt is not None:
            at = p.created_at + timedelta(minutes=10)
            patient = patient_actor(p.account_id, p.dmp_id)
            p.events.append(
                Event(at, patient, "medecin-traitant.designate", "holder", "professional", p.mt.id)
            )
        for _ in range(p.rng.randint(0, 4)):
            pro = self.pros[p.rng.randrange(len(self.pros))]
            if pro not in p.team:
                self._authorize(p, pro, "declared", random_moment(p.rng, p.created_at, self._end))
                p.team.append(pro)
        for pro in p.team:
            p.rows.add(
                "accessors",
                {
                    "dmp_id": p.dmp_id,
                    "professional_id": pro.id,
                    "first_access_at": p.created_at + timedelta(minutes=15),
                    "last_emergency_notice_at": None,
                },
            )

    def _authorize(self, p: _Patient, pro: Pro, source: str, at: datetime) -> None:
        p.rows.add(
            "authorizations",
            {
                "dmp_id": p.dmp_id,
                "subject_kind": "professional",
                "subject_id": pro.id,
                "source": source,
                "granted_at": at,
            },
        )
        if source == "declared":
            p.events.append(
                Event(
                    at, pro.actor(), "authorization.declare", "authorized", "professional", pro.id
                )
            )

    @property
    def _end(self) -> datetime:
        return self.plan.now - timedelta(minutes=5)

    def _documents(self, p: _Patient) -> None:
        count = draw_count(p.rng, self.plan.docs_per_patient)
        moments = sorted(random_moment(p.rng, p.created_at, self._end) for _ in range(count))
        previous: dict[str, Any] | None = None
        for submitted_at in moments:
            kind = p.rng.choices(DOC_MIX, _WEIGHTS)[0]
            replaces = previous if previous and p.rng.random() < 0.03 else None
            if replaces is not None:
                kind = next(t for t in DOC_MIX if t.code == replaces["type_code"])
            previous = self._document(p, kind, submitted_at, replaces)

    def _document(
        self, p: _Patient, kind: DocType, at: datetime, replaces: dict[str, Any] | None
    ) -> dict[str, Any]:
        rng, doc_id = p.rng, uuid_from(p.rng)
        data_key = self.crypto.keyring.new_data_key()
        p.rows.keys.append(self.crypto.key_row(doc_id, data_key, at, group=p.dmp_id))
        author = None if kind.profession == "patient" else self._author(p, kind)
        doc = self._document_row(p, kind, doc_id, data_key, at, author)
        if replaces is not None:
            replaces.update(status="superseded", replaced_by_id=doc_id, updated_at=at)
            doc.update(
                logical_id=replaces["logical_id"],
                version=replaces["version"] + 1,
                replaces_id=replaces["id"],
            )
        p.rows.add("documents", doc)
        p.rows.add("document_contents", self._content(p, kind, doc_id, data_key))
        actor = author.actor() if author else patient_actor(p.account_id, p.dmp_id)
        action = "document.replace" if replaces else "document.add"
        p.events.append(Event(at, actor, action, "stored", "document", doc_id))
        if rng.random() < 0.03 and replaces is None:
            doc["status"] = "archived"
        return doc

    def _author(self, p: _Patient, kind: DocType) -> Pro:
        fitting = [pro for pro in p.team if pro.profession == (kind.profession or "10")]
        return p.rng.choice(fitting or p.team)

    def _document_row(
        self,
        p: _Patient,
        kind: DocType,
        doc_id: UUID,
        data_key: bytes,
        at: datetime,
        author: Pro | None,
    ) -> dict[str, Any]:
        rng, media = p.rng, MEDIA[kind.media]
        cipher = FieldCipher(p.dmp_id, data_key)
        created = at - timedelta(hours=rng.uniform(0, 72))
        title = f"{self._display[kind.code]} du {created:%d/%m/%Y}" + (
            f" - {author.display}" if author else ""
        )
        comment = "Document transmis pour information." if rng.random() < 0.1 else None
        invisible = author is not None and rng.random() < 0.02
        return {
            "dmp_id": p.dmp_id,
            "id": doc_id,
            "logical_id": uuid_from(rng),
            "version": 1,
            "master_identifier": f"urn:uuid:{uuid_from(rng)}",
            "status": "current",
            "type_code": kind.code,
            "class_code": self._class_of[kind.code],
            "format_code": media[1],
            "confidentiality": rng.choices("NRV", (90, 8, 2))[0],
            "language": "fr-FR",
            "title_enc": cipher.seal("title", doc_id, title),
            "comments_enc": cipher.seal_optional("comments", doc_id, comment),
            "author_professional_id": author.id if author else None,
            "author_establishment_id": author.establishment_id if author else None,
            "author_role": author.profession if author else "patient",
            "added_by_patient": author is None,
            "creation_time": created,
            "submitted_at": at,
            "service_start": created - timedelta(hours=1),
            "service_stop": created,
            "practice_setting": None,
            "facility_type": None,
            "masked": author is not None and rng.random() < 0.05,
            "invisible_patient": invisible,
            "invisible_representatives": False,
            "hidden_since": at if invisible else None,
            "hidden_notice_at": None,
            "replaces_id": None,
            "replaced_by_id": None,
            "updated_at": at,
            "meta_version": 1,
            "submission_set_id": uuid_from(rng),  # one document a Bundle
        }

    def _content(self, p: _Patient, kind: DocType, doc_id: UUID, data_key: bytes) -> dict[str, Any]:
        mime = MEDIA[kind.media][0]
        size, sha = draw_size(p.rng, kind.media), ABSENT_SHA256
        blob_key = f"{p.dmp_id}/{doc_id}-0"  # the service's naming (submission._store_contents)
        if self.plan.sampled(p.index):
            data = make_content(p.rng, kind.media, size)
            size, sha = len(data), sha256_hex(data)
            p.rows.blobs.append((blob_key, data_key, content_aad(p.dmp_id, doc_id, 0), data))
        return {
            "dmp_id": p.dmp_id,
            "document_id": doc_id,
            "position": 0,
            "mime_type": mime,
            "size": size,
            "sha256": sha,
            "blob_key": blob_key,
        }

    def _reads(self, p: _Patient) -> None:
        """Past consultations by the care team, and the patient reading their history."""
        rng, patient = p.rng, patient_actor(p.account_id, p.dmp_id)
        count = rng.randint(0, 4)
        if self.plan.audit_extra:
            count += round(rng.expovariate(1 / self.plan.audit_extra))
        if p.index == HISTORY_PATIENT and self.plan.history_entries:
            count = max(0, self.plan.history_entries - len(p.events))
        for n in range(count):
            at = random_moment(rng, p.created_at, self._end)
            if n % 5 == 4:
                p.events.append(Event(at, patient, "history.read", "holder", "record", p.dmp_id))
                continue
            pro = rng.choice(p.team)
            if n % 2:
                p.events.append(
                    Event(at, pro.actor(), "document.search", "3 résultat(s)", "record", p.dmp_id)
                )
            else:
                p.events.append(Event(at, pro.actor(), "document.read", "metadata", "record"))

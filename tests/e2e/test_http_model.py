"""A Hypothesis state machine drives a served app over HTTP — the professionals through the FHIR
API, the patient through the portal — and checks after every step, against a model of SPEC §3
written apart from the code, what each actor may list (search results, ``total``, paging) and
read (the resource, its content, hash-identical), and that the patient's history tells every
access and every refused attempt.

Each example is a new patient: a médecin creates the DMP over the API, the patient logs in to
the portal with the temporary password and the code from the e-mail. The patient may be a minor
(drawn), whose parent logs in with their own account: the parent lists what the minor lists but
the documents kept from the legal representatives. The patient may destroy the whole DMP; a new
DMP for the same INS then brings nothing of it back. A short run is in every ``make test``;
``DMP_MODEL_STEPS`` asks for a long run (``.ci/run``: 10 000 steps, on PostgreSQL), in shards of
about 500 steps that the test workers share.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from uuid import UUID

import httpx
import hypothesis
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from dmp.domain.identifiers import INS_NIR_SYSTEM
from dmp.domain.model import AccessMode, DocStatus
from dmp.entrypoints.fhir import ids
from dmp.entrypoints.fhir.extensions import DOCUMENT_ARCHIVED
from dmp.services.directory import issue_token
from tests.e2e.fhir import FLAGS, Api, ins_token, parameters, provide_bundle, refused_search
from tests.e2e.portal import STRONG, Browser
from tests.integration.mail import Inbox
from tests.personas import Cast, ins

PROS = ("bruno", "chloe", "damien", "pauline", "hugo", "samuel")
PROFESSION = {  # tests/personas.py
    "bruno": "10",
    "chloe": "60",
    "damien": "10",
    "pauline": "21",
    "hugo": "10",
    "samuel": "10",
}
MEDECINS = {pro for pro, profession in PROFESSION.items() if profession == "10"}
READS = {  # the default profession matrix, for the classes used here
    "10": {"10", "31", "42"},
    "60": {"10", "42"},
    "21": {"42"},
}
TYPES = {"11488-4": "10", "18748-4": "31", "57833-6": "42"}  # LOINC type → class
WHY = "Patiente inconsciente aux urgences"
MODES = {
    AccessMode.EMERGENCY: {"X-DMP-Access-Mode": "emergency", "X-DMP-Justification": WHY},
    AccessMode.SAMU: {"X-DMP-Access-Mode": "samu", "X-DMP-Justification": WHY},
}
EVERY_LISTED_STATUS = "current,superseded"
STEPS = int(os.environ.get("DMP_MODEL_STEPS", "0"))
_numbers = itertools.count(1)


# --- the model: SPEC §3, for one DMP ------------------------------------------------------------


@dataclass
class Doc:
    klass: str
    author: str
    masked: bool
    hidden: bool  # from the patient, until the announcement consultation
    digest: str
    secret: bool = False  # a minor's, kept from the legal representatives
    status: DocStatus = DocStatus.CURRENT


@dataclass
class Model:
    creator: str
    authorized: set[str] = field(default_factory=set)
    chu_authorized: bool = False
    blocked: set[str] = field(default_factory=set)
    mt: str | None = None
    closed: bool = False
    destroyed: bool = False  # by the patient, whole: nothing of it opens again
    oppose_emergency: bool = False
    oppose_samu: bool = False
    docs: dict[UUID, Doc] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.authorized.add(self.creator)  # who creates the DMP is authorized

    def opens(self, pro: str, mode: AccessMode = AccessMode.NORMAL) -> bool:
        if pro in self.blocked or self.closed or self.destroyed:
            return False
        if mode is AccessMode.EMERGENCY:
            return not self.oppose_emergency
        if mode is AccessMode.SAMU:
            return pro == "samuel" and not self.oppose_samu
        return pro == self.mt or pro in self.authorized or (pro == "hugo" and self.chu_authorized)

    def reads(self, pro: str, doc: Doc, mode: AccessMode = AccessMode.NORMAL) -> bool:
        if doc.status is DocStatus.DELETED or not self.opens(pro, mode):
            return False
        return (
            doc.author == pro
            or (mode is AccessMode.NORMAL and pro == self.mt)
            or (not doc.masked and doc.klass in READS[PROFESSION[pro]])
        )

    def sees(self, pro: str, mode: AccessMode = AccessMode.NORMAL) -> set[UUID] | None:
        if not self.opens(pro, mode):
            return None
        return {i for i, d in self.docs.items() if self.reads(pro, d, mode)}

    def patient_reads(self, doc: Doc) -> bool:
        return doc.status is not DocStatus.DELETED and not doc.hidden

    def representative_lists(self) -> set[UUID]:
        """A minor's legal representative lists what the minor lists but the secret ones."""
        return {i for i in self.patient_lists() if not self.docs[i].secret}

    def patient_lists(self) -> set[UUID]:
        """The portal lists the current and archived documents the patient may read."""
        listed = (DocStatus.CURRENT, DocStatus.ARCHIVED)
        return {i for i, d in self.docs.items() if d.status in listed and self.patient_reads(d)}


# --- the actors over HTTP ------------------------------------------------------------------------


@dataclass
class World:
    """What every example shares: the served app, the professionals' tokens, the mailbox."""

    api: Api
    server: str
    cast: Cast
    mailbox: Inbox
    brochure: str
    page: int = 3  # small pages, so that paging is walked
    counts: dict[str, int] = field(default_factory=dict)

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def code_sent_to(self, email: str) -> str:
        for message in reversed(self.mailbox.received):
            if email in message.rcpt_tos:
                found = re.search(r"\b([0-9]{6})\b", message.body)
                if found:
                    return found.group(1)
        raise AssertionError(f"no code was sent to {email}")


LIST_LINK = re.compile(r'href="/documents/([0-9a-f-]{36})"')


class Patient:
    """The patient at the portal: a browser signed in, with a fresh code entered."""

    def __init__(self, world: World, login: str, password: str, email: str) -> None:
        self.world, self.email = world, email
        self.browser = Browser(world.server)
        b = self.browser
        b.get("/connexion")
        sent = b.post(
            "/connexion", {"identifiant": login, "mot_de_passe": password, "canal": "email"}
        )
        b.follow(sent)
        done = b.post("/connexion/code", {"code": world.code_sent_to(email)})
        assert done.headers["location"] == "/connexion/nouveau-mot-de-passe", done.text
        b.follow(done)
        chosen = b.post(
            "/connexion/nouveau-mot-de-passe", {"mot_de_passe": STRONG, "confirmation": STRONG}
        )
        assert chosen.status_code == 303, chosen.text
        b.follow(chosen)
        # What cannot be undone asks a fresh code (the tests' clock stands still: it stays fresh).
        then = "/tableau-de-bord"
        b.get(f"/confirmer?suite={then}")
        b.post("/confirmer/envoi", {"canal": "email", "suite": then})
        b.get(f"/confirmer?suite={then}")
        confirmed = b.post("/confirmer", {"code": world.code_sent_to(email), "suite": then})
        assert confirmed.status_code == 303, confirmed.text
        b.get("/autorisations")
        self.csrf = b.csrf()

    def close(self) -> None:
        self.browser.close()

    def act(self, url: str, **fields: str | list[str]) -> bool:
        """Post a form; True when it was done (the 303 back to a list), False when refused with
        a French page (never a 5xx)."""
        response = self.browser.client.post(url, data={"csrf": self.csrf, **fields})
        assert response.status_code < 500, response.text
        if response.status_code == 303:
            return True
        assert response.status_code in (400, 403, 404, 409), (url, response.status_code)
        assert 'lang="fr"' in response.text, response.text[:300]  # a French page
        return False

    def listed(self) -> list[str]:
        """Every document of the portal's list, page after page."""
        found: list[str] = []
        for number in itertools.count(1):
            page = self.browser.get(f"/documents?page={number}")
            assert page.status_code == 200, page.text
            found += list(dict.fromkeys(LIST_LINK.findall(page.text)))
            if f"page={number + 1}" not in page.text:
                return found
        raise AssertionError("unreachable")

    def newest_entries(self) -> list[tuple[bool, str]]:
        """The newest entries of the history: (allowed, sentence)."""
        page = self.browser.get("/historique")
        assert page.status_code == 200, page.text
        listed = re.search(r'<ol class="history">(.*?)</ol>', page.text, re.S)
        assert listed is not None, page.text
        entries = []
        for match in re.finditer(r"<li( class=\"refused\")?>(.*?)</li>", listed.group(1), re.S):
            entries.append((match.group(1) is None, unescape(match.group(2)).strip()))
        return entries


# --- the machine ---------------------------------------------------------------------------------


def _credentials(created: dict[str, Any], name: str) -> dict[str, str]:
    """The login and temporary password ``$dmp-create`` answered under ``name``."""
    [found] = [p for p in created["parameter"] if p["name"] == name]
    return {part["name"]: part["valueString"] for part in found["part"]}


def _patient_signed_in(machine: HttpModel) -> bool:
    """The patient acts until they destroy the DMP, and their account with it."""
    return not machine.model.destroyed


def counted(step: Any) -> Any:
    """Count the steps of each rule, for the figures the test prints."""

    def run(self: HttpModel, **kwargs: Any) -> None:
        self.world.count(step.__name__)
        step(self, **kwargs)

    run.__name__ = step.__name__
    return run


class HttpModel(RuleBasedStateMachine):
    world: World  # set by each run (``_run``)

    def __init__(self) -> None:
        super().__init__()
        number = next(_numbers)
        self.ins = ins(f"1790575{number:06d}")
        self.email = f"patient{number}@example.org"
        self.parent_email = f"parent{number}@example.org"
        self.parent: Patient | None = None
        self.gone: dict[str, Doc] = {}  # the documents of a destroyed DMP, by FHIR id

    @initialize(minor=st.booleans())
    def begin(self, minor: bool) -> None:
        """The patient is an adult, or a minor with a parent who logs in with their own account.
        Drawn, not taken from a counter: Hypothesis replays a case with the same draws only if
        nothing outside them decides what happens."""
        self.minor = minor
        self.world.count("minors" if minor else "adults")
        self._create()

    def _create(self) -> None:
        """A médecin creates the DMP; the patient signs in with the hand-out's credentials."""
        w = self.world
        parent = {
            "part": [
                {"name": "family", "valueString": "Modèle"},
                {"name": "given", "valueString": "Parent"},
                {"name": "birthDate", "valueDate": "1981-09-03"},
                {"name": "gender", "valueCode": "female"},
                {"name": "email", "valueString": self.parent_email},
            ]
        }
        created = w.api.post(
            "/fhir/Patient/$dmp-create",
            json=parameters(
                ins={"valueIdentifier": {"system": INS_NIR_SYSTEM, "value": self.ins.value}},
                family="Modèle",
                given=["Patient"],
                birthDate={"valueDate": "2014-05-20" if self.minor else "1979-05-20"},
                gender={"valueCode": "male"},
                email=self.email,
                brochureVersion=w.brochure,
                informed=True,
                consent=True,
                representative=[parent] if self.minor else [],
            ),
            as_="bruno",
        )
        assert created.status_code in (200, 201), created.text
        given = _credentials(created.json(), "credentials")
        self.patient = Patient(w, given["login"], given["temporaryPassword"], self.email)
        if self.minor:
            given = _credentials(created.json(), "representativeCredentials")
            password = given["temporaryPassword"]
            self.parent = Patient(w, given["login"], password, self.parent_email)
        self.model = Model(creator="bruno")
        self.fhir_ids: dict[UUID, str] = {}
        if self.minor:  # a document the minor keeps from the parent, from the first step on
            assert self._submit("bruno", "11488-4", masked=False, hidden=False, secret=True)

    def teardown(self) -> None:
        if hasattr(self, "patient"):  # not when the creation failed
            self.patient.close()
        if self.parent is not None:
            self.parent.close()

    # --- helpers ---

    def _by_ins(self) -> dict[str, Any]:
        return parameters(
            ins={"valueIdentifier": {"system": INS_NIR_SYSTEM, "value": self.ins.value}}
        )

    def _trail_says(self, who: str, allowed: bool) -> None:
        """The newest entry of the patient's history names this professional, allowed or not
        (a destroyed DMP has no history left: its refusals are on the system's trail)."""
        if self.model.destroyed:
            return
        given = self.world.cast.professionals[who].given_name
        entries = self.patient.newest_entries()
        assert entries, "the history is empty"
        newest_allowed, sentence = entries[0]
        assert given in sentence, (who, sentence)
        assert newest_allowed == allowed, (who, allowed, sentence)

    def _doc(self, data: st.DataObject) -> UUID | None:
        if not self.model.docs:
            return None
        # In the order they were made: ordered by their (random) ids, the same draws would pick
        # another document on a replay, and the case would not replay.
        return data.draw(st.sampled_from(list(self.model.docs)))

    def _submit(
        self,
        pro: str,
        type_code: str,
        masked: bool,
        hidden: bool,
        secret: bool = False,
        **extra: Any,
    ) -> str:
        content = f"%PDF-1.4 document {next(_numbers)} de {pro}\n%%EOF\n".encode()
        labels = ("MASQUE_PS",) * masked + ("INVISIBLE_PATIENT",) * hidden
        labels += ("INVISIBLE_REPRESENTANTS_LEGAUX",) * secret
        bundle = provide_bundle(self.ins, content, type_code=type_code, labels=labels, **extra)
        response = self.world.api.post("/fhir", json=bundle, as_=pro)
        if response.status_code != 200:
            assert response.status_code in (403, 404, 409), response.text
            return ""
        location = response.json()["entry"][1]["response"]["location"]
        fhir_id = location.split("/")[1]
        digest = hashlib.sha256(content).hexdigest()
        doc_id = ids.parse_document_id(fhir_id)[1]
        self.fhir_ids[doc_id] = fhir_id
        self._new = Doc(TYPES[type_code], pro, masked, hidden, digest, secret)
        self.model.docs[doc_id] = self._new
        return fhir_id

    def _patch(self, pro: str, doc_id: UUID, patch: Any) -> bool:
        url = f"/fhir/DocumentReference/{self.fhir_ids[doc_id]}"
        response = self.world.api.patch(url, json=patch, as_=pro)
        if response.status_code == 200:
            return True
        assert response.status_code in (403, 404, 409, 422), response.text
        return False

    # --- the professionals, through the API ---

    @rule(
        pro=st.sampled_from(PROS),
        type_code=st.sampled_from(sorted(TYPES)),
        masked=st.booleans(),
        hidden=st.booleans(),
        secret=st.booleans(),
    )
    @counted
    def add(self, pro: str, type_code: str, masked: bool, hidden: bool, secret: bool) -> None:
        done = bool(self._submit(pro, type_code, masked, hidden, secret=secret and self.minor))
        assert done == self.model.opens(pro), (pro, self.model)

    @rule(data=st.data(), masked=st.booleans(), hidden=st.booleans())
    @counted
    def author_replaces(self, data: st.DataObject, masked: bool, hidden: bool) -> None:
        old_id = self._doc(data)
        if old_id is None:
            return
        old = self.model.docs[old_id]
        relates = {
            "relatesTo": [
                {
                    "code": "replaces",
                    "target": {"reference": f"DocumentReference/{self.fhir_ids[old_id]}"},
                }
            ]
        }
        expected = self.model.opens(old.author) and old.status is DocStatus.CURRENT
        before = dict(self.model.docs)
        done = bool(self._submit(old.author, "11488-4", masked, hidden, **relates))
        assert done == expected, (old, self.model)
        if done:
            old.status = DocStatus.SUPERSEDED
            self._new.masked = masked or old.masked  # the patient's mask is kept
            self._new.secret = old.secret  # and what is kept from the legal representatives
        else:
            assert self.model.docs == before

    @rule(data=st.data())
    @counted
    def author_deletes(self, data: st.DataObject) -> None:
        doc_id = self._doc(data)
        if doc_id is None:
            return
        d = self.model.docs[doc_id]
        patch = [{"op": "replace", "path": "/status", "value": "entered-in-error"}]
        done = self._patch(d.author, doc_id, patch)
        deletable = (DocStatus.CURRENT, DocStatus.ARCHIVED)
        assert done == (self.model.opens(d.author) and d.status in deletable)
        if done:
            d.status = DocStatus.DELETED

    @rule(data=st.data(), archive=st.booleans())
    @counted
    def author_archives(self, data: st.DataObject, archive: bool) -> None:
        """The author archives a current document or brings an archived one back."""
        doc_id = self._doc(data)
        if doc_id is None:
            return
        d = self.model.docs[doc_id]
        flag = {"url": DOCUMENT_ARCHIVED, "valueBoolean": archive}
        done = self._patch(d.author, doc_id, [{"op": "add", "path": "/extension/-", "value": flag}])
        before = DocStatus.CURRENT if archive else DocStatus.ARCHIVED
        assert done == (self.model.reads(d.author, d) and d.status is before), (d, self.model)
        if done:
            d.status = DocStatus.ARCHIVED if archive else DocStatus.CURRENT

    @rule(data=st.data())
    @counted
    def author_hides(self, data: st.DataObject) -> None:
        """The author hides a document from the patient until the announcement consultation."""
        doc_id = self._doc(data)
        if doc_id is None:
            return
        d = self.model.docs[doc_id]
        label = {"coding": [{"system": FLAGS, "code": "INVISIBLE_PATIENT"}]}
        done = self._patch(
            d.author, doc_id, [{"op": "add", "path": "/securityLabel/-", "value": label}]
        )
        assert done == self.model.reads(d.author, d), (d, self.model)
        if done:
            d.hidden = True

    @rule(data=st.data(), by_mt=st.booleans())
    @counted
    def reveal(self, data: st.DataObject, by_mt: bool) -> None:
        """After the announcement consultation, the author or the médecin traitant reveals."""
        doc_id = self._doc(data)
        if doc_id is None:
            return
        d = self.model.docs[doc_id]
        who = self.model.mt if by_mt and self.model.mt else d.author
        path = "DocumentReference.securityLabel.where(code='INVISIBLE_PATIENT')"
        operation = [{"name": "type", "valueCode": "delete"}, {"name": "path", "valueString": path}]
        patch = {
            "resourceType": "Parameters",
            "parameter": [{"name": "operation", "part": operation}],
        }
        done = self._patch(who, doc_id, patch)
        allowed = self.model.reads(who, d) and who in (d.author, self.model.mt)
        assert done == allowed, (who, d, self.model)
        if done:
            d.hidden = False

    @rule(pro=st.sampled_from(PROS))
    @counted
    def declare_authorization(self, pro: str) -> None:
        response = self.world.api.post(
            "/fhir/Patient/$declare-authorization", json=self._by_ins(), as_=pro
        )
        done = response.status_code == 200
        allowed = pro not in self.model.blocked and not (self.model.closed or self.model.destroyed)
        assert done == allowed, response.text
        self._trail_says(pro, done)
        if done:
            self.model.authorized.add(pro)

    @rule(pro=st.sampled_from(sorted(MEDECINS)))
    @counted
    def declare_medecin_traitant(self, pro: str) -> None:
        response = self.world.api.post(
            "/fhir/Patient/$become-medecin-traitant", json=self._by_ins(), as_=pro
        )
        done = response.status_code == 200
        assert done == (self.model.opens(pro) and self.model.mt in (None, pro)), response.text
        if done:
            self.model.mt = pro

    @rule(pro=st.sampled_from(PROS))
    @counted
    def close(self, pro: str) -> None:
        closing = parameters(
            ins={"valueIdentifier": {"system": INS_NIR_SYSTEM, "value": self.ins.value}},
            reason="À la demande de la patiente",
        )
        response = self.world.api.post("/fhir/Patient/$dmp-close", json=closing, as_=pro)
        done = response.status_code == 200
        assert done == self.model.opens(pro), response.text
        self._trail_says(pro, done)
        if done:
            self.model.closed = True

    @rule(pro=st.sampled_from(PROS))
    @counted
    def reactivate(self, pro: str) -> None:
        reactivating = parameters(
            ins={"valueIdentifier": {"system": INS_NIR_SYSTEM, "value": self.ins.value}},
            brochureVersion=self.world.brochure,
            informed=True,
            consent=True,
        )
        response = self.world.api.post("/fhir/Patient/$dmp-reactivate", json=reactivating, as_=pro)
        done = response.status_code == 200
        allowed = self.model.closed and pro not in self.model.blocked and not self.model.destroyed
        assert done == allowed, response.text
        if done:
            self.model.closed = False
            self.model.authorized.add(pro)

    @rule(pro=st.sampled_from(PROS), data=st.data(), mode=st.sampled_from(list(AccessMode)))
    @counted
    def read(self, pro: str, data: st.DataObject, mode: AccessMode) -> None:
        """A professional reads a document and its content; the history tells it, refused too."""
        doc_id = self._doc(data)
        if doc_id is None:
            return
        d = self.model.docs[doc_id]
        headers = MODES.get(mode, {})
        fhir_id = self.fhir_ids[doc_id]
        response = self.world.api.get(
            f"/fhir/DocumentReference/{fhir_id}", as_=pro, headers=headers
        )
        allowed = self.model.reads(pro, d, mode)
        assert (response.status_code == 200) == allowed, (pro, mode, d, response.text)
        if not allowed:
            assert response.status_code in (403, 404), response.text
        self._trail_says(pro, allowed)
        content = self.world.api.get(f"/fhir/Binary/{fhir_id}.0", as_=pro, headers=headers)
        assert (content.status_code == 200) == allowed, content.text
        if allowed:
            assert hashlib.sha256(content.content).hexdigest() == d.digest

    # --- the patient, through the portal ---

    @precondition(_patient_signed_in)
    @rule(pro=st.sampled_from(PROS))
    @counted
    def patient_authorizes(self, pro: str) -> None:
        subject = str(self.world.cast.professionals[pro].id)
        done = self.patient.act("/autorisations/autoriser", type="professional", id=subject)
        assert done == (pro not in self.model.blocked and not self.model.closed)
        if done:
            self.model.authorized.add(pro)

    @precondition(_patient_signed_in)
    @rule()
    @counted
    def patient_authorizes_the_chu(self) -> None:
        chu = str(self.world.cast.chu.id)
        done = self.patient.act("/autorisations/autoriser", type="establishment", id=chu)
        assert done == (not self.model.closed)
        if done:
            self.model.chu_authorized = True

    @precondition(_patient_signed_in)
    @rule(pro=st.sampled_from(PROS))
    @counted
    def patient_revokes(self, pro: str) -> None:
        subject = str(self.world.cast.professionals[pro].id)
        done = self.patient.act("/autorisations/retirer", type="professional", id=subject)
        assert done == (pro in self.model.authorized and not self.model.closed)
        if done:
            self.model.authorized.discard(pro)

    @precondition(_patient_signed_in)
    @rule(pro=st.sampled_from(PROS), blocking=st.booleans())
    @counted
    def patient_blocks(self, pro: str, blocking: bool) -> None:
        subject = str(self.world.cast.professionals[pro].id)
        url = "/autorisations/bloquer" if blocking else "/autorisations/debloquer"
        done = self.patient.act(url, id=subject)
        if blocking:
            assert done == (not self.model.closed)
            if done:
                self.model.blocked.add(pro)
                self.model.authorized.discard(pro)
                self.model.mt = None if self.model.mt == pro else self.model.mt
        else:
            assert done == (pro in self.model.blocked and not self.model.closed)
            if done:
                self.model.blocked.discard(pro)

    @precondition(_patient_signed_in)
    @rule(pro=st.sampled_from(PROS))
    @counted
    def patient_designates(self, pro: str) -> None:
        subject = str(self.world.cast.professionals[pro].id)
        done = self.patient.act("/autorisations/medecin-traitant", id=subject)
        allowed = pro in MEDECINS and pro not in self.model.blocked and not self.model.closed
        assert done == allowed
        if done:
            self.model.mt = pro

    @precondition(_patient_signed_in)
    @rule(emergency=st.booleans(), oppose=st.booleans())
    @counted
    def patient_opposes(self, emergency: bool, oppose: bool) -> None:
        url = "/autorisations/acces-urgence" if emergency else "/autorisations/acces-samu"
        done = self.patient.act(url, opposition="oui" if oppose else "non")
        assert done == (not self.model.closed)
        if done and emergency:
            self.model.oppose_emergency = oppose
        elif done:
            self.model.oppose_samu = oppose

    @precondition(_patient_signed_in)
    @rule(data=st.data(), mask=st.booleans())
    @counted
    def patient_masks(self, data: st.DataObject, mask: bool) -> None:
        doc_id = self._doc(data)
        if doc_id is None:
            return
        d = self.model.docs[doc_id]
        url = f"/documents/{doc_id}/{'masquer' if mask else 'demasquer'}"
        done = self.patient.act(url, suite="/documents")
        assert done == (self.model.patient_reads(d) and not self.model.closed), d
        if done:
            d.masked = mask

    @precondition(_patient_signed_in)
    @rule(data=st.data())
    @counted
    def patient_destroys(self, data: st.DataObject) -> None:
        doc_id = self._doc(data)
        if doc_id is None:
            return
        d = self.model.docs[doc_id]
        done = self.patient.act("/documents/detruire", documents=[str(doc_id)], definitif="oui")
        assert done == self.model.patient_reads(d), d
        if done:
            del self.model.docs[doc_id]
        content = self.world.api.get(f"/fhir/Binary/{self.fhir_ids[doc_id]}.0", as_=d.author)
        assert (content.status_code == 200) == (not done and self.model.reads(d.author, d))

    @precondition(_patient_signed_in)
    @rule()
    @counted
    def patient_destroys_everything(self) -> None:
        """The patient destroys the whole DMP: from then on nobody opens it nor reads a byte of
        it, and the patient's session is over."""
        done = self.patient.act("/destruction", mot="DÉTRUIRE", definitif="oui")
        assert done
        self.model.destroyed = True
        for doc_id, d in self.model.docs.items():
            content = self.world.api.get(f"/fhir/Binary/{self.fhir_ids[doc_id]}.0", as_=d.author)
            assert content.status_code == 404, content.text
            self.gone[self.fhir_ids[doc_id]] = d

    @precondition(lambda self: self.model.destroyed)
    @rule()
    @counted
    def recreate(self) -> None:
        """The patient comes back: a new DMP for the same INS, with nothing of the destroyed one
        (documents, authorizations, médecin traitant, choices)."""
        self.patient.close()
        if self.parent is not None:
            self.parent.close()
        self._create()
        for fhir_id, d in self.gone.items():
            old = self.world.api.get(f"/fhir/DocumentReference/{fhir_id}", as_=d.author)
            assert old.status_code == 404, old.text

    # --- what each one may list, after every step ---

    def _searched(self, pro: str, mode: AccessMode) -> set[UUID] | None:
        params: dict[str, Any] = {
            "patient.identifier": ins_token(self.ins),
            "status": EVERY_LISTED_STATUS,
            "_count": self.world.page,
        }
        response = self.world.api.get(
            "/fhir/DocumentReference", params=params, as_=pro, headers=MODES.get(mode, {})
        )
        self.world.count("searches")
        if refused_search(response):
            return None
        bundle = response.json()
        total, found = bundle["total"], []
        while True:
            found += [
                e["resource"]["id"]
                for e in bundle.get("entry", [])
                if e["search"]["mode"] == "match"
            ]
            following = [
                link["url"] for link in bundle.get("link", []) if link["relation"] == "next"
            ]
            if not following:
                break
            page = self.world.api.get(following[0], as_=pro, headers=MODES.get(mode, {}))
            assert page.status_code == 200, page.text
            bundle = page.json()
            assert bundle["total"] == total
        assert len(found) == len(set(found)) == total, (pro, total, found)
        return {ids.parse_document_id(i)[1] for i in found}

    def _listed_by_api(self, pro: str, mode: AccessMode) -> set[UUID] | None:
        """What a search for current and superseded versions should find."""
        seen = self.model.sees(pro, mode)
        listed = (DocStatus.CURRENT, DocStatus.SUPERSEDED)
        return None if seen is None else {i for i in seen if self.model.docs[i].status in listed}

    @invariant()
    def everyone_lists_what_the_model_says(self) -> None:
        readers = [(pro, AccessMode.NORMAL) for pro in PROS]
        readers += [("damien", AccessMode.EMERGENCY), ("samuel", AccessMode.SAMU)]
        for pro, mode in readers:
            assert self._searched(pro, mode) == self._listed_by_api(pro, mode), (pro, mode)
        if self.model.destroyed:
            gone = self.patient.browser.get("/documents")
            assert gone.status_code == 303, gone.text
            assert gone.headers["location"].startswith("/connexion")
        else:
            assert set(map(UUID, self.patient.listed())) == self.model.patient_lists()
        if self.parent is not None and not self.model.destroyed:
            assert set(map(UUID, self.parent.listed())) == self.model.representative_lists()
        elif self.parent is not None:  # nothing of the minor's DMP is left for the parent
            page = self.parent.browser.get("/documents")
            assert page.status_code != 200 or not LIST_LINK.findall(page.text), page.text


@pytest.fixture
def world(api: Api, server: str, ctx, cast: Cast, mailbox: Inbox) -> World:
    # Hugo, a CHU radiologist, acts for the CHU: an authorization of the CHU lets him in.
    hugo = cast.professionals["hugo"].rpps
    api.tokens["hugo"] = issue_token(ctx, hugo, finess=cast.chu.finess).token
    return World(api, server, cast, mailbox, ctx.brochure.version)


class Unchecked(Api):
    """The long run's client: no 5xx still, but the bodies are not validated against the FHIR
    models again (the short run does it; it costs more than the request)."""

    def request(
        self, method: str, url: str, *, as_: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if as_ is not None:
            headers["Authorization"] = f"Bearer {self.tokens.get(as_, as_)}"
        response = self.client.request(method, url, headers=headers, **kwargs)
        assert response.status_code < 500, response.text
        return response


NOT_STEPS = {"searches", "adults", "minors"}  # counted, but not rules: an example's start


def _run(world: World, examples: int, steps: int, seed: int) -> int:
    """Run the machine with a fixed seed (a failure replays with the same seed); the steps run
    so far in this world."""
    machine = type(f"HttpModelSeed{seed}", (HttpModel,), {"world": world})
    run_state_machine_as_test(
        hypothesis.seed(seed)(machine),
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
    return sum(n for name, n in world.counts.items() if name not in NOT_STEPS)


def test_the_served_app_follows_the_model(world: World, figures: Callable[[str], None]) -> None:
    steps = _run(world, examples=4, steps=12, seed=0)
    figures(f"HTTP model: {steps} steps, {world.counts}, 0 discrepancies")
    assert world.counts.get("minors"), world.counts  # the run met a minor and their parent
    assert world.counts.get("adults"), world.counts


# The long run in shards of about SHARD_STEPS, so that the test workers share it evenly.
SHARD_STEPS = 500
SHARDS = max(1, -(-STEPS // SHARD_STEPS))


@pytest.mark.slow
@pytest.mark.skipif(not STEPS, reason="the long run: set DMP_MODEL_STEPS (.ci/run: 10 000)")
@pytest.mark.parametrize("shard", range(SHARDS))
def test_a_long_run_follows_the_model(
    world: World, shard: int, figures: Callable[[str], None]
) -> None:
    world.api, world.page = Unchecked(world.api.client, world.api.tokens), 100
    share = STEPS // SHARDS + (shard < STEPS % SHARDS)
    steps, rounds = 0, 0
    # An example runs up to 50 steps, ~40 on average. Each run of the machine starts with its
    # simplest examples (every choice the first: the same rule 50 times over), so the share is
    # asked of one run, and a second only when the first fell short.
    while steps < share:
        examples = max(1, -(-(share - steps) // 40))
        steps = _run(world, examples=examples, steps=50, seed=SHARDS * rounds + shard)
        rounds += 1
    started = world.counts.get("adults", 0) + world.counts.get("minors", 0)
    figures(
        f"HTTP model, shard {shard + 1}/{SHARDS}: {steps} steps ({share} asked) in {started} "
        f"examples and {rounds} run(s) of the machine, {world.counts}, 0 discrepancies"
    )

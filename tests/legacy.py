"""What revision 0002 held, written as it wrote it: the INS and the patients' e-mail and phone
in clear. For the tests of the upgrade that seals them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from uuid import UUID, uuid4

from sqlalchemy import Boolean, Integer, LargeBinary, String, Text, Uuid, column, insert, table

from dmp.adapters.db import tables as t
from dmp.adapters.db.tables import UTCDateTime
from dmp.adapters.fieldcipher import FieldCipher
from dmp.domain.model import PatientIdentity, ProfessionalActor
from dmp.services import audit
from dmp.services.gate import identity_to_json
from tests.personas import ALICE_INS, LEA_INS, ins, rpps

TOM_INS, JEAN_INS, STRANGER_INS = ins("1180644109034"), ins("1700175123457"), ins("1991299123456")
CLEAR = [
    *(i.value for i in (ALICE_INS, LEA_INS, TOM_INS, JEAN_INS, STRANGER_INS)),
    *("alice@example.org", "+33612345678", "lea@example.org", "marc@example.org"),
    *("jean@example.org", "+33698765432", "ancien@example.org"),
]

# The tables as revision 0002 has them (only those that changed since).
ACCOUNTS_0002 = table(
    "accounts",
    column("id", Uuid),
    column("login", String),
    column("password_hash", String),
    column("must_change_password", Boolean),
    column("kind", String),
    column("email", String),
    column("phone", String),
    column("notify_email", Boolean),
    column("notify_sms", Boolean),
    column("created_at", UTCDateTime()),
)
RECORDS_0002 = table(
    "records",
    column("dmp_id", Uuid),
    column("ins", String),
    column("ins_system", String),
    column("state", String),
    column("identity_enc", LargeBinary),
    column("patient_account_id", Uuid),
    column("oppose_emergency", Boolean),
    column("oppose_samu", Boolean),
    column("created_at", UTCDateTime()),
    column("created_by", Uuid),
)
TOMBSTONES_0002 = table(
    "tombstones",
    column("id", Uuid),
    column("ins", String),
    column("dmp_id", Uuid),
    column("destroyed_at", UTCDateTime()),
    column("requested_by", String),
)
PROFESSIONALS_0002 = table(
    "professionals",
    column("id", Uuid),
    column("rpps", String),
    column("family_name", String),
    column("given_name", String),
    column("profession", String),
    column("occupational_health", Boolean),
    column("samu_regulator", Boolean),
    column("active", Boolean),
    column("created_at", UTCDateTime()),
)
OUTBOX_0002 = table(
    "outbox",
    column("id", Uuid),
    column("dmp_id", Uuid),
    column("recipient_kind", String),
    column("recipient_id", Uuid),
    column("template", String),
    column("params", Text),
    column("created_at", UTCDateTime()),
    column("sent_at", UTCDateTime()),
    column("attempts", Integer),
)


@dataclass
class Seeded:
    bruno: ProfessionalActor
    dmp: dict[str, UUID]
    accounts: dict[str, UUID]
    pending_contact: UUID


def _account(conn, name: str, email: str | None, phone: str | None, now) -> UUID:
    account_id = uuid4()
    conn.execute(
        insert(ACCOUNTS_0002).values(
            id=account_id,
            login=name.upper()[:10],
            password_hash="$argon2id$not-used",
            must_change_password=False,
            kind="representative" if name == "marc" else "patient",
            email=email,
            phone=phone,
            notify_email=True,
            notify_sms=True,
            created_at=now,
        )
    )
    return account_id


def _record(ctx, conn, patient_ins, identity: PatientIdentity, account: UUID, creator) -> UUID:
    dmp_id = uuid4()
    cipher = FieldCipher(dmp_id, ctx.keys.create(dmp_id))
    conn.execute(
        insert(RECORDS_0002).values(
            dmp_id=dmp_id,
            ins=patient_ins.value,
            ins_system=patient_ins.system,
            state="active",
            identity_enc=cipher.seal("identity", "record", identity_to_json(identity)),
            patient_account_id=account,
            oppose_emergency=False,
            oppose_samu=False,
            created_at=ctx.now(),
            created_by=creator,
        )
    )
    conn.execute(
        insert(t.authorizations).values(
            dmp_id=dmp_id,
            subject_kind="professional",
            subject_id=creator,
            source="creator",
            granted_at=ctx.now(),
        )
    )
    return dmp_id


def _represent(ctx, conn, dmp_id: UUID, account: UUID) -> None:
    cipher = FieldCipher(dmp_id, ctx.keys.get(dmp_id))
    marc = PatientIdentity("Lefèvre", "Marc", date(1980, 1, 5), "male")
    conn.execute(
        insert(t.representatives).values(
            dmp_id=dmp_id,
            account_id=account,
            since=ctx.now(),
            identity_enc=cipher.seal("representative", account, identity_to_json(marc)),
        )
    )


def _message(conn, now, kind: str, recipient: UUID, template: str, sent=None, **params) -> UUID:
    message_id = uuid4()
    conn.execute(
        insert(OUTBOX_0002).values(
            id=message_id,
            dmp_id=None,
            recipient_kind=kind,
            recipient_id=recipient,
            template=template,
            params=json.dumps(params),
            created_at=now,
            sent_at=sent,
            attempts=0,
        )
    )
    return message_id


def seed_revision_0002(ctx) -> Seeded:
    """What revision 0002 held: three DMPs (a parent represents two children), a tombstone,
    messages (one to an account, one to the bare addresses of a destroyed DMP, one sent), and
    look-ups of an INS without DMP in the system chain — all with the INS and addresses in
    clear, written as that revision wrote them."""
    now = ctx.now()
    bruno = ProfessionalActor(uuid4(), rpps(1), "10", given_name="Bruno", family_name="Martin")
    creator = bruno.professional_id
    with ctx.engine.begin() as conn:
        conn.execute(
            insert(PROFESSIONALS_0002).values(
                id=creator,
                rpps=bruno.rpps,
                family_name="Martin",
                given_name="Bruno",
                profession="10",
                occupational_health=False,
                samu_regulator=False,
                active=True,
                created_at=now,
            )
        )
        acc = {
            "alice": _account(conn, "alice", "alice@example.org", "+33612345678", now),
            "lea": _account(conn, "lea", "lea@example.org", None, now),
            "tom": _account(conn, "tom", None, "+33698765400", now),
            "marc": _account(conn, "marc", "marc@example.org", None, now),
        }
        dmp = {
            "alice": _record(
                ctx,
                conn,
                ALICE_INS,
                PatientIdentity("Dupont", "Alice", date(1985, 3, 12), "female"),
                acc["alice"],
                creator,
            ),
            "lea": _record(
                ctx,
                conn,
                LEA_INS,
                PatientIdentity("Lefèvre", "Léa", date(2015, 6, 1), "female"),
                acc["lea"],
                creator,
            ),
            "tom": _record(
                ctx,
                conn,
                TOM_INS,
                PatientIdentity("Lefèvre", "Tom", date(2018, 6, 1), "male"),
                acc["tom"],
                creator,
            ),
        }
        for child in ("lea", "tom"):
            _represent(ctx, conn, dmp[child], acc["marc"])
        conn.execute(
            insert(TOMBSTONES_0002).values(
                id=uuid4(),
                ins=JEAN_INS.value,
                dmp_id=uuid4(),
                destroyed_at=now,
                requested_by="patient",
            )
        )
        _message(conn, now, "account", acc["alice"], "record_created", login="ALICE")
        pending = _message(
            conn,
            now,
            "contact",
            uuid4(),
            "record_destroyed",
            date="hier",
            email="jean@example.org",
            phone="+33698765432",
        )
        _message(
            conn,
            now,
            "contact",
            uuid4(),
            "record_destroyed",
            sent=now,
            date="avant-hier",
            email="ancien@example.org",
            phone="",
        )
    with ctx.uow() as uow:
        for dmp_id in dmp.values():
            event = audit.Event("record.create", True, "create", "record", dmp_id)
            audit.append(uow, ctx.signer, now, dmp_id, bruno, event)
        for looked_up in (STRANGER_INS, JEAN_INS):
            event = audit.Event("record.lookup", True, "look-up", "ins", looked_up.value)
            audit.append(uow, ctx.signer, now, None, bruno, event)
        uow.commit()
    return Seeded(bruno, dmp, acc, pending)

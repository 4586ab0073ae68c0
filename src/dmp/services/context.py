"""What every use case needs, gathered once by ``dmp.bootstrap``: the unit of work, the key and
blob stores, the blind index of the INS, the audit trail's signer and witness, the notifier, the
clock, the data tables. Use cases take it as their first argument."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from argon2 import PasswordHasher
from sqlalchemy import Engine

from dmp.adapters.blindindex import BlindIndex
from dmp.adapters.blobs import BlobStore, LocalBlobStore
from dmp.adapters.db.uow import UnitOfWork
from dmp.adapters.keystore import DataKeys
from dmp.adapters.notify.base import Notifier
from dmp.adapters.oidc import OidcClient
from dmp.adapters.witness import Witness
from dmp.domain.identifiers import Ins
from dmp.domain.valuesets import ProfessionMatrix, ValueSets
from dmp.services.audit import AuditSigner
from dmp.services.brochure import Brochure
from dmp.settings import Settings

Clock = Callable[[], datetime]


# Argon2id, at the second profile of OWASP's password storage guidance (19 MiB, 2 passes, one
# lane): about 20 ms of one core per check here, so two cores hold some 90 logins a second.
# See docs/adr/0005-one-time-codes-and-sessions.md for the measure and the load it holds.
def password_hasher() -> PasswordHasher:
    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    settings: Settings
    engine: Engine
    keys: DataKeys
    blobs: BlobStore
    signer: AuditSigner
    witness: Witness
    valuesets: ValueSets
    matrix: ProfessionMatrix
    brochure: Brochure
    index: BlindIndex
    notifier: Notifier
    clock: Clock = system_clock
    password_hasher: PasswordHasher = field(default_factory=password_hasher)
    oidc: OidcClient | None = None  # the professionals' identity provider, when configured

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.engine)

    @property
    def consult_on_loop(self) -> bool:
        """Whether a consult's requests run on the server's event loop, not in its thread pool
        (ADR 7): on PostgreSQL, with the contents in local files. On SQLite, whose write lock
        may be waited for up to 30 s, or with an object store, a network round trip for each
        read, they hop to the thread pool."""
        return self.engine.dialect.name == "postgresql" and isinstance(self.blobs, LocalBlobStore)

    def reader(self) -> UnitOfWork:
        """A unit of work for reads that write nothing (no audit entry): no transaction, no
        write lock (see ``UnitOfWork``)."""
        return UnitOfWork(self.engine, read_only=True)

    def now(self) -> datetime:
        return self.clock()

    def blind_index(self, ins: Ins) -> str:
        """What the data database knows of an INS: its keyed blind index, never the INS."""
        return self.index.ins(ins.value)

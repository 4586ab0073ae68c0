"""The one place that picks the adapters and builds the context of the use cases."""

from __future__ import annotations

import os

from sqlalchemy import Engine

from dmp.adapters.blindindex import BlindIndex
from dmp.adapters.blobs import BlobStore, LocalBlobStore
from dmp.adapters.crypto import generate_master_key_spec, parse_master_keys
from dmp.adapters.db.engine import make_engine
from dmp.adapters.db.uow import UnitOfWork
from dmp.adapters.files import FILE_MODE, private_dir
from dmp.adapters.keystore import DataKeys, KeyStore, ensure_separate
from dmp.adapters.notify.base import EMAIL, SMS, Channels, Notifier
from dmp.adapters.notify.devoutbox import DevOutbox
from dmp.adapters.notify.sms import SmsGateway
from dmp.adapters.notify.smtp import SmtpSender
from dmp.adapters.oidc import OidcClient
from dmp.adapters.witness import FileWitness
from dmp.domain.valuesets import load_matrix, load_valuesets
from dmp.errors import ConfigurationError
from dmp.services.audit import AuditSigner
from dmp.services.brochure import current_brochure
from dmp.services.context import Clock, Context, system_clock
from dmp.services.migration import migrate_database
from dmp.settings import Settings

DEMO_SECRETS = "demo-secrets.env"


def demo_secrets(settings: Settings) -> Settings:
    """Demo mode only: generate the master and audit keys once, kept in the data folder."""
    path = settings.data_dir / DEMO_SECRETS
    if not path.exists():
        private_dir(settings.data_dir)
        content = (
            f"DMP_MASTER_KEYS={generate_master_key_spec('demo-1')}\n"
            f"DMP_AUDIT_SIGNING_KEY={AuditSigner.generate()}\n"
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
    values = dict(line.split("=", 1) for line in path.read_text().split())
    return settings.with_(
        master_keys=settings.master_keys or values["DMP_MASTER_KEYS"],
        audit_signing_key=settings.audit_signing_key or values["DMP_AUDIT_SIGNING_KEY"],
    )


def build(settings: Settings, *, clock: Clock = system_clock, migrate: bool = False) -> Context:
    """The context of the use cases; ``migrate``: first bring the database to the latest
    revision, the steps that need the keys included (as ``dmp db upgrade``)."""
    if settings.demo:
        settings = demo_secrets(settings)
    chosen_notifier = notifier(settings)  # first: a refusal to start leaves nothing behind
    private_dir(settings.data_dir)
    ensure_separate(settings.database_url, settings.keystore_url)
    engine = make_engine(settings.database_url)
    keystore = KeyStore.from_url(settings.keystore_url, clock=clock)
    keystore.create_schema()
    keys = DataKeys(keystore, parse_master_keys(settings.master_keys))
    ctx = Context(
        settings=settings,
        engine=engine,
        keys=keys,
        blobs=blob_store(settings),
        signer=AuditSigner(settings.audit_signing_key),
        witness=FileWitness(settings.witness_path),
        valuesets=load_valuesets(),
        matrix=load_matrix(),
        brochure=current_brochure(),
        index=BlindIndex(keys, may_create=lambda: _nothing_indexed(engine)),
        notifier=chosen_notifier,
        clock=clock,
        oidc=OidcClient(settings.oidc) if settings.oidc is not None else None,
    )
    if migrate:
        migrate_database(ctx)
    return ctx


def blob_store(settings: Settings) -> BlobStore:
    """Local files by default; an S3 bucket (``DMP_BLOB_URL``) for several servers."""
    if settings.blob_s3 is None:
        return LocalBlobStore(settings.blob_dir)
    from dmp.adapters.s3 import S3BlobStore  # boto3 takes a while to import: only when used

    return S3BlobStore.from_settings(settings.blob_s3)


def _nothing_indexed(engine: Engine) -> bool:
    """The INS index key may be created only while no row holds an index computed with one."""
    with UnitOfWork(engine, read_only=True) as uow:
        return not uow.records.any_indexed()


def notifier(settings: Settings) -> Notifier:
    """SMTP and/or the SMS gateway, as configured; in demo mode with neither, the demo's outbox
    (the console and a folder). Elsewhere, neither is a refusal to start — messages the patients
    are owed (accesses, documents, one-time codes) would go nowhere — unless the operator
    switched notifications off (``DMP_NOTIFICATIONS=off``: nothing is sent, the messages wait)."""
    if not settings.delivery.enabled:
        return Channels({})
    timeout = settings.delivery.timeout_seconds
    senders: dict[str, Notifier] = {}
    if settings.smtp is not None:
        senders[EMAIL] = SmtpSender(settings.smtp, timeout)
    if settings.sms is not None:
        senders[SMS] = SmsGateway(settings.sms, timeout)
    if senders:
        return Channels(senders)
    if settings.demo:
        return DevOutbox(settings.data_dir / "outbox")
    raise ConfigurationError(
        "Aucun canal de notification n'est configuré : renseignez DMP_SMTP_HOST (e-mail) "
        "et/ou DMP_SMS_URL (SMS), ou désactivez explicitement les notifications avec "
        "DMP_NOTIFICATIONS=off. Sans canal, les messages dus aux patients (accès à leur DMP, "
        "nouveaux documents, codes de connexion) ne partiraient pas."
    )

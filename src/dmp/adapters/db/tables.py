"""The database schema, as SQLAlchemy Core tables.

Every patient-owned table carries ``dmp_id`` first in its primary key, so that the national
deployment can shard on it (Citus distribution column). Health data (titles, comments, patient
identity, justifications) are stored encrypted under the DMP's own key; see docs/adr. No health
identifier is stored in clear: the INS only as its keyed blind index (``ins_index``) and sealed
(``ins_enc``), patients' contact channels sealed under their account's key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite would hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _now_col(name: str, nullable: bool = False) -> Column[datetime]:
    return Column(name, UTCDateTime(), nullable=nullable)


establishments = Table(
    "establishments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("finess", String(9), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    # The name as a patient types it to find the establishment (domain.names.search_key).
    Column("search_key", Text, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("excluded", Boolean, nullable=False),
    _now_col("created_at"),
)

professionals = Table(
    "professionals",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("rpps", String(11), nullable=False, unique=True),
    Column("family_name", String(100), nullable=False),
    Column("given_name", String(100), nullable=False),
    # Given and family names as a patient types them to find the professional.
    Column("search_key", Text, nullable=False),
    Column("profession", String(4), nullable=False),
    Column("specialty", String(100)),
    Column("occupational_health", Boolean, nullable=False),
    Column("samu_regulator", Boolean, nullable=False),
    Column("email", String(254)),  # secure health messaging (MSSanté) address, for notices
    Column("active", Boolean, nullable=False),
    _now_col("created_at"),
    # The login of the professional portal without an identity provider (ADR 6): a password
    # (Argon2id) and an authenticator app whose secret is sealed under the professional's key.
    Column("password_hash", Text),
    Column("totp_secret_enc", LargeBinary),
    Column("totp_last_step", BigInteger),
    Column("failed_logins", Integer, nullable=False, default=0, server_default="0"),
    _now_col("next_login_at", nullable=True),
)

professional_establishments = Table(
    "professional_establishments",
    metadata,
    Column("professional_id", Uuid, ForeignKey("professionals.id"), primary_key=True),
    Column("establishment_id", Uuid, ForeignKey("establishments.id"), primary_key=True),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("professional_id", Uuid, ForeignKey("professionals.id"), nullable=False),
    Column("establishment_id", Uuid, ForeignKey("establishments.id")),
    Column("label", String(100)),
    _now_col("created_at"),
    _now_col("expires_at"),
    _now_col("revoked_at", nullable=True),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("login", String(32), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=False),
    Column("must_change_password", Boolean, nullable=False),
    Column("kind", String(20), nullable=False),  # patient | representative
    # Sealed under the account's own key (key store, id = the account's id).
    Column("email_enc", LargeBinary),
    Column("phone_enc", LargeBinary),
    Column("notify_email", Boolean, nullable=False, default=True),
    Column("notify_sms", Boolean, nullable=False, default=True),
    _now_col("created_at"),
    # Logging in (the patient portal): failed passwords slow down, then lock, the account.
    Column("failed_logins", Integer, nullable=False, default=0, server_default="0"),
    _now_col("next_login_at", nullable=True),
    _now_col("password_changed_at", nullable=True),
    # An authenticator app's secret, sealed under the account's key; None when not enrolled.
    Column("totp_secret_enc", LargeBinary),
    Column("totp_last_step", BigInteger),  # the last time step used: a code counts once
    # Which notices the patient wants (JSON: notice → bool); None: every one.
    Column("notices", Text),
)

# A browser's session on the portals. ``id`` is the SHA-256 of the cookie's token (the token
# itself is never stored); ``stage`` says how far the login went.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("stage", String(16), nullable=False),  # anonymous | code | new-password | signed-in
    Column("csrf", String(64), nullable=False),
    Column("account_id", Uuid, ForeignKey("accounts.id", ondelete="CASCADE")),
    Column("dmp_id", Uuid),  # the DMP acted on (a legal representative may have several)
    # During the code stage: the account whose identifiers were given, None when they were
    # wrong (the code stage goes on all the same, and no code can succeed).
    Column("candidate_id", Uuid, ForeignKey("accounts.id", ondelete="CASCADE")),
    _now_col("created_at"),
    _now_col("last_seen_at"),
    _now_col("signed_in_at", nullable=True),
    _now_col("step_up_at", nullable=True),
    # A professional's session (the professional portal): whom it acts as, for which
    # establishment, and what a login or an emergency access holds between two pages (JSON).
    Column("professional_id", Uuid, ForeignKey("professionals.id", ondelete="CASCADE")),
    Column("establishment_id", Uuid),
    Column("pro_state", Text),
    Index("ix_web_sessions_account_id", "account_id"),
    Index("ix_web_sessions_professional_id", "professional_id"),
    Index("ix_web_sessions_last_seen_at", "last_seen_at"),
)

# One-time codes sent by e-mail or SMS: only a salted hash is kept, for a few minutes.
one_time_codes = Table(
    "one_time_codes",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("session_id", String(64), nullable=False),
    Column("account_id", Uuid, ForeignKey("accounts.id", ondelete="CASCADE")),
    Column("purpose", String(16), nullable=False),  # login | step-up | reset | contact
    Column("channel", String(8), nullable=False),  # email | sms
    Column("code_hash", String(64)),  # None: no code was sent (identifiers were wrong)
    # A contact channel being confirmed: the new address, sealed under the account's key.
    Column("address_enc", LargeBinary),
    _now_col("created_at"),
    _now_col("expires_at"),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    _now_col("used_at", nullable=True),
    Index("ix_one_time_codes_session_id", "session_id"),
    Index("ix_one_time_codes_account_id_created_at", "account_id", "created_at"),
)

# Passkeys (WebAuthn) of an account, a second factor at login: the public key only (the private
# key never leaves the person's device), and its signature counter, which must only go up.
passkeys = Table(
    "passkeys",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("account_id", Uuid, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("credential_id", LargeBinary, nullable=False, unique=True),
    Column("public_key", LargeBinary, nullable=False),  # COSE, as the authenticator gave it
    Column("sign_count", BigInteger, nullable=False),
    Column("name_enc", LargeBinary, nullable=False),  # the name the person gave it, sealed
    _now_col("created_at"),
    _now_col("last_used_at", nullable=True),
    Index("ix_passkeys_account_id", "account_id"),
)

# What a login factor must answer, kept on the server for a few minutes and bound to one
# session: a WebAuthn challenge (to register or use a passkey), or an authenticator app's new
# secret until a first code of the app confirms it. Used once.
factor_challenges = Table(
    "factor_challenges",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("session_id", String(64), nullable=False),
    Column("account_id", Uuid, ForeignKey("accounts.id", ondelete="CASCADE")),
    Column("purpose", String(16), nullable=False),  # app-enrol | passkey-enrol | passkey-login
    Column("challenge", LargeBinary),  # random bytes the authenticator signs (WebAuthn)
    Column("secret_enc", LargeBinary),  # an app's secret being enrolled, sealed (account's key)
    _now_col("created_at"),
    _now_col("expires_at"),
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    _now_col("used_at", nullable=True),
    Index("ix_factor_challenges_session_id_purpose", "session_id", "purpose"),
    Index("ix_factor_challenges_expires_at", "expires_at"),
)

records = Table(
    "records",
    metadata,
    Column("dmp_id", Uuid, primary_key=True),
    Column("ins_index", String(64), nullable=False, unique=True),  # adapters.blindindex
    # The INS sealed under the DMP's key; NULL only for a DMP whose destruction was under way,
    # its key already shredded, when its INS was sealed by the upgrade to revision 0003.
    Column("ins_enc", LargeBinary),
    Column("ins_system", String(40), nullable=False),  # NIR or NIA: says nothing of who
    Column("state", String(12), nullable=False),
    Column("identity_enc", LargeBinary, nullable=False),
    Column("patient_account_id", Uuid, ForeignKey("accounts.id"), nullable=False),
    Column("medecin_traitant_id", Uuid, ForeignKey("professionals.id")),
    Column("oppose_emergency", Boolean, nullable=False),
    Column("oppose_samu", Boolean, nullable=False),
    _now_col("created_at"),
    Column("created_by", Uuid, ForeignKey("professionals.id"), nullable=False),
    _now_col("closed_at", nullable=True),
    Column("closure_reason_enc", LargeBinary),
    Index("ix_records_state_closed_at", "state", "closed_at"),
)

consents = Table(
    "consents",
    metadata,
    Column("dmp_id", Uuid, ForeignKey("records.dmp_id"), nullable=False),
    Column("id", Uuid, nullable=False),
    Column("kind", String(20), nullable=False),  # creation | reactivation
    Column("professional_id", Uuid, ForeignKey("professionals.id"), nullable=False),
    Column("establishment_id", Uuid, ForeignKey("establishments.id")),
    Column("brochure_version", String(20), nullable=False),
    _now_col("collected_at"),
    PrimaryKeyConstraint("dmp_id", "id"),
)

authorizations = Table(
    "authorizations",
    metadata,
    Column("dmp_id", Uuid, ForeignKey("records.dmp_id"), nullable=False),
    Column("subject_kind", String(16), nullable=False),  # professional | establishment
    Column("subject_id", Uuid, nullable=False),
    Column("source", String(16), nullable=False),  # patient | declared | creator | reactivation
    _now_col("granted_at"),
    PrimaryKeyConstraint("dmp_id", "subject_kind", "subject_id"),
)

blocks = Table(
    "blocks",
    metadata,
    Column("dmp_id", Uuid, ForeignKey("records.dmp_id"), nullable=False),
    Column("professional_id", Uuid, ForeignKey("professionals.id"), nullable=False),
    _now_col("blocked_at"),
    PrimaryKeyConstraint("dmp_id", "professional_id"),
)

representatives = Table(
    "representatives",
    metadata,
    Column("dmp_id", Uuid, ForeignKey("records.dmp_id"), nullable=False),
    Column("account_id", Uuid, ForeignKey("accounts.id"), nullable=False),
    Column("identity_enc", LargeBinary, nullable=False),
    _now_col("since"),
    PrimaryKeyConstraint("dmp_id", "account_id"),
)

accessors = Table(
    "accessors",
    metadata,
    Column("dmp_id", Uuid, ForeignKey("records.dmp_id"), nullable=False),
    Column("professional_id", Uuid, ForeignKey("professionals.id"), nullable=False),
    _now_col("first_access_at"),
    _now_col("last_emergency_notice_at", nullable=True),
    PrimaryKeyConstraint("dmp_id", "professional_id"),
)

documents = Table(
    "documents",
    metadata,
    Column("dmp_id", Uuid, ForeignKey("records.dmp_id"), nullable=False),
    Column("id", Uuid, nullable=False),
    Column("logical_id", Uuid, nullable=False),
    Column("version", Integer, nullable=False),
    Column("master_identifier", String(128), nullable=False),
    Column("status", String(12), nullable=False),
    Column("type_code", String(20), nullable=False),
    Column("class_code", String(4), nullable=False),
    Column("format_code", String(80), nullable=False),
    Column("confidentiality", String(1), nullable=False),
    Column("language", String(10), nullable=False),
    Column("title_enc", LargeBinary, nullable=False),
    Column("comments_enc", LargeBinary),
    Column("author_professional_id", Uuid, ForeignKey("professionals.id")),
    Column("author_establishment_id", Uuid, ForeignKey("establishments.id")),
    Column("author_role", String(20)),
    Column("added_by_patient", Boolean, nullable=False),
    _now_col("creation_time"),
    _now_col("submitted_at"),
    _now_col("service_start", nullable=True),
    _now_col("service_stop", nullable=True),
    Column("practice_setting", String(40)),
    Column("facility_type", String(40)),
    Column("masked", Boolean, nullable=False),
    Column("invisible_patient", Boolean, nullable=False),
    Column("invisible_representatives", Boolean, nullable=False),
    _now_col("hidden_since", nullable=True),
    _now_col("hidden_notice_at", nullable=True),
    Column("replaces_id", Uuid),
    Column("replaced_by_id", Uuid),
    _now_col("updated_at"),
    # The version of the DocumentReference (FHIR ``meta.versionId``): 1 at submission, one more
    # at every change of its metadata (a flag, the status), whether or not the content changes.
    Column("meta_version", Integer, nullable=False, server_default="1"),
    # The SubmissionSet (ITI-65 ``List``) the document came in: one id per submission.
    Column("submission_set_id", Uuid),
    PrimaryKeyConstraint("dmp_id", "id"),
    UniqueConstraint("dmp_id", "master_identifier"),
    Index("ix_documents_dmp_id_submitted_at", "dmp_id", "submitted_at"),
    Index("ix_documents_hidden_since", "hidden_since"),
    Index("ix_documents_id", "id"),  # the orphan-key sweep looks documents up by id alone
)

document_contents = Table(
    "document_contents",
    metadata,
    Column("dmp_id", Uuid, nullable=False),
    Column("document_id", Uuid, nullable=False),
    Column("position", Integer, nullable=False),
    Column("mime_type", String(40), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("sha1", String(40)),  # FHIR's attachment.hash; none for contents stored before 0008
    Column("blob_key", String(120), nullable=False, unique=True),
    PrimaryKeyConstraint("dmp_id", "document_id", "position"),
)

# The audit trail. Its primary key holds the time so that PostgreSQL can partition it by range of
# ``at``; one chain per DMP (``dmp_id``), plus the system chain (the nil UUID) for actions that
# concern no DMP. ``seq`` is unique within a chain: appends are serialised on ``audit_heads``.
audit_entries = Table(
    "audit_entries",
    metadata,
    Column("dmp_id", Uuid, nullable=False),
    Column("seq", BigInteger, nullable=False),
    _now_col("at"),
    Column("actor_kind", String(16), nullable=False),
    Column("actor_id", String(64)),
    Column("actor_rpps", String(11)),
    Column("profession", String(4)),
    Column("establishment", String(9)),
    Column("mode", String(12), nullable=False),
    Column("action", String(40), nullable=False),
    Column("target_kind", String(20)),
    Column("target_id", String(128)),  # up to a master identifier
    Column("outcome", String(8), nullable=False),
    Column("reason", String(40), nullable=False),
    Column("justification_enc", LargeBinary),
    Column("secret", Boolean, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    PrimaryKeyConstraint("dmp_id", "seq", "at"),
    Index("ix_audit_entries_dmp_id_at", "dmp_id", "at"),
    # A professional's own activity, newest first, across DMPs (the professional portal).
    Index("ix_audit_entries_actor_id_at", "actor_id", "at"),
)

audit_heads = Table(
    "audit_heads",
    metadata,
    Column("dmp_id", Uuid, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("signature", String(100), nullable=False),
    _now_col("signed_at"),
    # The witness takes, at each checkpoint, the heads that moved since the previous one.
    Index("ix_audit_heads_signed_at", "signed_at"),
)

tombstones = Table(
    "tombstones",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("ins_index", String(64), nullable=False, index=True),
    Column("dmp_id", Uuid, nullable=False),
    _now_col("destroyed_at"),
    Column("requested_by", String(20), nullable=False),  # patient | representative | retention
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("dmp_id", Uuid),
    Column("recipient_kind", String(16), nullable=False),  # account | professional
    Column("recipient_id", Uuid, nullable=False),
    Column("template", String(40), nullable=False),
    Column("params", Text, nullable=False),  # JSON, never health data nor an address
    # recipient_kind "contact" (no account any more): the addresses, sealed under a key of the
    # message's own (key store, id = this row's id), destroyed once the message is sent.
    Column("contact_enc", LargeBinary),
    _now_col("created_at"),
    _now_col("sent_at", nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    # The delivery (docs/adr/0009-notification-delivery.md): pending → sending (claimed, until
    # lease_until) → sent; back to pending after a failure (at next_attempt_at), failed after
    # the last attempt; uncertain when a send may have happened and is not confirmed.
    Column("state", String(12), nullable=False, server_default="pending"),
    _now_col("next_attempt_at"),
    _now_col("lease_until", nullable=True),
    Column("claim", Uuid),  # the claim in force: only its holder records the outcome
    Column("channels_done", String(16), nullable=False, server_default=""),  # "email sms"
    Column("last_error", String(200)),  # the reason, never an address nor a message's text
    Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),
)

# A DMP being destroyed: while its id is here, the triggers let its audit chain be deleted.
audit_purges = Table("audit_purges", metadata, Column("dmp_id", Uuid, primary_key=True))

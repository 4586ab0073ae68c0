"""Typed settings, read once from the environment. Nothing else in dmp reads ``os.environ``.

SQLite and local files are the defaults; a URL switches to PostgreSQL. Outside demo mode there is
no default secret: the master key and the audit signing key must be given. Notifications go out by
SMTP and/or an SMS gateway (``smtp``, ``sms``: None when not set); refusing to start with neither
is ``dmp.bootstrap``'s business, where the adapters are picked. The address the patients type
(``DMP_PUBLIC_URL``) is what passkeys are bound to: a passkey answers one site only.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from email.utils import parseaddr
from pathlib import Path
from typing import Literal
from urllib.parse import SplitResult, urlsplit

from dmp.domain.inputs import ascii_int
from dmp.errors import ConfigurationError

MIB = 1024 * 1024
SmtpSecurity = Literal["starttls", "tls", "none"]
AddressingStyle = Literal["auto", "path", "virtual"]
SMTP_PORTS: dict[SmtpSecurity, int] = {"starttls": 587, "tls": 465, "none": 25}
# Where a connection in clear (SMTP without TLS, an SMS gateway over http) is acceptable: a relay
# on the same machine, or a test's server.
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
DEFAULT_SMS_TEMPLATE = '{"to": "{number}", "text": "{text}", "reference": "{reference}"}'
SMS_PLACEHOLDERS = ("{number}", "{text}")
DEMO_MAIL_FROM = "ne-pas-repondre@dmp.invalid"  # in demo mode; elsewhere DMP_MAIL_FROM is required


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """E-mail by SMTP. ``ca_file``: the certificate authorities to verify the server against,
    instead of the system's (a relay with a private authority); verification is never off."""

    host: str
    port: int = 587
    security: SmtpSecurity = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None
    mail_from: str = DEMO_MAIL_FROM


@dataclass(frozen=True, slots=True)
class SmsSettings:
    """SMS by an HTTP gateway: ``template`` (JSON) rendered and posted to ``url``, with a bearer
    token or basic authentication."""

    url: str
    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    template: str = DEFAULT_SMS_TEMPLATE


@dataclass(frozen=True, slots=True)
class OidcSettings:
    """The OpenID Connect provider professionals log in with at ``/pro`` (Pro Santé Connect in
    France): its issuer (``https://``, ``http://`` on the loopback only), and this service's
    client id and secret there. The redirection address is ``<DMP_PUBLIC_URL>/pro/connexion/psc/
    retour``."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str = "openid scope_all"


@dataclass(frozen=True, slots=True)
class S3Settings:
    """The content store on an S3-compatible object store (``DMP_BLOB_URL=s3://bucket/prefix``).
    Credentials not given here come from the usual AWS chain (environment, shared files, the
    instance's role); ``endpoint_url`` None is AWS itself."""

    bucket: str
    prefix: str = ""  # "" or ending with "/"
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    addressing_style: AddressingStyle = "auto"


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """How the outbox is delivered (docs/adr/0009-notification-delivery.md). ``enabled`` is
    False only when the operator says so: nothing is sent, and nothing is dropped either."""

    enabled: bool = True
    timeout_seconds: float = 10.0  # each network operation of a send
    max_attempts: int = 10
    retry_seconds: int = 60  # the first delay; each next one doubles, up to an hour
    interval_seconds: int = 5  # between two deliveries of ``dmp serve``


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    database_url: str
    keystore_url: str
    blob_dir: Path  # the local content store, unless ``blob_s3`` is set
    master_keys: str  # "id:base64,id:base64", the first one current
    audit_signing_key: str  # base64 of a 32-byte Ed25519 seed
    demo: bool = False
    max_content_bytes: int = 50 * MIB
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    step_up_max_age_seconds: int = 600
    # The session cookie goes over HTTPS only, except for a demo on the loopback interface.
    cookie_secure: bool = True
    smtp: SmtpSettings | None = None
    sms: SmsSettings | None = None
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    # The audit trail's witness (docs/adr/0004-audit-chain.md): None means <data_dir>/witness.
    witness_dir: Path | None = None
    witness_interval_seconds: int = 10
    # Where the patients reach the portal: https://, or http:// on the machine itself. Passkeys
    # are bound to its host name (WebAuthn's relying party) and checked against its origin.
    public_url: str = "http://localhost:8000"
    # The professionals' identity provider (ADR 6); None: RPPS, password and authenticator app.
    oidc: OidcSettings | None = None

    @property
    def webauthn_rp_id(self) -> str:
        """The relying party of the passkeys: the public address's host name."""
        return _public_parts(self.public_url).hostname or ""

    @property
    def webauthn_origin(self) -> str:
        """The origin a browser reports when a passkey is used on the portal."""
        parts = _public_parts(self.public_url)
        default = {"https": 443, "http": 80}[parts.scheme]
        port = "" if parts.port in (None, default) else f":{parts.port}"
        return f"{parts.scheme}://{parts.hostname}{port}"

    # The browser origins (SMART apps, web software of professionals) that may call the API from
    # a page of theirs (CORS). None by default: no page of another site may.
    cors_origins: tuple[str, ...] = ()
    # The content store on S3 (several servers share it); None: local files in ``blob_dir``.
    blob_s3: S3Settings | None = None

    @property
    def witness_path(self) -> Path:
        """Where the witness's checkpoints are written: apart from the database, and in
        production owned by another user or on an append-only volume."""
        return self.witness_dir or self.data_dir / "witness"

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    value = ascii_int(raw.strip())
    if value is None:
        raise ConfigurationError(
            f"{name} doit être un nombre entier positif, en chiffres ASCII (reçu : {raw[:40]!r})."
        )
    return value


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value <= 0:
        raise ConfigurationError(f"{name} doit être un nombre entier positif (reçu : {value}).")
    return value


def _bool(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _cookie_secure(env: Mapping[str, str], demo: bool, host: str) -> bool:
    """``DMP_COOKIE_SECURE`` if given; else on, but for a demo served on the loopback
    interface (plain HTTP on the machine itself)."""
    raw = env.get("DMP_COOKIE_SECURE", "").strip().lower()
    if raw:
        return raw in {"1", "true", "yes", "on"}
    return not (demo and host in {"127.0.0.1", "localhost", "::1"})


def _optional(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name) or None


def _pair(env: Mapping[str, str], user: str, password: str) -> tuple[str | None, str | None]:
    values = _optional(env, user), _optional(env, password)
    if bool(values[0]) != bool(values[1]):
        raise ConfigurationError(f"{user} et {password} vont ensemble.")
    return values


def _switch(env: Mapping[str, str], name: str) -> bool:
    """``on`` (the default) or ``off``, nothing else: a typo must not switch anything off."""
    raw = env.get(name, "").strip().lower() or "on"
    if raw not in {"on", "off"}:
        raise ConfigurationError(f"{name} vaut « on » ou « off » (reçu : {raw!r}).")
    return raw == "on"


def _security(env: Mapping[str, str]) -> SmtpSecurity:
    raw = (env.get("DMP_SMTP_SECURITY") or "starttls").strip().lower()
    for security in SMTP_PORTS:
        if raw == security:
            return security
    raise ConfigurationError(
        f"DMP_SMTP_SECURITY vaut « starttls », « tls » ou « none » (reçu : {raw!r})."
    )


def _smtp(env: Mapping[str, str], demo: bool) -> SmtpSettings | None:
    host = _optional(env, "DMP_SMTP_HOST")
    if host is None:
        return None
    security = _security(env)
    if security == "none" and host not in LOOPBACK:
        raise ConfigurationError(
            "DMP_SMTP_SECURITY=none (sans chiffrement) n'est permis que vers un serveur SMTP "
            f"local (localhost, 127.0.0.1, ::1), pas vers {host} : choisissez starttls ou tls."
        )
    username, password = _pair(env, "DMP_SMTP_USERNAME", "DMP_SMTP_PASSWORD")
    mail_from = _optional(env, "DMP_MAIL_FROM")
    if mail_from is None and not demo:
        raise ConfigurationError(
            "DMP_MAIL_FROM (l'adresse d'expédition des e-mails) est obligatoire avec DMP_SMTP_HOST."
        )
    if mail_from is not None and "@" not in parseaddr(mail_from)[1]:
        raise ConfigurationError(f"DMP_MAIL_FROM n'est pas une adresse e-mail : {mail_from!r}.")
    ca_file = _optional(env, "DMP_SMTP_CA_FILE")
    return SmtpSettings(
        host=host,
        port=_positive(env, "DMP_SMTP_PORT", SMTP_PORTS[security]),
        security=security,
        username=username,
        password=password,
        ca_file=Path(ca_file).resolve() if ca_file else None,
        mail_from=mail_from or DEMO_MAIL_FROM,
    )


def _sms(env: Mapping[str, str]) -> SmsSettings | None:
    url = _optional(env, "DMP_SMS_URL")
    if url is None:
        return None
    _check_sms_url(url)
    token = _optional(env, "DMP_SMS_TOKEN")
    username, password = _pair(env, "DMP_SMS_USERNAME", "DMP_SMS_PASSWORD")
    if token and username:
        raise ConfigurationError(
            "Choisissez DMP_SMS_TOKEN ou DMP_SMS_USERNAME et DMP_SMS_PASSWORD, pas les deux."
        )
    template = env.get("DMP_SMS_TEMPLATE") or DEFAULT_SMS_TEMPLATE
    _check_sms_template(template)
    return SmsSettings(url, token, username, password, template)


def _check_sms_url(url: str) -> None:
    parts = urlsplit(url)
    secure = parts.scheme == "https" and bool(parts.hostname)
    if not (secure or (parts.scheme == "http" and parts.hostname in LOOPBACK)):
        raise ConfigurationError(
            f"DMP_SMS_URL doit être une adresse https:// (http:// seulement en local) : {url!r}."
        )


def _check_sms_template(template: str) -> None:
    """Read at start, so that a broken template is a refusal to start, not a lost SMS."""
    try:
        json.loads(template)
    except ValueError as error:
        raise ConfigurationError(f"DMP_SMS_TEMPLATE n'est pas du JSON valide : {error}") from None
    missing = [p for p in SMS_PLACEHOLDERS if p not in template]
    if missing:
        raise ConfigurationError(
            f"DMP_SMS_TEMPLATE doit contenir {' et '.join(missing)} (le numéro et le texte du "
            "message ; {reference}, la référence du message, est conseillé)."
        )


_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
ADDRESSING_STYLES: tuple[AddressingStyle, ...] = ("auto", "path", "virtual")


def _blob_s3(env: Mapping[str, str]) -> S3Settings | None:
    """``DMP_BLOB_URL=s3://bucket[/prefix]`` and its ``DMP_S3_*`` companions; None without it."""
    url = _optional(env, "DMP_BLOB_URL")
    if url is None:
        return None
    if _optional(env, "DMP_BLOB_DIR"):
        raise ConfigurationError(
            "DMP_BLOB_URL (S3) et DMP_BLOB_DIR (fichiers locaux) désignent chacun le stockage "
            "des documents : n'en donnez qu'un."
        )
    bucket, prefix = _s3_location(url.strip())
    username, password = _pair(env, "DMP_S3_ACCESS_KEY_ID", "DMP_S3_SECRET_ACCESS_KEY")
    endpoint = _optional(env, "DMP_S3_ENDPOINT_URL")
    if endpoint is not None:
        _check_endpoint(endpoint)
    return S3Settings(
        bucket=bucket,
        prefix=prefix,
        endpoint_url=endpoint.rstrip("/") if endpoint else None,
        region=_optional(env, "DMP_S3_REGION"),
        access_key_id=username,
        secret_access_key=password,
        addressing_style=_addressing(env),
    )


def _s3_location(url: str) -> tuple[str, str]:
    """The bucket and the prefix (``""`` or ``"a/b/"``) of ``s3://bucket[/a/b]``."""
    scheme, _, rest = url.partition("://")
    bucket, _, path = rest.partition("/")
    parts = [part for part in path.split("/") if part]
    if (
        scheme != "s3"
        or not _BUCKET.fullmatch(bucket)
        or ".." in bucket
        or not all(_PREFIX_PART.fullmatch(part) for part in parts)
    ):
        raise ConfigurationError(
            "DMP_BLOB_URL désigne un compartiment S3 : s3://compartiment[/préfixe] (compartiment "
            "en minuscules, chiffres, points et tirets ; préfixe en lettres, chiffres, « . », "
            f"« _ », « - » et « / ») ; reçu : {url[:80]!r}."
        )
    return bucket, "".join(f"{part}/" for part in parts)


def _check_endpoint(url: str) -> None:
    parts = urlsplit(url)
    secure = parts.scheme == "https" and bool(parts.hostname)
    if not (secure or (parts.scheme == "http" and parts.hostname in LOOPBACK)):
        raise ConfigurationError(
            "DMP_S3_ENDPOINT_URL doit être une adresse https:// (http:// seulement en local) : "
            f"{url!r}."
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ConfigurationError(
            f"DMP_S3_ENDPOINT_URL est l'adresse du service S3, sans chemin : {url!r}."
        )


def _addressing(env: Mapping[str, str]) -> AddressingStyle:
    raw = (env.get("DMP_S3_ADDRESSING_STYLE") or "auto").strip().lower()
    for style in ADDRESSING_STYLES:
        if raw == style:
            return style
    raise ConfigurationError(
        f"DMP_S3_ADDRESSING_STYLE vaut « auto », « path » ou « virtual » (reçu : {raw!r})."
    )


def _delivery(env: Mapping[str, str]) -> DeliverySettings:
    return DeliverySettings(
        enabled=_switch(env, "DMP_NOTIFICATIONS"),
        timeout_seconds=float(_positive(env, "DMP_NOTIFY_TIMEOUT", 10)),
        max_attempts=_positive(env, "DMP_NOTIFY_MAX_ATTEMPTS", 10),
        retry_seconds=_positive(env, "DMP_NOTIFY_RETRY_DELAY", 60),
        interval_seconds=_positive(env, "DMP_NOTIFY_INTERVAL", 5),
    )


def _public_parts(url: str) -> SplitResult:
    """The public address, checked: https:// with a host name, or http://localhost (a browser
    offers passkeys to no other site in clear, and to no bare IP address); no user, no path."""
    try:
        parts = urlsplit(url.strip())
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # a port that is not a number
        port_ok = False
    host = parts.hostname or "" if port_ok else ""
    secure = parts.scheme == "https" and _is_domain(host)
    local = parts.scheme == "http" and host == "localhost"
    bare = parts.path in ("", "/") and not (parts.query or parts.fragment or parts.username)
    if not ((secure or local) and bare):
        raise ConfigurationError(
            "DMP_PUBLIC_URL est l'adresse du portail telle que les patients la tapent : "
            f"https://nom.de.domaine (http://localhost en local), sans chemin (reçu : {url!r})."
        )
    return parts


def _is_domain(host: str) -> bool:
    """A host name, not an IP address: a passkey is bound to a domain."""
    return bool(host) and ":" not in host and re.fullmatch("[0-9.]+", host) is None


def _public_url(env: Mapping[str, str], port: int) -> str:
    """``DMP_PUBLIC_URL``; by default the service on this machine, as a browser here names it."""
    url = (env.get("DMP_PUBLIC_URL") or "").strip() or f"http://localhost:{port}"
    _public_parts(url)
    return url.rstrip("/")


def _oidc(env: Mapping[str, str]) -> OidcSettings | None:
    """``DMP_PSC_ISSUER``, ``DMP_PSC_CLIENT_ID``, ``DMP_PSC_CLIENT_SECRET``: all or none."""
    names = ("DMP_PSC_ISSUER", "DMP_PSC_CLIENT_ID", "DMP_PSC_CLIENT_SECRET")
    values = [(env.get(name) or "").strip() for name in names]
    if not any(values):
        return None
    if not all(values):
        raise ConfigurationError(
            "DMP_PSC_ISSUER, DMP_PSC_CLIENT_ID et DMP_PSC_CLIENT_SECRET vont ensemble : "
            "renseignez les trois, ou aucun."
        )
    issuer = values[0].rstrip("/")
    parts = urlsplit(issuer)
    secure = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)
    if not secure or not parts.hostname or parts.query or parts.fragment:
        raise ConfigurationError(
            "DMP_PSC_ISSUER doit être une adresse https:// (http:// en local), "
            f"pas {issuer[:80]!r}."
        )
    scope = (env.get("DMP_PSC_SCOPE") or "").strip() or "openid scope_all"
    return OidcSettings(issuer, values[1], values[2], scope)


def _origins(env: Mapping[str, str]) -> tuple[str, ...]:
    """``DMP_CORS_ORIGINS``: origins (``https://app.example.org``), separated by commas."""
    found = []
    for raw in (env.get("DMP_CORS_ORIGINS") or "").split(","):
        origin = raw.strip().rstrip("/")
        if not origin:
            continue
        parts = urlsplit(origin)
        secure = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)
        if not secure or not parts.hostname or parts.path or parts.query or parts.fragment:
            raise ConfigurationError(
                "DMP_CORS_ORIGINS : des origines https://hôte[:port], séparées par des virgules "
                f"(http:// seulement en local), pas {origin[:80]!r}."
            )
        found.append(origin)
    return tuple(found)


def load_settings(env: Mapping[str, str] | None = None, *, demo: bool | None = None) -> Settings:
    """Read the settings once. ``demo`` forces demo mode (the ``dmp demo`` command)."""
    env = os.environ if env is None else env
    is_demo = _bool(env, "DMP_DEMO") if demo is None else demo
    data_dir = Path(env.get("DMP_DATA_DIR") or "var").resolve()
    master_keys = env.get("DMP_MASTER_KEYS", "")
    audit_key = env.get("DMP_AUDIT_SIGNING_KEY", "")
    if not is_demo and (not master_keys or not audit_key):
        raise ConfigurationError(
            "DMP_MASTER_KEYS et DMP_AUDIT_SIGNING_KEY sont obligatoires hors mode démo "
            "(générez-les avec « dmp keys generate »)."
        )
    host = env.get("DMP_HOST") or "127.0.0.1"
    port = _int(env, "DMP_PORT", 8000)
    return Settings(
        data_dir=data_dir,
        database_url=env.get("DMP_DATABASE_URL") or f"sqlite:///{data_dir / 'dmp.sqlite3'}",
        keystore_url=env.get("DMP_KEYSTORE_URL") or f"sqlite:///{data_dir / 'keys.sqlite3'}",
        blob_dir=Path(env.get("DMP_BLOB_DIR") or data_dir / "blobs").resolve(),
        master_keys=master_keys,
        audit_signing_key=audit_key,
        demo=is_demo,
        max_content_bytes=_int(env, "DMP_MAX_CONTENT_BYTES", 50 * MIB),
        host=host,
        cookie_secure=_cookie_secure(env, is_demo, host),
        port=port,
        workers=_int(env, "DMP_WORKERS", os.cpu_count() or 1),
        step_up_max_age_seconds=_int(env, "DMP_STEP_UP_MAX_AGE", 600),
        smtp=_smtp(env, is_demo),
        sms=_sms(env),
        delivery=_delivery(env),
        witness_dir=Path(env.get("DMP_WITNESS_DIR") or data_dir / "witness").resolve(),
        witness_interval_seconds=_positive(env, "DMP_WITNESS_INTERVAL", 10),
        public_url=_public_url(env, port),
        cors_origins=_origins(env),
        oidc=_oidc(env),
        blob_s3=_blob_s3(env),
    )

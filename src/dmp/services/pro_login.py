"""How a professional logs in to the professional portal (``/pro``), and who their session acts
as on every page (ADR 6).

Two ways in, both ending in the same session:

- **the identity provider** (OpenID Connect, Pro Santé Connect in France): the authorization
  code with PKCE; the provider's ``SubjectNameID`` claim (``8`` + RPPS) names a professional of
  our directory, whose profession must agree with the provider's ``SubjectRole`` when it gives
  one;
- **without one** (the demo, a host with no provider): RPPS, a password the operator set
  (Argon2id), then a code of an authenticator app (TOTP), enrolled at the first login.

Either way the directory, not the provider, says who may act: an occupational physician, a
professional attached only to excluded organizations, one no longer practising is refused at
login, told why, and the refusal is in the system's audit chain. The professional then acts
alone, or for one of their care establishments (chosen once, for the session). Every page asks
the directory again (``actor``): a professional excluded meanwhile is out at the next page.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import pyotp
from argon2.exceptions import Argon2Error

from dmp import policy
from dmp.adapters.db.uow import UnitOfWork
from dmp.adapters.fieldcipher import FieldCipher
from dmp.adapters.oidc import OidcError
from dmp.domain.directory import ProfessionalLogin
from dmp.domain.identifiers import parse_rpps
from dmp.domain.inputs import check_justification
from dmp.domain.model import (
    AccessMode,
    Establishment,
    Professional,
    ProfessionalActor,
    SystemActor,
)
from dmp.errors import DmpError, Forbidden, InvalidInput, NotFound
from dmp.services import audit
from dmp.services.authenticator import Enrolment, matching_step
from dmp.services.context import Context
from dmp.services.directory import OPERATOR, professional_actor
from dmp.services.gate import Reading
from dmp.services.login import check_password
from dmp.services.sessions import (
    ANONYMOUS,
    PRO_CODE,
    PRO_ENROL,
    PRO_PLACE,
    PRO_SIGNED_IN,
    Opened,
    SignInRequired,
    WebSession,
    new_session,
)

ISSUER = "DMP Pro"  # what the authenticator app shows above the codes
CODE_TRIES = 5
OIDC_LIFETIME = timedelta(minutes=10)  # to log in at the provider, unhurried
RPPS_PREFIX = "8"  # Pro Santé Connect's SubjectNameID: 8 + the RPPS
MAX_PASSWORD = 128
LOGIN_ACTION = "pro.sign-in"
_DECOY = secrets.token_urlsafe(16)
_decoys: dict[int, str] = {}


class ProLoginFailed(DmpError):
    """Every failure of the password or the code reads the same."""

    code = "pro-login"
    status = 401
    message = "RPPS, mot de passe ou code incorrect. Recommencez la connexion."


class ProviderFailed(DmpError):
    code = "pro-provider"
    status = 401
    message = (
        "La connexion par Pro Santé Connect n'a pas abouti (refusée, expirée, ou commencée "
        "dans un autre onglet) : recommencez."
    )


class ProRefused(Forbidden):
    """Who the directory keeps out, told why."""

    code = "pro-refused"


@dataclass(frozen=True, slots=True)
class Place:
    """An establishment the professional may act for."""

    id: UUID
    finess: str
    name: str


# --- the password and the authenticator app -------------------------------------------------------


def begin(ctx: Context, session: WebSession, rpps: str, password: str) -> WebSession:
    """RPPS and password: right, the session waits for the app's code (or its enrolment);
    wrong, the same refusal whatever was wrong. The law's exclusion is said once the password
    is right (and audited)."""
    try:
        rpps = parse_rpps(rpps.strip())
    except InvalidInput:
        raise ProLoginFailed() from None
    with ctx.uow() as uow:
        professional = uow.directory.professional_by_rpps(rpps)
        login = uow.directory.login_of(professional.id, for_update=True) if professional else None
        if professional is None or login is None or not _password_holds(ctx, uow, login, password):
            uow.commit()
            raise ProLoginFailed()
        _admit(ctx, uow, professional, "password")
        stage = PRO_ENROL if login.totp_secret_enc is None else PRO_CODE
        uow.accounts.update_session(
            session.id, stage=stage, professional_id=professional.id, pro_state=None
        )
        uow.commit()
    return _with(session, stage=stage, professional_id=professional.id, pro_state=None)


def _password_holds(ctx: Context, uow: UnitOfWork, login: ProfessionalLogin, password: str) -> bool:
    now = ctx.now()
    hashed = login.password_hash
    if hashed is None or (login.next_login_at is not None and now < login.next_login_at):
        _verify(ctx, _decoy_hash(ctx), password)  # the same work: nothing told by the time
        return False
    if not _verify(ctx, hashed, password[:MAX_PASSWORD]):
        failures = login.failed_logins + 1
        wait = _wait_after(failures)
        uow.directory.update_professional(
            login.id, failed_logins=failures, next_login_at=now + wait if wait else None
        )
        return False
    if login.failed_logins or login.next_login_at is not None:
        uow.directory.update_professional(login.id, failed_logins=0, next_login_at=None)
    if ctx.password_hasher.check_needs_rehash(hashed):
        new_hash = ctx.password_hasher.hash(password)
        uow.directory.update_professional(login.id, password_hash=new_hash)
    return True


def _wait_after(failures: int) -> timedelta | None:
    """From the 3rd wrong password, 1, 2, 4… seconds before the next try; 30 minutes at the
    10th (as the patients' login, ADR 5)."""
    if failures >= 10:
        return timedelta(minutes=30)
    if failures >= 3:
        return timedelta(seconds=2 ** (failures - 3))
    return None


def _verify(ctx: Context, hashed: str, password: str) -> bool:
    try:
        return bool(ctx.password_hasher.verify(hashed, password))
    except Argon2Error:
        return False


def _decoy_hash(ctx: Context) -> str:
    key = id(ctx.password_hasher)
    if key not in _decoys:
        _decoys[key] = ctx.password_hasher.hash(_DECOY)
    return _decoys[key]


def _admit(ctx: Context, uow: UnitOfWork, professional: Professional, how: str) -> None:
    """May this professional hold credentials at all? Refused: audited, committed, told why."""
    decision = policy.may_hold_credentials(professional, None)
    if not decision:
        _audit(ctx, uow, professional.rpps, False, decision.reason)
        uow.commit()
        raise ProRefused(f"Connexion refusée : {decision.message}")


def _audit(ctx: Context, uow: UnitOfWork, rpps: str, allowed: bool, reason: str) -> None:
    event = audit.Event(LOGIN_ACTION, allowed, reason, "professional", rpps)
    audit.append(uow, ctx.signer, ctx.now(), None, SystemActor("pro-portal"), event)


def _cipher(ctx: Context, professional_id: UUID) -> FieldCipher:
    """What seals a professional's app secret: a key of their own in the key store."""
    return FieldCipher(professional_id, ctx.keys.open_or_create(professional_id))


def enrolment(ctx: Context, session: WebSession) -> Enrolment:
    """The new secret for the app, at the first login: the same one while the page is
    reloaded, held sealed in the session until a first code proves the app has it."""
    professional_id = _stage(session, PRO_ENROL)
    cipher, state = _cipher(ctx, professional_id), _state(session)
    with ctx.uow() as uow:
        if "enrol" in state:
            secret = cipher.open("totp-enrol", session.id, base64.b64decode(state["enrol"]))
        else:
            secret = pyotp.random_base32()
            sealed = cipher.seal("totp-enrol", session.id, secret)
            state = {"enrol": base64.b64encode(sealed).decode(), "tries": 0}
            uow.accounts.update_session(session.id, pro_state=json.dumps(state))
            uow.commit()
        professional = uow.directory.professional(professional_id)
    label = professional.rpps if professional else str(professional_id)
    uri = pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=ISSUER)
    return Enrolment(secret, uri)


def confirm_enrolment(ctx: Context, session: WebSession, code: str) -> Opened:
    """The app's first code: the secret becomes the professional's, and the login is done."""
    professional_id = _stage(session, PRO_ENROL)
    state, now = _state(session), ctx.now()
    if "enrol" not in state:
        raise ProLoginFailed()
    cipher = _cipher(ctx, professional_id)
    secret = cipher.open("totp-enrol", session.id, base64.b64decode(state["enrol"]))
    with ctx.uow() as uow:
        step = matching_step(secret, code, now)
        if step is None:
            _count_try(uow, session, state)
            uow.commit()
            raise ProLoginFailed(
                "Ce code ne correspond pas : saisissez celui que l'application affiche maintenant."
            )
        uow.directory.update_professional(
            professional_id,
            totp_secret_enc=cipher.seal("totp", "professional", secret),
            totp_last_step=step,
        )
        opened = _signed_in(ctx, uow, session, professional_id, "password-app-enrolled")
        uow.commit()
    return opened


def finish(ctx: Context, session: WebSession, code: str) -> Opened:
    """The app's code: each time step once, one step of drift either way; five tries."""
    professional_id = _stage(session, PRO_CODE)
    state, now = _state(session), ctx.now()
    with ctx.uow() as uow:
        login = uow.directory.login_of(professional_id, for_update=True)
        if login is None or login.totp_secret_enc is None:
            raise SignInRequired()
        secret = _cipher(ctx, professional_id).open("totp", "professional", login.totp_secret_enc)
        step = matching_step(secret, code, now)
        last = login.totp_last_step
        if step is None or (last is not None and step <= last):
            _count_try(uow, session, state)
            uow.commit()
            raise ProLoginFailed()
        uow.directory.update_professional(professional_id, totp_last_step=step)
        opened = _signed_in(ctx, uow, session, professional_id, "password-app")
        uow.commit()
    return opened


def _count_try(uow: UnitOfWork, session: WebSession, state: dict[str, Any]) -> None:
    """A wrong code: after five, the login starts again from the password."""
    counted = state.get("tries", 0)
    tries = (counted if isinstance(counted, int) else CODE_TRIES) + 1
    if tries >= CODE_TRIES:
        uow.accounts.update_session(
            session.id, stage=ANONYMOUS, professional_id=None, pro_state=None
        )
    else:
        uow.accounts.update_session(session.id, pro_state=json.dumps({**state, "tries": tries}))


# --- the identity provider ---------------------------------------------------------------------


def provider_enabled(ctx: Context) -> bool:
    return ctx.oidc is not None


def provider_origins(ctx: Context) -> list[str]:
    """The origins the login form's redirection may lead to: the provider's authorization
    endpoint (where « Pro Santé Connect » sends the browser), and its issuer. A browser holds a
    form's redirections to the page's ``form-action``: without them there, the button goes
    nowhere."""
    if ctx.oidc is None:
        return []
    found = [_origin(ctx.oidc.settings.issuer)]
    with suppress(OidcError):  # the provider is down: the button will say so
        found.append(_origin(str(ctx.oidc.metadata()["authorization_endpoint"])))
    return sorted({o for o in found if o})


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else ""


def _redirect_uri(ctx: Context) -> str:
    return f"{ctx.settings.public_url}/pro/connexion/psc/retour"


def start_provider(ctx: Context, session: WebSession) -> str:
    """Where to send the browser: the provider's authorization address, with a state, a nonce
    and the PKCE challenge; the state, the nonce and the verifier wait in the session."""
    if ctx.oidc is None:
        raise NotFound("La connexion par Pro Santé Connect n'est pas configurée ici.")
    pending = {
        "state": secrets.token_urlsafe(32),
        "nonce": secrets.token_urlsafe(32),
        "verifier": secrets.token_urlsafe(48),
        "at": ctx.now().isoformat(),
    }
    try:
        url = ctx.oidc.authorization_url(
            _redirect_uri(ctx), pending["state"], pending["nonce"], pending["verifier"]
        )
    except OidcError as exc:
        raise ProviderFailed("Pro Santé Connect ne répond pas : réessayez plus tard.") from exc
    with ctx.uow() as uow:
        uow.accounts.update_session(session.id, pro_state=json.dumps({"oidc": pending}))
        uow.commit()
    return url


def finish_provider(ctx: Context, session: WebSession | None, code: str, state: str) -> Opened:
    """The provider's answer: the state must be this session's (one use, ten minutes), the code
    is exchanged with the verifier, the ID token checked; the claims name the professional."""
    pending = _pending_provider(ctx, session, state)
    assert session is not None
    assert ctx.oidc is not None
    with ctx.uow() as uow:
        uow.accounts.update_session(session.id, pro_state=None)  # one use, whatever follows
        uow.commit()
    try:
        who = ctx.oidc.identify(_redirect_uri(ctx), code, pending["verifier"], pending["nonce"])
    except OidcError as exc:
        raise ProviderFailed() from exc
    rpps = _rpps_claim(who.claims)
    with ctx.uow() as uow:
        professional = uow.directory.professional_by_rpps(rpps) if rpps else None
        if professional is None:
            _audit(ctx, uow, rpps or "?", False, "unknown-professional")
            uow.commit()
            raise ProRefused(
                "Pro Santé Connect vous a identifié, mais vous n'êtes pas inscrit dans l'annuaire "
                "de ce service : demandez à l'opérateur de vous y inscrire."
            )
        _admit(ctx, uow, professional, "provider")
        if not _same_profession(who.claims, professional):
            _audit(ctx, uow, professional.rpps, False, "profession-mismatch")
            uow.commit()
            raise ProRefused(
                "La profession que Pro Santé Connect indique ne correspond pas à celle de "
                "l'annuaire : connexion refusée. Signalez-le à l'opérateur."
            )
        opened = _signed_in(ctx, uow, session, professional.id, "provider")
        uow.commit()
    return opened


def _pending_provider(ctx: Context, session: WebSession | None, state: str) -> dict[str, str]:
    if ctx.oidc is None:
        raise NotFound("La connexion par Pro Santé Connect n'est pas configurée ici.")
    pending = _state(session).get("oidc") if session is not None else None
    if not isinstance(pending, dict) or not state:
        raise ProviderFailed()
    if not hmac.compare_digest(str(pending.get("state", "")), state):
        raise ProviderFailed()
    if ctx.now() - datetime.fromisoformat(str(pending["at"])) > OIDC_LIFETIME:
        raise ProviderFailed()
    return {k: str(v) for k, v in pending.items()}


def _rpps_claim(claims: dict[str, Any]) -> str | None:
    """``SubjectNameID``: ``8`` followed by the RPPS, for an RPPS-registered professional."""
    found = claims.get("SubjectNameID")
    if not isinstance(found, str) or not found.startswith(RPPS_PREFIX):
        return None
    try:
        return parse_rpps(found[len(RPPS_PREFIX) :])
    except InvalidInput:
        return None


def _same_profession(claims: dict[str, Any], professional: Professional) -> bool:
    """``SubjectRole`` (``<TRE_G15 code>^<system>``, one or several): when given, one of them
    must be the directory's profession."""
    roles = claims.get("SubjectRole")
    if roles is None:
        return True
    listed = roles if isinstance(roles, list) else [roles]
    return professional.profession in {str(role).split("^", 1)[0] for role in listed}


# --- the session --------------------------------------------------------------------------------


def _signed_in(
    ctx: Context, uow: UnitOfWork, session: WebSession, professional_id: UUID, how: str
) -> Opened:
    """The login is complete: a new session (a new token), the old one gone; the
    establishment is chosen next when there is one to choose."""
    professional = uow.directory.professional(professional_id)
    if professional is None:
        raise SignInRequired()
    places = _places(uow, professional)
    uow.accounts.delete_session(session.id)
    now = ctx.now()
    stage = PRO_PLACE if places else PRO_SIGNED_IN
    _audit(ctx, uow, professional.rpps, True, how)
    return new_session(ctx, uow, stage=stage, professional_id=professional_id, signed_in_at=now)


def _places(uow: UnitOfWork, professional: Professional) -> list[Place]:
    found = []
    for establishment_id in professional.establishment_ids:
        establishment = uow.directory.establishment(establishment_id)
        if establishment is not None and policy.may_act_for(establishment):
            found.append(Place(establishment.id, establishment.finess, establishment.name))
    return sorted(found, key=lambda p: p.name)


def places(ctx: Context, session: WebSession) -> list[Place]:
    """The establishments the professional may act for, to choose one (or none)."""
    professional_id = _stage(session, PRO_PLACE)
    with ctx.reader() as uow:
        professional = uow.directory.professional(professional_id)
        return _places(uow, professional) if professional else []


def choose_place(ctx: Context, session: WebSession, establishment_id: UUID | None) -> None:
    """Act for this establishment (or alone) for the rest of the session."""
    professional_id = _stage(session, PRO_PLACE)
    with ctx.uow() as uow:
        professional = uow.directory.professional(professional_id)
        if professional is None:
            raise SignInRequired()
        allowed = {p.id for p in _places(uow, professional)}
        if establishment_id is not None and establishment_id not in allowed:
            raise InvalidInput("Choisissez l'un de vos établissements.", code="establishment")
        uow.accounts.update_session(
            session.id, stage=PRO_SIGNED_IN, establishment_id=establishment_id
        )
        uow.commit()


def actor(ctx: Context, session: WebSession | None) -> ProfessionalActor:
    """Whom this session acts as, as the directory has it now: a professional excluded,
    inactive or detached from the establishment since the login is refused at once."""
    if session is None or not session.pro_signed_in or session.professional_id is None:
        raise SignInRequired()
    with ctx.reader() as uow:
        professional = uow.directory.professional(session.professional_id)
        establishment = (
            uow.directory.establishment(session.establishment_id)
            if session.establishment_id is not None
            else None
        )
    if professional is None:
        raise SignInRequired()
    decision = policy.may_hold_credentials(professional, establishment)
    if not decision:
        raise ProRefused(f"Accès refusé : {decision.message}")
    return professional_actor(ctx, professional, establishment)


def who(ctx: Context, session: WebSession) -> tuple[Professional, Establishment | None]:
    """The professional of the session and the establishment they act for, for the pages."""
    with ctx.reader() as uow:
        professional = (
            uow.directory.professional(session.professional_id) if session.professional_id else None
        )
        establishment = (
            uow.directory.establishment(session.establishment_id)
            if session.establishment_id
            else None
        )
    if professional is None:
        raise SignInRequired()
    return professional, establishment


def _stage(session: WebSession | None, stage: str) -> UUID:
    if session is None or session.stage != stage or session.professional_id is None:
        raise SignInRequired()
    return session.professional_id


def _state(session: WebSession | None) -> dict[str, Any]:
    if session is None or not session.pro_state:
        return {}
    found = json.loads(session.pro_state)
    return found if isinstance(found, dict) else {}


def _with(session: WebSession, **changes: object) -> WebSession:
    return replace(session, **changes)  # type: ignore[arg-type]


# --- an emergency access, for the rest of the session --------------------------------------------


def ask_emergency(
    ctx: Context, session: WebSession, dmp_id: UUID, mode: AccessMode, justification: str
) -> None:
    """The professional asks to open this DMP in an emergency mode, with a justification: the
    pages of this DMP read in that mode for the rest of the session (each read decided by the
    policy and audited with the mode and the justification, the patient and the médecin
    traitant told). Asked without a justification, it is refused at once."""
    if mode is AccessMode.NORMAL:
        raise InvalidInput("Mode d'accès inconnu.", code="mode")
    justification = check_justification(justification.strip())
    if policy.unjustified(mode, justification):
        raise InvalidInput(policy.REASONS["justification-required"], code="justification")
    state = {
        **_state(session),
        "access": {"dmp": str(dmp_id), "mode": mode.value, "why": justification},
    }
    with ctx.uow() as uow:
        uow.accounts.update_session(session.id, pro_state=json.dumps(state))
        uow.commit()


def reading(session: WebSession, actor: ProfessionalActor, dmp_id: UUID) -> Reading:
    """How this session reads this DMP: in the emergency mode it asked for it, or normally."""
    access = _state(session).get("access")
    if isinstance(access, dict) and access.get("dmp") == str(dmp_id):
        return Reading(actor, AccessMode(access["mode"]), str(access["why"]))
    return Reading(actor)


# --- the operator ---------------------------------------------------------------------------------


def set_password(ctx: Context, rpps: str, password: str) -> None:
    """The operator sets a professional's password for the portal (the app is enrolled at the
    next login): every session of theirs ends, the app is to enrol again."""
    rpps = parse_rpps(rpps)
    check_password(password)
    with ctx.uow() as uow:
        professional = uow.directory.professional_by_rpps(rpps)
        if professional is None:
            raise NotFound(f"Aucun professionnel avec le RPPS {rpps}.")
        decision = policy.may_hold_credentials(professional, None)
        if not decision:
            raise Forbidden(decision.message)
        uow.directory.update_professional(
            professional.id,
            password_hash=ctx.password_hasher.hash(password),
            totp_secret_enc=None,
            totp_last_step=None,
            failed_logins=0,
            next_login_at=None,
        )
        uow.accounts.delete_sessions_of_professional(professional.id)
        event = audit.Event("directory.professional.password", True, "set", "professional", rpps)
        audit.append(uow, ctx.signer, ctx.now(), None, OPERATOR, event)
        uow.commit()

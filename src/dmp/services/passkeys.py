"""Passkeys (WebAuthn) as the second factor of the login: a key pair made by the person's device
(a phone, a computer, a security key), whose private half never leaves it. Nothing can be read
over a shoulder, typed into a copy of the site, or diverted on the way: the browser signs for
the portal's own address only (the relying party, ``DMP_PUBLIC_URL``).

The server keeps the public key, the credential's id and its signature counter (which must only
go up: a copied authenticator shows itself by going back), and each ceremony's challenge: random,
bound to the session, used once, dead after a few minutes. At login the passkey is asked for
without naming the account's credentials (the device offers its own for this site), so that the
question is the same whether the identifier and the password were right, and whether the account
has a passkey at all; every failure reads as a wrong code (``login.LoginFailed``).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import parse_authentication_credential_json
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from dmp.adapters.db.uow import UnitOfWork
from dmp.domain.accounts import Account, Challenge, Passkey
from dmp.domain.inputs import check_passkey_name
from dmp.errors import Conflict, DmpError, NotFound
from dmp.services import login
from dmp.services.context import Context
from dmp.services.factors import (
    PASSKEY_ADDED,
    PASSKEY_REMOVED,
    account_cipher,
    open_doors,
    record_change,
    require_fresh,
)
from dmp.services.sessions import CODE, SignInRequired, WebSession

RP_NAME = "Mon DMP"
REGISTRATION, AUTHENTICATION = "passkey-enrol", "passkey-login"
CHALLENGE_SECONDS = 300
CHALLENGE_LIFETIME = timedelta(seconds=CHALLENGE_SECONDS)
PASSKEYS_PER_ACCOUNT = 10
# ES256 (nearly every authenticator), Ed25519, RS256 (Windows Hello).
ALGORITHMS = [
    COSEAlgorithmIdentifier.ECDSA_SHA_256,
    COSEAlgorithmIdentifier.EDDSA,
    COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256,
]
# Library failures on a credential someone sent: all of them mean "not proven".
_REFUSED = (WebAuthnException, ValueError, TypeError, KeyError)


class PasskeyRefused(DmpError):
    code = "passkey"
    status = 400
    message = (
        "La clé d'accès n'a pas pu être enregistrée : l'opération a expiré ou a été "
        "interrompue. Recommencez l'ajout."
    )


def _new_challenge(
    uow: UnitOfWork, session_id: str, account_id: UUID | None, purpose: str, now: datetime
) -> bytes:
    """A random challenge for this session, replacing the one it had for the same purpose."""
    challenge = secrets.token_bytes(32)
    uow.factors.replace_challenge(
        {
            "id": uuid4(),
            "session_id": session_id,
            "account_id": account_id,
            "purpose": purpose,
            "challenge": challenge,
            "secret_enc": None,
            "created_at": now,
            "expires_at": now + CHALLENGE_LIFETIME,
            "attempts": 0,
            "used_at": None,
        }
    )
    return challenge


def _spend(uow: UnitOfWork, session_id: str, purpose: str, now: datetime) -> Challenge | None:
    """The session's challenge for this purpose, used now whatever comes next (a failed answer
    spends it too); None when there is none alive."""
    pending = uow.factors.pending_challenge(session_id, purpose)
    if pending is None:
        return None
    uow.factors.update_challenge(pending.id, used_at=now)
    return pending if now <= pending.expires_at else None


# --- registering a passkey ------------------------------------------------------------------------


def registration_options(ctx: Context, session: WebSession, name: str) -> str:
    """What the browser needs to have the device make a passkey for this account (JSON, as
    ``navigator.credentials.create`` takes it once decoded)."""
    require_fresh(ctx, session)
    check_passkey_name(name)
    actor, now = session.actor(), ctx.now()
    with ctx.uow() as uow:
        account = uow.accounts.get(actor.account_id)
        if account is None:
            raise SignInRequired()
        known = uow.factors.passkeys_of(actor.account_id)
        _check_room(known)
        challenge = _new_challenge(uow, session.id, actor.account_id, REGISTRATION, now)
        uow.commit()
    options = generate_registration_options(
        rp_id=ctx.settings.webauthn_rp_id,
        rp_name=RP_NAME,
        # The account's id: random, and no personal data (the device shows the login instead).
        user_id=actor.account_id.bytes,
        user_name=account.login,
        user_display_name=f"DMP {account.login}",
        challenge=challenge,
        timeout=CHALLENGE_SECONDS * 1000,
        attestation=AttestationConveyancePreference.NONE,
        # Discoverable: at login the device finds it without being told the account's ids.
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=k.credential_id) for k in known],
        supported_pub_key_algs=ALGORITHMS,
    )
    return options_to_json(options)


def _check_room(known: list[Passkey]) -> None:
    if len(known) >= PASSKEYS_PER_ACCOUNT:
        raise Conflict(
            f"Vous avez déjà {PASSKEYS_PER_ACCOUNT} clés d'accès : retirez-en une d'abord."
        )


def register(ctx: Context, session: WebSession, name: str, credential: str) -> UUID:
    """Keep the passkey the device made, if it answers this session's challenge for this site:
    its public key, id and counter, and its name sealed. Written to the history, and the
    patient is told."""
    require_fresh(ctx, session)
    name = check_passkey_name(name)
    actor, now, passkey_id = session.actor(), ctx.now(), uuid4()
    with ctx.uow() as uow:
        doors = open_doors(ctx, uow, session, PASSKEY_ADDED, ("passkey", passkey_id))
        pending = _spend(uow, session.id, REGISTRATION, now)
        made = _verified_registration(ctx, pending, credential)
        if made is None or uow.factors.passkey_by_credential(made.credential_id) is not None:
            uow.commit()
            raise PasskeyRefused()
        _check_room(uow.factors.passkeys_of(actor.account_id))
        uow.factors.add_passkey(
            {
                "id": passkey_id,
                "account_id": actor.account_id,
                "credential_id": made.credential_id,
                "public_key": made.credential_public_key,
                "sign_count": made.sign_count,
                "name_enc": account_cipher(ctx, actor.account_id).seal(
                    "passkey-name", passkey_id, name
                ),
                "created_at": now,
                "last_used_at": None,
            }
        )
        record_change(uow, doors, actor.account_id, now)
        uow.commit()
    return passkey_id


def _verified_registration(ctx: Context, pending: Challenge | None, credential: str) -> Any:
    if pending is None or pending.challenge is None:
        return None
    try:
        return verify_registration_response(
            credential=credential,
            expected_challenge=pending.challenge,
            expected_rp_id=ctx.settings.webauthn_rp_id,
            expected_origin=ctx.settings.webauthn_origin,
            supported_pub_key_algs=ALGORITHMS,
        )
    except _REFUSED:
        return None


def remove(ctx: Context, session: WebSession, passkey_id: UUID) -> None:
    """The passkey no longer logs in (it may stay on the device: it opens nothing here)."""
    require_fresh(ctx, session)
    actor, now = session.actor(), ctx.now()
    with ctx.uow() as uow:
        doors = open_doors(ctx, uow, session, PASSKEY_REMOVED, ("passkey", passkey_id))
        if not uow.factors.delete_passkey(actor.account_id, passkey_id):
            raise NotFound("Cette clé d'accès n'existe pas ou a déjà été retirée.")
        record_change(uow, doors, actor.account_id, now)
        uow.commit()


# --- logging in with a passkey ----------------------------------------------------------------


def login_options(ctx: Context, session: WebSession) -> str:
    """The question asked of the device at the second step of a login: the same for everyone
    (no credential named), whatever the identifier and the password were."""
    if session.stage != CODE:
        raise login.LoginFailed()
    with ctx.uow() as uow:
        challenge = _new_challenge(uow, session.id, session.candidate_id, AUTHENTICATION, ctx.now())
        uow.commit()
    options = generate_authentication_options(
        rp_id=ctx.settings.webauthn_rp_id,
        challenge=challenge,
        timeout=CHALLENGE_SECONDS * 1000,
        allow_credentials=[],
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return options_to_json(options)


def finish_login(ctx: Context, session: WebSession, credential: str) -> login.Done:
    """The device's answer as the second factor: the login completes as with a code, or fails
    as with a wrong one."""
    return login.finish_with(ctx, session, _proof(ctx, session.id, credential), "wrong-passkey")


def _proof(ctx: Context, session_id: str, credential: str) -> login.Proof:
    def holds(uow: UnitOfWork, account: Account | None, now: datetime) -> bool:
        pending = _spend(uow, session_id, AUTHENTICATION, now)
        if pending is None or account is None or pending.account_id != account.id:
            return False
        if pending.challenge is None:  # only an app's enrolment has none
            return False
        return _assertion_holds(ctx, uow, pending.challenge, account, credential, now)

    return holds


def _assertion_holds(
    ctx: Context,
    uow: UnitOfWork,
    challenge: bytes,
    account: Account,
    credential: str,
    now: datetime,
) -> bool:
    """Whether a passkey of this account signed this challenge, for this site, with a counter
    that went up; its counter is then moved."""
    try:
        parsed = parse_authentication_credential_json(credential)
        key = uow.factors.passkey_by_credential(parsed.raw_id)
        if key is None or key.account_id != account.id:
            return False
        handle = parsed.response.user_handle
        if handle is not None and handle != account.id.bytes:
            return False
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=ctx.settings.webauthn_rp_id,
            expected_origin=ctx.settings.webauthn_origin,
            credential_public_key=key.public_key,
            credential_current_sign_count=key.sign_count,
        )
    except _REFUSED:
        return False
    uow.factors.update_passkey(key.id, sign_count=verified.new_sign_count, last_used_at=now)
    return True

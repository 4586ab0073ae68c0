"""OpenID Connect, as a relying party of the professionals' identity provider (Pro Santé Connect
in France): the authorization code flow with PKCE (RFC 7636, S256), the client authenticated by
its secret (``client_secret_basic``), the ID token checked against the provider's published keys
(signature, issuer, audience, nonce, expiry), then the claims read from the userinfo endpoint.

Authlib's client builds the authorization address and exchanges the code; joserfc (Authlib's
JOSE library) checks the ID token. Everything the provider says is checked here; who the claims
name, and whether they may get in, is the directory's and the policy's business
(``services.pro_login``). Library exceptions do not leave this module: ``OidcError`` does."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from dmp.settings import OidcSettings

SIGNING_ALGORITHMS = ("RS256", "PS256", "ES256")
LEEWAY_SECONDS = 60  # clocks of two servers drift a little
METADATA_TTL_SECONDS = 3600


class OidcError(Exception):
    """The provider could not be reached, or what it answered does not hold."""


@dataclass(frozen=True, slots=True)
class Identified:
    """Who the provider says logged in: the ID token's subject, and the claims of the ID token
    and of the userinfo endpoint together."""

    subject: str
    claims: dict[str, Any]


class OidcClient:
    """One provider, one client of it."""

    def __init__(self, settings: OidcSettings, timeout: float = 10.0) -> None:
        self.settings = settings
        self.timeout = timeout
        self._metadata: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def _session(self, redirect_uri: str) -> OAuth2Session:
        return OAuth2Session(
            self.settings.client_id,
            self.settings.client_secret,
            scope=self.settings.scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 (a method's name)
        )

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, its issuer checked, kept an hour."""
        with self._lock:
            fresh = time.monotonic() - self._fetched_at < METADATA_TTL_SECONDS
            if self._metadata is not None and fresh:
                return self._metadata
        found = self._get_json(f"{self.settings.issuer}/.well-known/openid-configuration")
        if found.get("issuer", "").rstrip("/") != self.settings.issuer:
            raise OidcError("the discovery document names another issuer")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(found.get(name), str):
                raise OidcError(f"the discovery document has no {name}")
        with self._lock:
            self._metadata, self._fetched_at = found, time.monotonic()
        return found

    def authorization_url(self, redirect_uri: str, state: str, nonce: str, verifier: str) -> str:
        endpoint = self.metadata()["authorization_endpoint"]
        with self._session(redirect_uri) as client:
            url, _state = client.create_authorization_url(
                endpoint, state=state, code_verifier=verifier, nonce=nonce
            )
        return str(url)

    def identify(self, redirect_uri: str, code: str, verifier: str, nonce: str) -> Identified:
        """Exchange the code (with the PKCE verifier), check the ID token, read the userinfo."""
        metadata = self.metadata()
        try:
            with self._session(redirect_uri) as client:
                token = client.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=verifier,
                    timeout=self.timeout,
                )
        except Exception as exc:  # the library's and the network's errors alike
            raise OidcError(f"the token exchange failed: {type(exc).__name__}") from exc
        claims = self._id_token_claims(token.get("id_token"), nonce)
        subject = str(claims["sub"])
        extra = self._userinfo(metadata, token.get("access_token"), subject)
        return Identified(subject, {**claims, **extra})

    def _id_token_claims(self, id_token: object, nonce: str) -> dict[str, Any]:
        if not isinstance(id_token, str):
            raise OidcError("no ID token")
        keys = KeySet.import_key_set(self._get_json(self.metadata()["jwks_uri"]))  # type: ignore[arg-type]
        try:
            decoded = jwt.decode(id_token, keys, algorithms=list(SIGNING_ALGORITHMS))
            registry = jwt.JWTClaimsRegistry(
                leeway=LEEWAY_SECONDS,
                iss={"essential": True, "value": self.metadata()["issuer"]},
                aud={"essential": True, "value": self.settings.client_id},
                nonce={"essential": True, "value": nonce},
                sub={"essential": True},
                exp={"essential": True},
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise OidcError(f"the ID token does not hold: {type(exc).__name__}") from exc
        claims = dict(decoded.claims)
        audience = claims.get("aud")
        several = isinstance(audience, list) and len(audience) > 1
        if several and claims.get("azp") != self.settings.client_id:
            raise OidcError("the ID token is meant for another party")
        return claims

    def _userinfo(
        self, metadata: dict[str, Any], access_token: object, subject: str
    ) -> dict[str, Any]:
        endpoint = metadata.get("userinfo_endpoint")
        if not isinstance(endpoint, str) or not isinstance(access_token, str):
            return {}
        found = self._get_json(endpoint, headers={"Authorization": f"Bearer {access_token}"})
        if str(found.get("sub")) != subject:
            raise OidcError("the userinfo names another subject")
        return found

    def _get_json(self, url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        try:
            response = requests.get(url, headers=headers, timeout=self.timeout)
            response.raise_for_status()
            found = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise OidcError(f"{url}: {type(exc).__name__}") from exc
        if not isinstance(found, dict):
            raise OidcError(f"{url}: not a JSON object")
        return found

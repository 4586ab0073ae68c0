"""A professional's own API tokens, from the professional portal: created with a name for the
software that will hold it, listed, revoked. The token is shown once and only its hash is kept
(``directory.issue_token``); it acts for the professional as the portal's session does (alone,
or for the establishment chosen at login). Each creation and revocation is in the system's audit
chain, with the professional as its actor."""

from __future__ import annotations

from uuid import UUID

from dmp.domain.directory import ApiTokenListing
from dmp.domain.inputs import check_text
from dmp.domain.model import ProfessionalActor
from dmp.errors import InvalidInput, NotFound
from dmp.services import audit, directory
from dmp.services.context import Context
from dmp.services.directory import IssuedToken

MAX_LABEL = 100  # the column's width
MAX_LISTED = 100
DAYS = 90


def create_token(ctx: Context, actor: ProfessionalActor, label: str) -> IssuedToken:
    """A new token for this professional's software, named so that they can tell it from their
    others; valid ``DAYS`` days."""
    label = check_text(label.strip(), "Le nom du jeton", code="label", max_length=MAX_LABEL)
    if not label:
        raise InvalidInput("Donnez un nom au jeton (le logiciel qui l'utilisera).", code="label")
    return directory.issue_token(
        ctx,
        actor.rpps,
        finess=actor.establishment_finess,
        days=DAYS,
        label=label,
        by=actor,
    )


def tokens_of(ctx: Context, actor: ProfessionalActor) -> list[ApiTokenListing]:
    """This professional's tokens, newest first (revoked and expired ones included, marked)."""
    with ctx.reader() as uow:
        return uow.directory.tokens_of(actor.professional_id, MAX_LISTED)


def revoke_own_token(ctx: Context, actor: ProfessionalActor, token_id: UUID) -> None:
    """Revoke one of this professional's tokens: it stops working at once. Someone else's token
    is answered as a missing one, and the refusal is in the trail."""
    with ctx.uow() as uow:
        revoked = uow.directory.revoke_token(token_id, ctx.now(), actor.professional_id)
        reason = "revoked" if revoked else "no-token"
        event = audit.Event("directory.token.revoke", revoked, reason, "token", token_id)
        audit.append(uow, ctx.signer, ctx.now(), None, actor, event)
        uow.commit()
    if not revoked:
        raise NotFound("Jeton inconnu ou déjà révoqué.")

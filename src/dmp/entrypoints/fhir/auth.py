"""Who is calling, and how they read: the bearer token and the access mode of a request.

A token stands for one professional (acting for one establishment, optionally): see
``docs/adr/0006-professional-authentication.md``. The emergency modes (bris de glace, SAMU) are
asked for per request, with a written justification, and apply to reads only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Header, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dmp.domain import inputs
from dmp.domain.model import AccessMode, ProfessionalActor
from dmp.entrypoints.fhir.bodies import call_consult
from dmp.errors import InvalidInput, Unauthenticated
from dmp.services import directory
from dmp.services.context import Context
from dmp.services.gate import Reading

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="Bearer",
    description="Jeton délivré par l'opérateur (`dmp token issue`), lié à un professionnel.",
)


def app_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


async def context(request: Request) -> Context:
    # Dependencies that do no I/O are coroutines: FastAPI runs a plain function in a thread.
    return app_context(request)


async def professional(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> ProfessionalActor:
    if credentials is None:
        raise Unauthenticated("Jeton d'accès manquant : en-tête « Authorization: Bearer … ».")
    ctx = app_context(request)
    return await call_consult(ctx, directory.authenticate, ctx, credentials.credentials)


Professional = Annotated[ProfessionalActor, Depends(professional)]
Ctx = Annotated[Context, Depends(context)]


@dataclass(frozen=True, slots=True)
class AccessRequest:
    mode: AccessMode
    justification: str | None

    def reading(self, actor: ProfessionalActor) -> Reading:
        return Reading(actor, self.mode, self.justification)


async def access_request(
    mode_header: Annotated[
        str | None,
        Header(
            alias="X-DMP-Access-Mode",
            description="Mode d'accès : normal (défaut), emergency (bris de glace) ou samu.",
        ),
    ] = None,
    justification_header: Annotated[
        str | None,
        Header(
            alias="X-DMP-Justification",
            description="Justification écrite d'un accès en urgence (encodée en pourcents).",
        ),
    ] = None,
    mode_query: Annotated[str | None, Query(alias="_dmp-access-mode")] = None,
    justification_query: Annotated[str | None, Query(alias="_dmp-justification")] = None,
) -> AccessRequest:
    raw_mode = (mode_header or mode_query or AccessMode.NORMAL.value).strip().lower()
    try:
        mode = AccessMode(raw_mode)
    except ValueError:
        raise InvalidInput(
            f"Mode d'accès inconnu : {raw_mode[:40]!r} (normal, emergency ou samu).",
            code="access-mode",
        ) from None
    # A header is ASCII, hence percent-encoded; a query parameter arrives already decoded.
    if justification_header is not None:
        justification = unquote(justification_header).strip()
    else:
        justification = (justification_query or "").strip()
    return AccessRequest(mode, inputs.check_justification(justification) or None)


Access = Annotated[AccessRequest, Depends(access_request)]

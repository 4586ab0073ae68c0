"""Administering a DMP at the patient's request, from the professional portal: closing it with
a reason, reactivating a closed one (the brochure handed and the consent collected again), and
declaring oneself médecin traitant of a patient who has none. The use cases are the API's
(``services.records``, ``services.authorizations``); the policy decides who may."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dmp.entrypoints.portal import web
from dmp.entrypoints.portal.web import context_of, field, redirect
from dmp.entrypoints.pro.patients import blocks, parse_ins
from dmp.entrypoints.pro.web import dmp_ref, page, professional
from dmp.errors import InvalidInput
from dmp.services import authorizations, records

router = APIRouter(include_in_schema=False)
InsParam = Annotated[str | None, Query(max_length=40)]


@router.get("/dmp/{ref}/fermer")
async def close_form(request: Request, ref: str) -> Response:
    actor = await professional(request)
    return page(request, "pro/close.html", me=actor, dmp_id=dmp_ref(ref), reason="")


@router.post("/dmp/{ref}/fermer")
async def close(request: Request, ref: str) -> Response:
    """Close the DMP, with the reason the patient gives: no professional reads or feeds it any
    more; its data are kept ten years."""
    actor = await professional(request)
    data = await web.form(request)
    dmp_id, reason = dmp_ref(ref), field(data, "motif", required=False, max_length=500)
    ctx = context_of(request)
    try:
        await run_in_threadpool(records.close_record, ctx, actor, dmp_id, reason)
    except InvalidInput as refused:
        values = {"dmp_id": dmp_id, "reason": reason, "error": refused.message}
        return page(request, "pro/close.html", status=400, me=actor, **values)
    return redirect("/pro?fait=ferme")


def _reactivation_page(
    request: Request, ins: str, status: int = 200, error: str | None = None
) -> Response:
    ctx = context_of(request)
    values = {"brochure": ctx.brochure, "blocks": blocks(ctx.brochure), "ins": ins}
    return page(request, "pro/reactivate.html", status=status, error=error, **values)


@router.get("/patient/reactiver")
async def reactivate_form(request: Request, ins: InsParam = None) -> Response:
    await professional(request)
    return _reactivation_page(request, parse_ins(ins).value)


@router.post("/patient/reactiver")
async def reactivate(request: Request) -> Response:
    """Reactivate a closed DMP: the brochure handed again, the consent collected again."""
    actor = await professional(request)
    data = await web.form(request)
    ins = parse_ins(field(data, "ins", max_length=40))
    consent = records.Consent(
        field(data, "brochure", required=False, max_length=20),
        informed=field(data, "informe", required=False, max_length=3) == "oui",
        consented=field(data, "consentement", required=False, max_length=3) == "oui",
    )
    ctx = context_of(request)
    try:
        dmp_id = await run_in_threadpool(records.reactivate_record, ctx, actor, ins, consent)
    except InvalidInput as refused:
        return _reactivation_page(request, ins.value, 400, refused.message)
    return redirect(f"/pro/dmp/{dmp_id}?fait=reactive")


@router.post("/dmp/{ref}/medecin-traitant")
async def declare_medecin_traitant(request: Request, ref: str) -> Response:
    """A médecin declares himself the patient's médecin traitant: only while the DMP has none
    (replacing one is the patient's act alone)."""
    actor = await professional(request)
    await web.form(request)
    dmp_id = dmp_ref(ref)
    await run_in_threadpool(
        authorizations.designate_medecin_traitant,
        context_of(request),
        actor,
        dmp_id,
        actor.professional_id,
    )
    return redirect(f"/pro/dmp/{dmp_id}?fait=medecin-traitant")

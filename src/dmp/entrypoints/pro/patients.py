"""Finding a patient's DMP by INS (none, active, closed, destroyed), the information brochure,
and creating a DMP at the patient's request: the brochure handed, the consent ticked, the
patient's phone and/or e-mail; then the printable hand-out with the login identifier and the
temporary password, shown once."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dmp.domain.identifiers import Ins
from dmp.domain.model import ContactChannels, PatientIdentity
from dmp.entrypoints.portal import web
from dmp.entrypoints.portal.web import context_of, field
from dmp.entrypoints.pro.web import done, page, professional, signed_in_page
from dmp.errors import InvalidInput
from dmp.services import records
from dmp.services.brochure import Brochure

router = APIRouter(include_in_schema=False)
InsParam = Annotated[str | None, Query(max_length=40)]
GENDER_LABELS = {"female": "Féminin", "male": "Masculin", "other": "Autre", "unknown": "Inconnu"}
_DAY = re.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}")


def blocks(brochure: Brochure) -> list[tuple[str, str]]:
    """The brochure's text as the page shows it: titles, paragraphs and list items (its
    emphasis marks dropped: the words carry the meaning)."""
    found: list[tuple[str, str]] = []
    for raw in brochure.markdown.split("\n\n"):
        for line in _joined(raw):
            text = line.replace("**", "")
            if text.startswith("#"):
                found.append(("title", text.lstrip("#").strip()))
            elif text.startswith("- "):
                found.append(("item", text[2:].strip()))
            elif text.strip():
                found.append(("text", text.strip()))
    return found


def _joined(paragraph: str) -> list[str]:
    """A paragraph's lines, a list item's continuation lines joined to it."""
    lines: list[str] = []
    for line in paragraph.splitlines():
        continued = line.startswith("  ") or not line.startswith(("#", "- "))
        if lines and continued and not lines[-1].startswith("#"):
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    return lines


def parse_ins(text: str | None) -> Ins:
    if not text:
        raise InvalidInput("Saisissez l'INS du patient (15 caractères).", code="ins")
    return Ins.parse(text)


@router.get("")
async def home(request: Request, fait: InsParam = None) -> Response:
    return await signed_in_page(request, "pro/home.html", ins="", done=done(fait))


@router.get("/patient")
async def find(request: Request, ins: InsParam = None) -> Response:
    actor = await professional(request)
    parsed = parse_ins(ins)
    found = await run_in_threadpool(records.lookup, context_of(request), actor, parsed)
    return page(request, "pro/patient.html", me=actor, ins=parsed.value, found=found)


@router.get("/brochure")
async def brochure(request: Request) -> Response:
    ctx = context_of(request)
    return await signed_in_page(
        request, "pro/brochure.html", brochure=ctx.brochure, blocks=blocks(ctx.brochure)
    )


@router.get("/patient/creer")
async def create_form(request: Request, ins: InsParam = None) -> Response:
    actor = await professional(request)
    ctx = context_of(request)
    return page(
        request,
        "pro/create.html",
        me=actor,
        brochure=ctx.brochure,
        blocks=blocks(ctx.brochure),
        ins=parse_ins(ins).value,
        form={},
        genders=GENDER_LABELS,
    )


@router.post("/patient/creer")
async def create(request: Request) -> Response:
    actor = await professional(request)
    ctx = context_of(request)
    data = await web.form(request)
    ins = parse_ins(field(data, "ins", max_length=40))
    form = {name: field(data, name, required=False, max_length=200) for name in _FIELDS}
    try:
        identity = _identity(form)
        contacts = ContactChannels(email=form["courriel"] or None, phone=form["telephone"] or None)
        if not (contacts.email or contacts.phone):
            raise InvalidInput(
                "Saisissez le téléphone mobile et/ou le courriel du patient : ses codes de "
                "connexion y sont envoyés.",
                code="contacts",
            )
        consent = records.Consent(
            form["brochure"],
            informed=form["informe"] == "oui",
            consented=form["consentement"] == "oui",
        )
        created = await run_in_threadpool(
            lambda: records.create_record(
                ctx, actor, ins=ins, identity=identity, contacts=contacts, consent=consent
            )
        )
    except InvalidInput as refused:
        return page(
            request,
            "pro/create.html",
            status=400,
            me=actor,
            error=refused.message,
            brochure=ctx.brochure,
            blocks=blocks(ctx.brochure),
            ins=ins.value,
            form=form,
            genders=GENDER_LABELS,
        )
    return page(
        request,
        "pro/handout.html",
        me=actor,
        created=created,
        identity=identity,
        contacts=contacts,
        portal=ctx.settings.public_url,
        ins=ins.value,
    )


_FIELDS = (
    "nom",
    "prenoms",
    "naissance",
    "sexe",
    "telephone",
    "courriel",
    "brochure",
    "informe",
    "consentement",
)


def _identity(form: dict[str, str]) -> PatientIdentity:
    born = form["naissance"]
    try:
        birth = date.fromisoformat(born) if _DAY.fullmatch(born) else None
    except ValueError:
        birth = None
    if birth is None:
        raise InvalidInput("Date de naissance invalide (jour/mois/année).", code="identity")
    if form["sexe"] not in GENDER_LABELS:
        raise InvalidInput("Choisissez le sexe du patient.", code="identity")
    return PatientIdentity(form["nom"].strip(), form["prenoms"].strip(), birth, form["sexe"])

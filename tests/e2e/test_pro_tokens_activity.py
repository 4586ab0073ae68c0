"""The professional portal: a professional's API tokens (created with a name, shown once,
stored hashed, listed, revoked — a revoked token is refused by the API), and « Mon activité »:
their own accesses across DMPs, emergency ones included, as the patient reads them, and
nothing of anyone else's."""

from __future__ import annotations

import hashlib
import re
from html import unescape

import httpx
from sqlalchemy import select

from dmp.adapters.db.tables import api_tokens, audit_entries
from dmp.services import authorizations, records, submission
from dmp.services.context import Context
from tests.factories import pdf_submission
from tests.personas import Cast

_TOKEN = re.compile(r'id="jeton" class="mono" readonly value="(dmp_[A-Za-z0-9_-]+)"')


def _create(browser, name: str) -> str:
    browser.get("/pro/jetons")
    made = browser.post("/pro/jetons", {"nom": name})
    assert made.status_code == 200, made.text
    assert made.headers["cache-control"] == "no-store"
    found = _TOKEN.search(made.text)
    assert found is not None, made.text
    return found.group(1)


def test_a_token_is_shown_once_stored_hashed_and_works_on_the_api(
    ctx: Context, pro_browser, server: str, cast: Cast
) -> None:
    browser = pro_browser("bruno")
    token = _create(browser, "Logiciel du cabinet")
    with ctx.engine.connect() as conn:
        rows = conn.execute(select(api_tokens)).mappings().all()
    mine = [r for r in rows if r["label"] == "Logiciel du cabinet"]
    assert [r["professional_id"] for r in mine] == [cast.bruno.professional_id]
    assert mine[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert all(token not in str(dict(r)) for r in rows)  # never in clear
    listed = browser.get("/pro/jetons")
    assert "Logiciel du cabinet" in listed.text
    assert token not in listed.text  # shown once
    with httpx.Client(base_url=server, timeout=30) as api:
        found = api.get(
            "/fhir/DocumentReference",
            params={"patient": str(cast.alice_dmp)},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert found.status_code == 200, found.text


def test_a_revoked_token_is_refused_by_the_api(
    ctx: Context, pro_browser, server: str, cast: Cast
) -> None:
    browser = pro_browser("bruno")
    token = _create(browser, "Ancien logiciel")
    page = browser.get("/pro/jetons")
    [token_id] = re.findall(r'action="/pro/jetons/([0-9a-f-]{36})/revoquer"', page.text)
    revoked = browser.post(f"/pro/jetons/{token_id}/revoquer", {})
    assert revoked.status_code == 303
    assert "Révoqué le" in unescape(browser.follow(revoked).text)
    with httpx.Client(base_url=server, timeout=30) as api:
        refused = api.get(
            "/fhir/DocumentReference",
            params={"patient": str(cast.alice_dmp)},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert refused.status_code == 401
    assert refused.json()["resourceType"] == "OperationOutcome"


def test_someone_elses_token_cannot_be_revoked(ctx: Context, pro_browser, cast: Cast) -> None:
    bruno = pro_browser("bruno")
    _create(bruno, "Logiciel de Bruno")
    [token_id] = re.findall(r'action="/pro/jetons/([0-9a-f-]{36})/revoquer"', bruno.page.text)
    damien = pro_browser("damien")
    damien.get("/pro/jetons")
    assert "Logiciel de Bruno" not in damien.page.text  # nor listed
    refused = damien.post(f"/pro/jetons/{token_id}/revoquer", {})
    assert refused.status_code == 404
    with ctx.engine.connect() as conn:
        revoked_at = conn.execute(
            select(api_tokens.c.revoked_at).where(api_tokens.c.label == "Logiciel de Bruno")
        ).scalar_one()
        denied = (
            conn.execute(
                select(audit_entries.c.actor_rpps).where(
                    audit_entries.c.action == "directory.token.revoke",
                    audit_entries.c.outcome == "denied",
                )
            )
            .scalars()
            .all()
        )
    assert revoked_at is None
    assert denied == [cast.damien.rpps]


def test_a_token_needs_a_name_and_the_form_its_csrf_token(
    ctx: Context, pro_browser, cast: Cast
) -> None:
    browser = pro_browser("bruno")
    browser.get("/pro/jetons")
    unnamed = browser.post("/pro/jetons", {"nom": "   "})
    assert unnamed.status_code == 400
    forged = browser.post("/pro/jetons", {"nom": "Logiciel"}, csrf="forged")
    assert forged.status_code == 403
    with ctx.engine.connect() as conn:
        assert conn.execute(select(api_tokens.c.id)).first() is None


def test_my_activity_lists_my_accesses_as_the_patient_reads_them(
    ctx: Context, pro_browser, cast: Cast
) -> None:
    submission.submit_documents(ctx, cast.bruno, cast.alice_dmp, [pdf_submission()])
    damien = pro_browser("damien")
    damien.get(f"/pro/dmp/{cast.alice_dmp}")  # refused: not authorized
    asked = damien.post(
        f"/pro/dmp/{cast.alice_dmp}/urgence",
        {"mode": "urgence", "justification": "Patiente inconsciente aux urgences"},
    )
    damien.follow(asked)
    page = damien.get("/pro/activite")
    assert page.status_code == 200
    text = unescape(page.text)
    assert "Le Dr Damien Petit, médecin," in text
    assert "en accès d'urgence (bris de glace)" in text
    assert "refused" in page.text  # the refused attempt is there too
    assert "Patiente inconsciente" not in text  # no justification
    assert "Alice" not in text
    assert "Dupont" not in text
    assert "Bruno" not in text  # nobody else's entries


def test_my_activity_tells_nothing_of_a_dmp_i_may_no_longer_open(
    ctx: Context, pro_browser, cast: Cast
) -> None:
    [doc] = submission.submit_documents(
        ctx, cast.chloe, cast.alice_dmp, [pdf_submission(title="Titre à ne pas divulguer")]
    )
    chloe = pro_browser("chloe")
    chloe.get(f"/pro/dmp/{cast.alice_dmp}/documents/{doc.id}")
    authorizations.revoke(
        ctx, cast.alice, cast.alice_dmp, "professional", cast.chloe.professional_id
    )
    records.close_record(ctx, cast.bruno, cast.alice_dmp, "Motif à ne pas divulguer")
    page = chloe.get("/pro/activite")
    text = unescape(page.text)
    assert "Chloé Bernard" in text
    for secret in ("Titre à ne pas divulguer", "Motif à ne pas divulguer", "Alice", "Bruno"):
        assert secret not in text, secret
    assert "fermé" not in text  # not the DMP's state either
    assert chloe.get(f"/pro/dmp/{cast.alice_dmp}").status_code == 404

"""Destroying chosen documents from the portal (SPEC §2, partial destruction), over HTTP against
a served app, on both backends: a fresh one-time code first, then the keys and the contents gone
for good, and the destruction in the history."""

from __future__ import annotations

from tests.e2e.portal import fresh_code
from tests.e2e.portal_documents import add, entries, held, listed, sign_in_representative


def test_the_page_warns_that_it_cannot_be_undone(alice_browser, ctx, cast):
    docs = [add(ctx, cast.bruno, cast.alice_dmp, title=f"Document {n}") for n in range(3)]
    page = alice_browser.get("/documents/detruire")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "La destruction est définitive." in page.text
    for doc in docs:
        assert f'<input type="checkbox" name="documents" value="{doc.id}">' in page.text
    assert '<input type="checkbox" name="definitif" value="oui" required>' in page.text


def test_a_fresh_code_first_then_destroyed_for_good(alice_browser, ctx, cast, clock, last_code):
    keep, drop = add(ctx, cast.bruno, cast.alice_dmp), add(ctx, cast.bruno, cast.alice_dmp)
    clock.advance(minutes=11)  # the login's code is no longer fresh
    alice_browser.get("/documents/detruire")
    before = held(ctx)
    chosen = {"documents": str(drop.id), "definitif": "oui"}
    asked = alice_browser.post("/documents/detruire", chosen)
    assert asked.status_code == 303
    assert asked.headers["location"] == "/confirmer?suite=/documents/detruire"
    assert held(ctx).changes(before) == {}
    trail = entries(ctx, cast.alice, cast.alice_dmp)
    refused = [(e.allowed, e.reason) for e in trail if e.action == "document.destroy"]
    assert refused == [(False, "step-up-required")]
    # The code, then back to the page, then destroyed.
    alice_browser.follow(asked)
    alice_browser.post("/confirmer/envoi", {"canal": "email", "suite": "/documents/detruire"})
    alice_browser.get("/confirmer?suite=/documents/detruire")
    back = alice_browser.post("/confirmer", {"code": last_code(), "suite": "/documents/detruire"})
    assert back.headers["location"] == "/documents/detruire"
    alice_browser.follow(back)
    done = alice_browser.post("/documents/detruire", chosen)
    assert done.status_code == 303
    assert done.headers["location"] == "/documents?fait=detruit"
    assert listed(alice_browser.follow(done).text) == [str(keep.id)]
    after = held(ctx)
    assert str(drop.id) not in after.keys
    assert str(keep.id) in after.keys
    assert not [f for f in after.files if str(drop.id) in f]
    assert [f for f in after.files if str(keep.id) in f]
    assert alice_browser.get(f"/documents/{drop.id}").status_code == 404
    destroyed = [
        (e.allowed, e.target_id)
        for e in entries(ctx, cast.alice, cast.alice_dmp)
        if e.action == "document.destroy" and e.allowed
    ]
    assert (True, str(drop.id)) in destroyed


def test_nothing_chosen_or_not_confirmed(alice_browser, ctx, cast):
    doc = add(ctx, cast.bruno, cast.alice_dmp)
    alice_browser.get("/documents/detruire")
    before = held(ctx)
    for data, words in (
        ({"definitif": "oui"}, "Cochez au moins un document"),
        ({"documents": str(doc.id)}, "confirme que c&#39;est définitif"),
    ):
        refused = alice_browser.post("/documents/detruire", data)
        assert refused.status_code == 400
        assert words in refused.text
    assert held(ctx).changes(before) == {}


def test_a_representative_destroys_nothing_kept_from_them(browser, ctx, cast, last_code):
    secret = add(ctx, cast.bruno, cast.lea_dmp, invisible_representatives=True)
    shared = add(ctx, cast.bruno, cast.lea_dmp)
    sign_in_representative(browser, ctx, cast.marc.account_id, last_code)
    assert fresh_code(browser, last_code, "/documents/detruire").status_code == 303
    browser.get("/documents/detruire")
    before = held(ctx)
    both = {"documents": [str(shared.id), str(secret.id)], "definitif": "oui"}
    refused = browser.post("/documents/detruire", both)
    assert refused.status_code == 404
    assert held(ctx).changes(before) == {}  # not even the one they see: all or nothing
    browser.get("/documents/detruire")
    done = browser.post("/documents/detruire", {"documents": str(shared.id), "definitif": "oui"})
    assert done.status_code == 303
    assert str(shared.id) not in held(ctx).keys
    assert str(secret.id) in held(ctx).keys

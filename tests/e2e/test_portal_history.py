"""The access history as the patient reads it (SPEC §5), over HTTP against a served app, both
backends: real actions through the professionals' API and the portal, then the page's
sentences, its filters, its pages, and what a legal representative does not see."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import quote

from sqlalchemy import event, insert, select, update

from dmp.adapters.db.tables import audit_entries, audit_heads
from dmp.policy import DocumentChange
from dmp.services import authorizations, submission
from dmp.services.documents import get_document
from dmp.services.gate import Reading
from tests.e2e.fhir import created_id, ins_token, provide_bundle, refused_search
from tests.e2e.portal import Browser, first_log_in
from tests.factories import PDF
from tests.personas import ALICE_INS, LEA_INS

WHY = "Patiente inconsciente aux urgences"
HIDDEN_TITLE = "Résultat d'anatomopathologie"
SECRET_TITLE = "Consultation de contraception"
LIST = re.compile(r'<ol class="history">(.*?)</ol>', re.S)
ITEM = re.compile(r"<li[^>]*>(.*?)</li>", re.S)


def sentences(page) -> list[str]:
    """The history's entries as the page shows them, newest first."""
    found = LIST.search(page.text)
    return [] if found is None else [unescape(i).strip() for i in ITEM.findall(found.group(1))]


def provide(api, who="bruno", ins=ALICE_INS, **kwargs) -> str:
    response = api.post("/fhir", json=provide_bundle(ins, PDF, **kwargs), as_=who)
    assert response.status_code == 200, response.text
    return created_id(response)


class Searched:
    """A search's answer, its status read as a person reads it: 404 when it may open no DMP
    (the API answers an empty searchset with an outcome, alike for no DMP and not allowed)."""

    def __init__(self, response) -> None:
        self.response = response
        self.status_code = 404 if refused_search(response) else response.status_code


def search(api, who, ins=ALICE_INS, headers=None):
    params = {"patient.identifier": ins_token(ins)}
    answer = api.get("/fhir/DocumentReference", params=params, as_=who, headers=headers or {})
    return Searched(answer)


def emergency(mode: str, why: str = WHY) -> dict[str, str]:
    return {"X-DMP-Access-Mode": mode, "X-DMP-Justification": quote(why)}


def wrong_password(server: str, login: str) -> None:
    intruder = Browser(server)
    try:
        intruder.get("/connexion")
        data = {"identifiant": login, "mot_de_passe": "pas le bon mot de passe", "canal": "email"}
        assert intruder.post("/connexion", data).status_code == 303
    finally:
        intruder.close()


def the_day(clock) -> str:
    """« le 2 mars 2026 à 10 h 35 », as the sentences write the clock's time in Paris."""
    from dmp.domain.french import moment_fr

    return f"le {moment_fr(clock.now)}"


# --- what happened, in sentences -----------------------------------------------------------------


def test_the_history_says_what_professionals_did_and_every_refusal(
    api, alice_browser, server, cast, ctx, clock
):
    said = []
    clock.advance(minutes=1)
    doc = provide(api, "bruno")
    said.append(
        f"Le Dr Bruno Martin, médecin, a ajouté le document « Compte rendu de "
        f"consultation » {the_day(clock)}."
    )
    clock.advance(minutes=1)
    assert api.get(f"/fhir/DocumentReference/{doc}", as_="bruno").status_code == 200
    said.append(
        f"Le Dr Bruno Martin, médecin, a consulté le document « Compte rendu de "
        f"consultation » {the_day(clock)}."
    )
    clock.advance(minutes=1)
    assert search(api, "damien").status_code == 404
    said.append(
        f"Le Dr Damien Petit, médecin, n'a pas pu rechercher vos documents "
        f"{the_day(clock)}, faute de votre autorisation."
    )
    clock.advance(minutes=1)
    assert search(api, "damien", headers=emergency("emergency")).status_code == 200
    said.append(
        f"Le Dr Damien Petit, médecin, a recherché vos documents en accès d'urgence "
        f"(bris de glace) {the_day(clock)}. Motif donné : « {WHY} »."
    )
    clock.advance(minutes=1)
    authorizations.set_oppositions(ctx, cast.alice, cast.alice_dmp, samu=True)
    said.append(f"Vous avez refusé les accès par la régulation médicale (SAMU) {the_day(clock)}.")
    clock.advance(minutes=1)
    assert search(api, "samuel", headers=emergency("samu", "Malaise")).status_code == 404
    said.append(
        f"Un accès par la régulation médicale (SAMU – centre 15) a été refusé au Dr "
        f"Samuel Moreau, médecin, {the_day(clock)}, car vous aviez refusé les accès par "
        f"la régulation médicale (SAMU). Motif donné : « Malaise »."
    )
    clock.advance(minutes=1)
    wrong_password(server, cast.alice_login)
    said.append(
        f"Une connexion à votre compte a échoué {the_day(clock)}, car le mot de passe était erroné."
    )
    clock.advance(minutes=1)
    hidden = provide(api, "bruno", title=HIDDEN_TITLE, labels=("INVISIBLE_PATIENT",))
    said.append(f"Le Dr Bruno Martin, médecin, a ajouté un document {the_day(clock)}.")
    clock.advance(minutes=1)

    page = alice_browser.get("/historique")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    shown = sentences(page)
    assert shown[: len(said)] == list(reversed(said))
    # Before them, the DMP's creation and Alice's own choices; never her own page views.
    assert "Le Dr Bruno Martin, médecin, a créé votre DMP le 2 mars 2026 à 10 h 30." in shown
    assert (
        "Vous avez autorisé Chloé Bernard, infirmier, à accéder à votre DMP le 2 mars 2026 "
        "à 10 h 30." in shown
    )
    assert not [s for s in shown if "consulté l'historique" in s or "tableau de bord" in s]
    assert "sauf les pages que vous avez vous-même consultées" in page.text
    # The hidden document's title is on no page of the history, whatever the filter…
    for query in ("", "?vues=1", "?type=ajouts", f"?qui={cast.bruno.professional_id}"):
        assert HIDDEN_TITLE not in unescape(alice_browser.get(f"/historique{query}").text)
    # The overview's latest accesses are the same sentences, never an action's code.
    board = unescape(alice_browser.get("/tableau-de-bord").text)
    assert said[5] in board
    assert "document.search" not in board
    # … until it is shown to her: the same entry then names it.
    _reveal(ctx, cast, hidden)
    assert f"a ajouté le document « {HIDDEN_TITLE} »" in unescape(
        alice_browser.get("/historique").text
    )


def _reveal(ctx, cast, fhir_id: str) -> None:
    from dmp.entrypoints.fhir import ids

    document_id = ids.parse_document_id(fhir_id)[1]
    submission.change_document(ctx, cast.bruno, cast.alice_dmp, document_id, DocumentChange.REVEAL)


def test_the_readers_own_page_views_are_shown_on_request(alice_browser):
    alice_browser.get("/tableau-de-bord")
    alice_browser.get("/historique")
    mine = sentences(alice_browser.get("/historique?vues=1"))
    assert any(s.startswith("Vous avez consulté l'historique des accès le ") for s in mine)
    assert any(s.startswith("Vous avez consulté le tableau de bord du DMP le ") for s in mine)
    assert any(s.startswith("Vous avez ouvert une session le ") for s in mine)
    by_default = sentences(alice_browser.get("/historique"))
    assert not [s for s in by_default if s.startswith("Vous avez consulté")]
    assert any(s.startswith("Vous avez ouvert une session le ") for s in by_default)


# --- filters --------------------------------------------------------------------------------------


def test_filters_by_person_kind_and_days(api, browser, server, cast, clock, last_code):
    assert search(api, "damien").status_code == 404  # 2 March
    clock.advance(days=1)
    assert search(api, "chloe").status_code == 200  # 3 March
    assert search(api, "damien", headers=emergency("emergency")).status_code == 200
    clock.advance(days=1)
    wrong_password(server, cast.alice_login)  # 4 March
    assert search(api, "damien").status_code == 404
    first_log_in(browser, cast.alice_login, cast.alice_password, last_code)
    alice_browser = browser

    damien = sentences(alice_browser.get(f"/historique?qui={cast.damien.professional_id}"))
    assert len(damien) == 3
    assert all(s.startswith(("Le Dr Damien Petit", "Un accès")) for s in damien)
    refused = sentences(alice_browser.get("/historique?type=refus"))
    assert len(refused) == 3
    assert all("n'a pas pu" in s or "a échoué" in s for s in refused)
    urgent = sentences(alice_browser.get("/historique?type=urgences"))
    assert len(urgent) == 1
    assert "en accès d'urgence (bris de glace) le 3 mars 2026" in urgent[0]
    the_3rd = sentences(alice_browser.get("/historique?du=2026-03-03&au=2026-03-03"))
    assert len(the_3rd) == 2
    assert all(" le 3 mars 2026 à " in s for s in the_3rd)
    connections = sentences(alice_browser.get("/historique?type=connexions&vues=1"))
    assert connections[0].startswith("Vous avez ouvert une session le 4 mars 2026")
    assert connections[1].startswith("Une connexion à votre compte a échoué le 4 mars 2026")
    mine = sentences(alice_browser.get("/historique?qui=vous"))
    assert mine
    assert all(s.startswith(("Vous ", "Une connexion à votre compte")) for s in mine)
    # The choices of the form: the people the history names, « Vous » first.
    page = alice_browser.get("/historique")
    assert '<option value="vous">Vous</option>' in page.text
    assert f'<option value="{cast.damien.professional_id}">Dr Damien Petit, médecin</option>' in (
        page.text
    )


def test_a_bad_filter_is_a_french_error_not_a_500(alice_browser):
    for query, status in (
        ("?du=2026-02-30", 400),
        ("?du=%D9%A2%D9%A0%D9%A2%D9%A6-03-01", 400),  # other scripts' digits
        ("?du=2026-03-05&au=2026-03-01", 400),
        ("?type=inconnu", 400),
        ("?avant=-3", 400),
        ("?qui=" + "x" * 65, 400),
    ):
        answer = alice_browser.get(f"/historique{query}")
        assert answer.status_code == status, (query, answer.status_code)
        assert "La demande n'a pas abouti" in answer.text or "invalide" in answer.text


# --- pages ----------------------------------------------------------------------------------------


def _many_reads(ctx, cast, clock, doc_id, n: int) -> None:
    """Bruno reads the document ``n`` times, a minute apart (each sentence its own)."""
    for _ in range(n):
        clock.advance(minutes=1)
        get_document(ctx, Reading(cast.bruno), cast.alice_dmp, doc_id)


def test_pages_are_stable_and_bounded(api, browser, cast, ctx, clock, last_code):
    from dmp.entrypoints.fhir import ids

    doc = ids.parse_document_id(provide(api, "bruno"))[1]
    _many_reads(ctx, cast, clock, doc, 120)
    first_log_in(browser, cast.alice_login, cast.alice_password, last_code)
    alice_browser = browser
    first = alice_browser.get("/historique?type=consultations")
    one = sentences(first)
    assert len(one) == 50
    older = re.search(r'href="(/historique\?[^"]*avant=[0-9]+)"', first.text)
    assert older is not None
    link = unescape(older.group(1))
    two = sentences(alice_browser.get(link))
    assert len(two) == 50
    _many_reads(ctx, cast, clock, doc, 7)  # new entries do not shift the older pages
    assert sentences(alice_browser.get(link)) == two
    page_three = re.search(
        r'href="(/historique\?[^"]*avant=[0-9]+)" rel="next"', alice_browser.get(link).text
    )
    assert page_three is not None
    three = sentences(alice_browser.get(unescape(page_three.group(1))))
    assert len(three) == 20
    assert 'rel="next"' not in alice_browser.page.text  # the last page
    everything = one + two + three
    assert len(set(everything)) == len(everything)  # no entry on two pages
    reads = [s for s in everything if "a consulté le document" in s]
    assert len(reads) == 120  # … and none missing: the 120 reads, then the rest


def test_a_long_history_is_never_read_whole(alice_browser, cast, ctx):
    """Five thousand entries in Alice's chain: the page's statements each read one page of
    them at most (a LIMIT), the page shows 50."""
    _append_raw(ctx, cast.alice_dmp, 5000)
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if "audit_entries" in statement:
            statements.append(statement)

    event.listen(ctx.engine, "before_cursor_execute", seen)
    try:
        page = alice_browser.get("/historique?vues=1")
    finally:
        event.remove(ctx.engine, "before_cursor_execute", seen)
    assert len(sentences(page)) == 50
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert reads
    assert all("LIMIT" in s.upper() for s in reads), reads


def _append_raw(ctx, dmp_id, n: int) -> None:
    """Entries written straight to the table (a long past, cheaply): Bruno's reads."""
    with ctx.engine.begin() as conn:
        head = conn.execute(select(audit_heads.c.seq).where(audit_heads.c.dmp_id == dmp_id))
        start = head.scalar_one() + 1
        rows = [
            {
                "dmp_id": dmp_id,
                "seq": seq,
                "at": ctx.now(),
                "actor_kind": "professional",
                "actor_id": "00000000-0000-0000-0000-000000000001",
                "actor_rpps": None,
                "profession": "10",
                "establishment": None,
                "mode": "normal",
                "action": "document.search",
                "target_kind": "record",
                "target_id": str(dmp_id),
                "outcome": "allowed",
                "reason": "authorized",
                "justification_enc": None,
                "secret": False,
                "prev_hash": "0" * 64,
                "hash": "0" * 64,
            }
            for seq in range(start, start + n)
        ]
        conn.execute(insert(audit_entries), rows)
        last = start + n - 1
        conn.execute(update(audit_heads).where(audit_heads.c.dmp_id == dmp_id).values(seq=last))


# --- the legal representative ---------------------------------------------------------------------


def test_a_legal_representative_sees_neither_the_minors_secrets_nor_their_titles(
    api, server, cast, last_code
):
    lea, marc = Browser(server), Browser(server)
    try:
        first_log_in(lea, cast.lea_login, cast.lea_password, last_code)  # a secret connection
        lea.get("/historique")  # and what she reads during it
        wrong_password(server, cast.lea_login)  # a secret failure too
        provide(
            api, "bruno", LEA_INS, title=SECRET_TITLE, labels=("INVISIBLE_REPRESENTANTS_LEGAUX",)
        )
        provide(api, "bruno", LEA_INS, title="Carnet de vaccination")
        first_log_in(marc, cast.marc_login, cast.marc_password, last_code)
        for query in ("", "?vues=1", "?type=connexions", "?type=ajouts", "?type=refus"):
            page = marc.get(f"/historique{query}")
            assert page.status_code == 200
            text = unescape(page.text)
            assert SECRET_TITLE not in text
            assert "Léa Lefèvre" not in text.replace("au DMP de Léa Lefèvre", "")
            assert "a échoué" not in text
        shown = sentences(marc.get("/historique?type=ajouts"))
        assert shown[0].startswith("Le Dr Bruno Martin, médecin, a ajouté le document « Carnet")
        assert len(shown) == 1  # the document kept from the representatives: not even its trace
        assert any(
            s.startswith("Vous avez ouvert une session")
            for s in sentences(marc.get("/historique?type=connexions"))
        )
        # Léa herself sees all of it.
        mine = sentences(lea.get("/historique?vues=1"))
        assert any(f"« {SECRET_TITLE} »" in s for s in mine)
        assert any(s.startswith("Une connexion à votre compte a échoué") for s in mine)
    finally:
        lea.close()
        marc.close()


# --- attacks --------------------------------------------------------------------------------------


def test_the_history_after_logout_opens_nothing(alice_browser, server):
    token = alice_browser.client.cookies.get("dmp_session")
    alice_browser.get("/historique")
    assert alice_browser.post("/deconnexion", {}).status_code == 303
    replay = Browser(server)
    try:
        replay.client.cookies.set("dmp_session", token)
        answer = replay.get("/historique")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/connexion")
    finally:
        replay.close()


def test_the_history_needs_a_signed_in_session(browser):
    answer = browser.get("/historique")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/connexion?suite=/historique"


def test_each_page_read_is_one_audit_entry(alice_browser, ctx, cast):
    def reads() -> int:
        with ctx.engine.connect() as conn:
            rows = conn.execute(
                select(audit_entries.c.seq).where(
                    audit_entries.c.dmp_id == cast.alice_dmp,
                    audit_entries.c.action == "history.read",
                )
            )
            return len(rows.all())

    before = reads()
    alice_browser.get("/historique")
    alice_browser.get("/historique?type=refus")
    assert reads() == before + 2

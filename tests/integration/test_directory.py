"""Authenticating a request: what a bearer token stands for, and every way it stops standing
for anyone (read in one query, so each case is checked against the stored rows); and issuing one,
every refusal in the directory's audit trail."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update

from dmp.adapters.db.tables import (
    audit_entries,
    establishments,
    professional_establishments,
    professionals,
)
from dmp.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from dmp.services.audit import SYSTEM_CHAIN
from dmp.services.directory import authenticate, issue_token, revoke_token
from tests.personas import populate, rpps


@pytest.fixture
def cast(ctx):
    return populate(ctx)


def _change(ctx, statement):
    with ctx.engine.begin() as conn:
        conn.execute(statement)


def test_a_token_stands_for_its_professional_and_establishment(ctx, cast):
    pauline = cast.professionals["pauline"]
    token = issue_token(ctx, pauline.rpps, finess=cast.pharmacie.finess).token
    actor = authenticate(ctx, token)
    assert actor == cast.pauline
    assert (actor.establishment_id, actor.establishment_finess) == (
        cast.pharmacie.id,
        cast.pharmacie.finess,
    )
    assert actor.display_name == "Pauline Leroy"


def test_a_token_without_establishment_acts_alone(ctx, cast):
    actor = authenticate(ctx, issue_token(ctx, cast.professionals["bruno"].rpps).token)
    assert actor == cast.bruno
    assert actor.establishment_id is None
    assert not actor.establishment_excluded


def test_a_revoked_token_is_refused(ctx, cast):
    issued = issue_token(ctx, cast.professionals["bruno"].rpps)
    authenticate(ctx, issued.token)
    revoke_token(ctx, issued.id)
    with pytest.raises(Unauthenticated):
        authenticate(ctx, issued.token)


def test_an_expired_token_is_refused(ctx, cast, clock):
    token = issue_token(ctx, cast.professionals["bruno"].rpps, days=1).token
    authenticate(ctx, token)
    clock.advance(days=1)
    with pytest.raises(Unauthenticated):
        authenticate(ctx, token)


@pytest.mark.parametrize("token", ["dmp_unknown", "no-prefix", "dmp_" + "x" * 300])
def test_an_unknown_or_malformed_token_is_refused(ctx, cast, token):
    with pytest.raises(Unauthenticated):
        authenticate(ctx, token)


def test_a_professional_who_stopped_practising_is_refused(ctx, cast):
    pro = cast.professionals["bruno"]
    token = issue_token(ctx, pro.rpps).token
    _change(ctx, update(professionals).where(professionals.c.id == pro.id).values(active=False))
    with pytest.raises(Unauthenticated):
        authenticate(ctx, token)


def test_a_professional_who_left_the_establishment_is_refused_for_it(ctx, cast):
    pauline = cast.professionals["pauline"]
    for_pharmacy = issue_token(ctx, pauline.rpps, finess=cast.pharmacie.finess).token
    alone = issue_token(ctx, pauline.rpps).token
    link = professional_establishments.c
    _change(
        ctx,
        delete(professional_establishments).where(
            link.professional_id == pauline.id, link.establishment_id == cast.pharmacie.id
        ),
    )
    with pytest.raises(Unauthenticated):
        authenticate(ctx, for_pharmacy)
    assert authenticate(ctx, alone).professional_id == pauline.id


def test_an_establishment_that_became_excluded_takes_its_tokens_with_it(ctx, cast):
    hugo = cast.professionals["hugo"]
    token = issue_token(ctx, hugo.rpps, finess=cast.chu.finess).token
    assert authenticate(ctx, token).establishment_id == cast.chu.id
    _change(
        ctx, update(establishments).where(establishments.c.id == cast.chu.id).values(excluded=True)
    )
    with pytest.raises(Unauthenticated):
        authenticate(ctx, token)


def test_a_professional_reclassified_as_occupational_physician_is_refused(ctx, cast):
    pro = cast.professionals["damien"]
    token = issue_token(ctx, pro.rpps).token
    _change(
        ctx,
        update(professionals).where(professionals.c.id == pro.id).values(occupational_health=True),
    )
    with pytest.raises(Unauthenticated):
        authenticate(ctx, token)


def _token_issues(ctx):
    with ctx.engine.connect() as conn:
        stmt = select(audit_entries).where(
            audit_entries.c.dmp_id == SYSTEM_CHAIN,
            audit_entries.c.action == "directory.token.issue",
        )
        rows = conn.execute(stmt.order_by(audit_entries.c.seq)).mappings()
        return [(r["outcome"], r["reason"], r["target_id"]) for r in rows]


def test_every_refused_token_issue_is_in_the_trail_with_its_reason(ctx, cast):
    pros = cast.professionals
    unknown = rpps(99)
    with pytest.raises(NotFound):
        issue_token(ctx, unknown)
    with pytest.raises(NotFound):
        issue_token(ctx, pros["bruno"].rpps, finess="440000313")
    for rpps_, finess in (
        (pros["elise"].rpps, None),
        (pros["hugo"].rpps, cast.mutuelle.finess),
        (pros["bruno"].rpps, cast.chu.finess),
    ):
        with pytest.raises(Forbidden):
            issue_token(ctx, rpps_, finess=finess)
    _change(
        ctx,
        update(professionals).where(professionals.c.id == pros["damien"].id).values(active=False),
    )
    with pytest.raises(Forbidden):
        issue_token(ctx, pros["damien"].rpps)
    assert _token_issues(ctx) == [
        ("denied", "unknown-professional", unknown),
        ("denied", "unknown-establishment", pros["bruno"].rpps),
        ("denied", "excluded-actor", pros["elise"].rpps),
        ("denied", "excluded-actor", pros["hugo"].rpps),
        ("denied", "not-a-member", pros["bruno"].rpps),
        ("denied", "inactive", pros["damien"].rpps),
    ]


@pytest.mark.parametrize(("rpps_", "days"), [("123", 30), ("elise", 0), ("elise", 367)])
def test_malformed_token_requests_are_refused_before_anything_is_read(ctx, cast, rpps_, days):
    rpps_ = cast.professionals[rpps_].rpps if rpps_ == "elise" else rpps_
    with pytest.raises(InvalidInput):
        issue_token(ctx, rpps_, days=days)
    assert _token_issues(ctx) == []

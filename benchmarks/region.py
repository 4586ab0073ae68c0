"""The synthetic region's directory: establishments and professionals (about one per 250
patients), their rows and the system audit chain that registering them writes."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from benchmarks.synth import Crypto, Directory, Event, Pro, Rows, chain_rows, uuid_from
from dmp.demo.identities import fake_establishment, fake_professional
from dmp.domain.names import search_key
from dmp.domain.valuesets import load_valuesets
from dmp.services.audit import SYSTEM_CHAIN
from dmp.services.directory import OPERATOR

# Kinds of establishment and professions, with their shares.
_KINDS = (("practice", 50), ("pharmacy", 20), ("laboratory", 10), ("hospital", 10), ("clinic", 8))
_KINDS += (("samu", 2),)
_PROFESSIONS = (("10", 45), ("60", 25), ("21", 12), ("70", 8), ("40", 6), ("50", 4))
_GP_SPECIALTY = "Médecine générale"
T = TypeVar("T")


def _unique(seen: set[str], draw: Callable[[], T], key: Callable[[T], str]) -> T:
    """Draw until the identifier is new (FINESS and RPPS are unique in the directory)."""
    while True:
        item = draw()
        if key(item) not in seen:
            seen.add(key(item))
            return item


def build_directory(seed: int, patients: int, now: datetime) -> Directory:
    rng = random.Random(seed)
    directory = Directory()
    excluded = load_valuesets().establishment_kinds
    created = now - timedelta(days=4000)
    finesses: set[str] = set()
    places = []
    for _ in range(max(6, patients // 1000)):
        kind = rng.choices([k for k, _ in _KINDS], [w for _, w in _KINDS])[0]
        est = _unique(finesses, lambda k=kind: fake_establishment(rng, k), lambda e: e.finess)
        est_id = uuid_from(rng)
        places.append((est, est_id))
        directory.establishments.append(
            {
                "id": est_id,
                "finess": est.finess,
                "name": est.name,
                "search_key": search_key(est.name),
                "kind": kind,
                "excluded": excluded[kind][1],
                "created_at": created,
            }
        )
    _professionals(rng, directory, places, max(20, patients // 250), created)
    return directory


def _professionals(
    rng: random.Random, directory: Directory, places: list[Any], count: int, created: datetime
) -> None:
    rpps_seen: set[str] = set()
    codes, weights = [c for c, _ in _PROFESSIONS], [w for _, w in _PROFESSIONS]
    for index in range(count):
        profession = rng.choices(codes, weights)[0]
        gp = profession == "10" and (index % 2 == 0 or index == 0)
        est, est_id = rng.choice(places)
        specialty = _GP_SPECIALTY if gp else None
        syn = _unique(
            rpps_seen,
            lambda p=profession, s=specialty, e=est: fake_professional(
                rng, profession=p, specialty=s, establishment=e
            ),
            lambda s: s.rpps,
        )
        pro_id = uuid_from(rng)
        directory.professionals.append(
            {
                "id": pro_id,
                "rpps": syn.rpps,
                "family_name": syn.family_name,
                "given_name": syn.given_name,
                "search_key": search_key(f"{syn.given_name} {syn.family_name}"),
                "profession": profession,
                "specialty": syn.specialty,
                "occupational_health": False,
                "samu_regulator": False,
                "email": f"{syn.rpps}@mssante.example.org",
                "active": True,
                "created_at": created,
            }
        )
        directory.links.append({"professional_id": pro_id, "establishment_id": est_id})
        if gp:
            directory.gps.append(len(directory.pros))
        directory.pros.append(
            Pro(pro_id, syn.rpps, profession, est_id, est.finess, syn.display_name)
        )


def directory_rows(crypto: Crypto, directory: Directory) -> Rows:
    """The directory's rows and the system chain of its registration (one entry per row)."""
    rows = Rows()
    rows.tables["establishments"] = directory.establishments
    rows.tables["professionals"] = directory.professionals
    rows.tables["professional_establishments"] = directory.links
    events = [
        Event(
            e["created_at"],
            OPERATOR,
            "directory.establishment.add",
            e["kind"],
            "establishment",
            e["finess"],
        )
        for e in directory.establishments
    ]
    step = timedelta(microseconds=1)
    events += [
        Event(
            p["created_at"] + step * (n + 1),
            OPERATOR,
            "directory.professional.add",
            p["profession"],
            "professional",
            p["rpps"],
        )
        for n, p in enumerate(directory.professionals)
    ]
    entries, head = chain_rows(crypto, SYSTEM_CHAIN, events)
    rows.tables["audit_entries"] = entries
    rows.tables["audit_heads"] = [head]
    return rows

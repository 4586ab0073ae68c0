from __future__ import annotations

import copy

import pytest
import yaml

from dmp.domain.valuesets import (
    _read,
    load_matrix,
    load_valuesets,
    parse_matrix,
    parse_valuesets,
)
from dmp.errors import ConfigurationError, InvalidInput
from dmp.settings import load_settings


def test_types_carry_their_class():
    vs = load_valuesets()
    assert vs.document_type("11488-4").class_code == "10"
    assert vs.document_type("18748-4").class_code == "31"
    assert vs.document_type("DOCPAT01").class_code == "90"
    assert {vs.document_type(f"EXPPAT_{n}").class_code for n in (1, 2, 3)} == {"90"}
    with pytest.raises(InvalidInput, match="JDV_J66"):
        vs.document_type("00000-0")


def test_excluded_establishment_kinds_are_data():
    vs = load_valuesets()
    excluded = {k for k, (_label, ex) in vs.establishment_kinds.items() if ex}
    assert excluded == {"occupational_health", "insurer", "mutuelle", "bank", "employer"}


def test_the_default_matrix_says_it_is_a_default():
    matrix = load_matrix()
    assert matrix.is_default
    assert matrix.allows("10", "31")  # a médecin reads every class
    assert not matrix.allows("21", "31")  # a pharmacist, no imaging
    assert not matrix.allows("99", "10")  # an unknown profession, nothing


def test_malformed_value_sets_are_refused_at_start():
    raw = _read("valuesets.yaml")
    broken = copy.deepcopy(raw)
    broken["types"][0]["class"] = "77"
    with pytest.raises(ConfigurationError, match="unknown class"):
        parse_valuesets(broken)
    del broken["classes"]
    with pytest.raises(ConfigurationError):
        parse_valuesets(broken)
    matrix = yaml.safe_load("version: x\nstatus: default\nmatrix: {'10': ['99']}")
    with pytest.raises(ConfigurationError, match="unknown classes"):
        parse_matrix(matrix, parse_valuesets(raw))


def test_no_default_secret_outside_demo(tmp_path):
    with pytest.raises(ConfigurationError, match="DMP_MASTER_KEYS"):
        load_settings({"DMP_DATA_DIR": str(tmp_path)})
    demo = load_settings({"DMP_DATA_DIR": str(tmp_path)}, demo=True)
    assert demo.demo
    assert demo.database_url == f"sqlite:///{tmp_path / 'dmp.sqlite3'}"
    with pytest.raises(ConfigurationError, match="entier"):
        load_settings({"DMP_PORT": "http", "DMP_DEMO": "1"})


def test_the_witness_has_its_own_directory_and_a_positive_interval(tmp_path):
    demo = {"DMP_DATA_DIR": str(tmp_path), "DMP_DEMO": "1"}
    default = load_settings(demo)
    assert default.witness_path == tmp_path / "witness"
    assert default.witness_interval_seconds == 10
    elsewhere = load_settings(
        {**demo, "DMP_WITNESS_DIR": str(tmp_path / "w"), "DMP_WITNESS_INTERVAL": "2"}
    )
    assert (elsewhere.witness_path, elsewhere.witness_interval_seconds) == (tmp_path / "w", 2)
    for bad in ("0", "-5"):
        with pytest.raises(
            ConfigurationError, match="DMP_WITNESS_INTERVAL doit être un nombre entier positif"
        ):
            load_settings({**demo, "DMP_WITNESS_INTERVAL": bad})

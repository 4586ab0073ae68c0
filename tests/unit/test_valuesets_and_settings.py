from __future__ import annotations

import copy
import json
import re

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


# --- notifications ------------------------------------------------------------------------------

DEMO = {"DMP_DEMO": "1"}
RELAY = {"DMP_SMTP_HOST": "smtp.example.fr", "DMP_MAIL_FROM": "dmp@example.fr"}


def test_no_channel_set_is_none_and_the_delivery_has_defaults():
    settings = load_settings(DEMO)
    assert (settings.smtp, settings.sms) == (None, None)
    delivery = settings.delivery
    assert delivery.enabled
    assert (delivery.timeout_seconds, delivery.max_attempts) == (10.0, 10)
    assert (delivery.retry_seconds, delivery.interval_seconds) == (60, 5)


def test_smtp_settings_and_their_default_port_by_security(tmp_path):
    smtp = load_settings({**DEMO, **RELAY}).smtp
    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.security, smtp.mail_from) == (
        "smtp.example.fr",
        587,
        "starttls",
        "dmp@example.fr",
    )
    assert (smtp.username, smtp.password, smtp.ca_file) == (None, None, None)
    implicit = load_settings({**DEMO, **RELAY, "DMP_SMTP_SECURITY": "TLS"}).smtp
    assert implicit is not None
    assert (implicit.security, implicit.port) == ("tls", 465)
    full = {
        **DEMO,
        **RELAY,
        "DMP_SMTP_PORT": "2525",
        "DMP_SMTP_USERNAME": "dmp",
        "DMP_SMTP_PASSWORD": "secret",
        "DMP_SMTP_CA_FILE": str(tmp_path / "ca.pem"),
    }
    smtp = load_settings(full).smtp
    assert smtp is not None
    assert (smtp.port, smtp.username, smtp.password) == (2525, "dmp", "secret")
    assert smtp.ca_file == tmp_path / "ca.pem"
    assert "secret" not in repr(smtp)  # never in a log line


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DMP_SMTP_SECURITY": "ssl"}, "DMP_SMTP_SECURITY vaut « starttls », « tls » ou « none »"),
        ({"DMP_SMTP_SECURITY": "none"}, "n'est permis que vers un serveur SMTP local"),
        ({"DMP_SMTP_USERNAME": "dmp"}, "DMP_SMTP_USERNAME et DMP_SMTP_PASSWORD vont ensemble"),
        ({"DMP_SMTP_PORT": "0"}, "DMP_SMTP_PORT doit être un nombre entier positif"),
        ({"DMP_MAIL_FROM": ""}, "DMP_MAIL_FROM (l'adresse d'expédition des e-mails) est oblig"),
        ({"DMP_MAIL_FROM": "DMP"}, "DMP_MAIL_FROM n'est pas une adresse e-mail : 'DMP'"),
    ],
)
def test_smtp_settings_refused(env, message):
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        load_settings({"DMP_MASTER_KEYS": "k", "DMP_AUDIT_SIGNING_KEY": "a", **RELAY, **env})


def test_smtp_in_clear_on_the_loopback_only():
    local = {**DEMO, **RELAY, "DMP_SMTP_HOST": "127.0.0.1", "DMP_SMTP_SECURITY": "none"}
    smtp = load_settings(local).smtp
    assert smtp is not None
    assert (smtp.security, smtp.port) == ("none", 25)


def test_sms_settings():
    sms = load_settings({**DEMO, "DMP_SMS_URL": "https://sms.example/v1", "DMP_SMS_TOKEN": "t"}).sms
    assert sms is not None
    assert (sms.url, sms.token, sms.username) == ("https://sms.example/v1", "t", None)
    assert json.loads(sms.template) == {
        "to": "{number}",
        "text": "{text}",
        "reference": "{reference}",
    }
    assert "'t'" not in repr(sms)
    basic = {**DEMO, "DMP_SMS_URL": "http://localhost:9000/sms"}
    basic |= {
        "DMP_SMS_USERNAME": "u",
        "DMP_SMS_PASSWORD": "p",
        "DMP_SMS_TEMPLATE": '["{number}", "{text}"]',
    }
    sms = load_settings(basic).sms
    assert sms is not None
    assert (sms.username, sms.password, sms.template) == ("u", "p", '["{number}", "{text}"]')


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DMP_SMS_URL": "http://sms.example/v1"}, "DMP_SMS_URL doit être une adresse https://"),
        ({"DMP_SMS_URL": "ftp://localhost/"}, "DMP_SMS_URL doit être une adresse https://"),
        ({"DMP_SMS_TOKEN": "t", "DMP_SMS_USERNAME": "u", "DMP_SMS_PASSWORD": "p"}, "pas les deux"),
        ({"DMP_SMS_PASSWORD": "p"}, "DMP_SMS_USERNAME et DMP_SMS_PASSWORD vont ensemble"),
        ({"DMP_SMS_TEMPLATE": '{"to": "{number}", '}, "DMP_SMS_TEMPLATE n'est pas du JSON valide"),
        ({"DMP_SMS_TEMPLATE": '{"to": "{number}"}'}, "DMP_SMS_TEMPLATE doit contenir {text}"),
    ],
)
def test_sms_settings_refused(env, message):
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        load_settings({**DEMO, "DMP_SMS_URL": "https://sms.example/v1", **env})


def test_notifications_are_switched_off_by_off_only():
    assert not load_settings({**DEMO, "DMP_NOTIFICATIONS": "OFF"}).delivery.enabled
    assert load_settings({**DEMO, "DMP_NOTIFICATIONS": "on"}).delivery.enabled
    with pytest.raises(ConfigurationError, match="DMP_NOTIFICATIONS vaut « on » ou « off »"):
        load_settings({**DEMO, "DMP_NOTIFICATIONS": "non"})
    delivery = load_settings(
        {
            **DEMO,
            "DMP_NOTIFY_TIMEOUT": "3",
            "DMP_NOTIFY_MAX_ATTEMPTS": "4",
            "DMP_NOTIFY_RETRY_DELAY": "30",
            "DMP_NOTIFY_INTERVAL": "2",
        }
    ).delivery
    assert (delivery.timeout_seconds, delivery.max_attempts) == (3.0, 4)
    assert (delivery.retry_seconds, delivery.interval_seconds) == (30, 2)


# --- the content store ----------------------------------------------------------------------------


def test_the_content_store_is_local_unless_an_s3_url_is_given(tmp_path):
    settings = load_settings({**DEMO, "DMP_DATA_DIR": str(tmp_path)})
    assert settings.blob_s3 is None
    assert settings.blob_dir == tmp_path / "blobs"


def test_s3_settings():
    s3 = load_settings(
        {
            **DEMO,
            "DMP_BLOB_URL": "s3://dmp-contenus.region-1/prod/blobs",
            "DMP_S3_ENDPOINT_URL": "https://s3.example.fr/",
            "DMP_S3_REGION": "fr-par",
            "DMP_S3_ACCESS_KEY_ID": "AKIA",
            "DMP_S3_SECRET_ACCESS_KEY": "secret",
            "DMP_S3_ADDRESSING_STYLE": "Path",
        }
    ).blob_s3
    assert s3 is not None
    assert (s3.bucket, s3.prefix) == ("dmp-contenus.region-1", "prod/blobs/")
    assert (s3.endpoint_url, s3.region, s3.addressing_style) == (
        "https://s3.example.fr",
        "fr-par",
        "path",
    )
    assert (s3.access_key_id, s3.secret_access_key) == ("AKIA", "secret")
    assert "secret" not in repr(s3)  # never in a log line


def test_s3_settings_default_to_the_aws_chain():
    s3 = load_settings({**DEMO, "DMP_BLOB_URL": "s3://dmp-contenus"}).blob_s3
    assert s3 is not None
    assert (s3.bucket, s3.prefix, s3.endpoint_url, s3.region) == ("dmp-contenus", "", None, None)
    assert (s3.access_key_id, s3.secret_access_key, s3.addressing_style) == (None, None, "auto")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DMP_BLOB_URL": "file:///var/dmp"}, "DMP_BLOB_URL désigne un compartiment S3"),
        ({"DMP_BLOB_URL": "s3://Majuscules"}, "DMP_BLOB_URL désigne un compartiment S3"),
        ({"DMP_BLOB_URL": "s3://ab"}, "DMP_BLOB_URL désigne un compartiment S3"),
        ({"DMP_BLOB_URL": "s3://dmp..x"}, "DMP_BLOB_URL désigne un compartiment S3"),
        ({"DMP_BLOB_URL": "s3://dmp/../autre"}, "DMP_BLOB_URL désigne un compartiment S3"),
        ({"DMP_BLOB_URL": "s3://dmp/a b"}, "DMP_BLOB_URL désigne un compartiment S3"),
        ({"DMP_BLOB_DIR": "/srv/blobs"}, "n'en donnez qu'un"),
        ({"DMP_S3_ENDPOINT_URL": "http://s3.example.fr"}, "http:// seulement en local"),
        ({"DMP_S3_ENDPOINT_URL": "ftp://127.0.0.1"}, "http:// seulement en local"),
        ({"DMP_S3_ENDPOINT_URL": "https://s3.example.fr/dmp"}, "sans chemin"),
        ({"DMP_S3_ACCESS_KEY_ID": "AKIA"}, "DMP_S3_ACCESS_KEY_ID et DMP_S3_SECRET_ACCESS_KEY vont"),
        ({"DMP_S3_ADDRESSING_STYLE": "dns"}, "DMP_S3_ADDRESSING_STYLE vaut « auto », « path »"),
    ],
)
def test_s3_settings_refused(env, message):
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        load_settings({**DEMO, "DMP_BLOB_URL": "s3://dmp", **env})


def test_an_s3_endpoint_in_clear_on_the_loopback_only():
    local = {**DEMO, "DMP_BLOB_URL": "s3://dmp", "DMP_S3_ENDPOINT_URL": "http://127.0.0.1:9000"}
    s3 = load_settings(local).blob_s3
    assert s3 is not None
    assert s3.endpoint_url == "http://127.0.0.1:9000"

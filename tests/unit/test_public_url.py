"""DMP_PUBLIC_URL: the address the patients type, which passkeys are bound to (its host name is
WebAuthn's relying party, its origin what the browser reports)."""

from __future__ import annotations

import pytest

from dmp.errors import ConfigurationError
from dmp.settings import load_settings


def settings(url: str | None, port: str = "8000"):
    env = {"DMP_DEMO": "1", "DMP_PORT": port}
    if url is not None:
        env["DMP_PUBLIC_URL"] = url
    return load_settings(env)


@pytest.mark.parametrize(
    ("url", "rp_id", "origin"),
    [
        ("https://dmp.example.fr", "dmp.example.fr", "https://dmp.example.fr"),
        ("https://dmp.example.fr/", "dmp.example.fr", "https://dmp.example.fr"),
        ("https://DMP.Example.fr:443", "dmp.example.fr", "https://dmp.example.fr"),
        ("https://dmp.example.fr:8443", "dmp.example.fr", "https://dmp.example.fr:8443"),
        ("http://localhost:8000", "localhost", "http://localhost:8000"),
    ],
)
def test_the_relying_party_and_the_origin_come_from_the_public_address(url, rp_id, origin):
    chosen = settings(url)
    assert (chosen.webauthn_rp_id, chosen.webauthn_origin) == (rp_id, origin)


def test_by_default_the_service_on_this_machine_as_a_browser_here_names_it():
    chosen = settings(None, port="8123")
    assert chosen.public_url == "http://localhost:8123"
    assert (chosen.webauthn_rp_id, chosen.webauthn_origin) == ("localhost", "http://localhost:8123")


@pytest.mark.parametrize(
    "url",
    [
        "http://dmp.example.fr",  # in clear, elsewhere than this machine
        "http://127.0.0.1:8000",  # a browser binds no passkey to an IP address
        "https://10.1.2.3",
        "https://[::1]:8443",
        "https://dmp.example.fr/portail",  # a passkey is bound to a site, not a path
        "https://dmp.example.fr/?a=1",
        "https://patient@dmp.example.fr",
        "https://dmp.example.fr:http",
        "ftp://dmp.example.fr",
        "dmp.example.fr",
    ],
)
def test_an_address_no_passkey_can_be_bound_to_is_refused_at_start(url):
    with pytest.raises(ConfigurationError, match="DMP_PUBLIC_URL"):
        settings(url)

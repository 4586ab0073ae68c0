"""Master keys, data-key wrapping and sealed small values."""

from __future__ import annotations

import base64
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dmp.adapters.crypto import (
    KeyRing,
    MasterKey,
    WrappedKey,
    generate_master_key_spec,
    open_sealed,
    parse_master_keys,
    seal,
)
from dmp.errors import ConfigurationError, IntegrityError

DMP_A = uuid.UUID("00000000-0000-4000-8000-00000000000a")
DMP_B = uuid.UUID("00000000-0000-4000-8000-00000000000b")
KEY = bytes(range(32))


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def ring(*ids: str) -> KeyRing:
    return parse_master_keys(",".join(generate_master_key_spec(key_id) for key_id in ids))


# --- configuration ----------------------------------------------------------------------------


def test_generated_spec_parses_and_first_entry_is_current() -> None:
    keyring = parse_master_keys(
        f" {generate_master_key_spec('2025-06')} , {generate_master_key_spec('2024-01')} "
    )
    assert keyring.current.key_id == "2025-06"
    assert [key.key_id for key in keyring.previous] == ["2024-01"]
    assert len(keyring.current.key) == 32


def test_generated_keys_are_random() -> None:
    assert generate_master_key_spec("k") != generate_master_key_spec("k")


SECRET_31 = b64(b"s" * 31)
SECRET_32 = b64(b"s" * 32)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("", "Aucune clé"),
        (" , ", "Aucune clé"),
        ("k1", "n°1 mal formée"),
        (f"k1:{b64(b'x' * 32)},{SECRET_32}", "n°2 mal formée"),
        (f"{SECRET_32[:20]}+/=:{b64(b'x' * 32)}", "Identifiant"),
        ("k1:%%%notbase64", "base64"),
        ("k1:" + b64(b"x" * 32)[:-1], "base64"),
        ("k1:" + SECRET_31, "32 octets"),
        ("k1:" + b64(b"x" * 33), "32 octets"),
        (":" + b64(b"x" * 32), "Identifiant"),
        ("bad id:" + b64(b"x" * 32), "Identifiant"),
        (f"k1:{b64(b'x' * 32)},k1:{b64(b'y' * 32)}", "double"),
    ],
)
def test_bad_master_key_specs_are_refused_clearly(spec: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment) as caught:
        parse_master_keys(spec)
    for secret in (SECRET_31, SECRET_32[:20]):  # never echo key material
        assert secret not in caught.value.message


def test_master_key_repr_hides_the_key() -> None:
    assert repr(MasterKey("k1", b"\xab" * 32)) == "MasterKey(key_id='k1')"


# --- wrapping ---------------------------------------------------------------------------------


def test_wrap_unwrap_round_trip_with_fresh_randomness() -> None:
    keyring = ring("k1")
    data_key = keyring.new_data_key()
    first, second = keyring.wrap(DMP_A, data_key), keyring.wrap(DMP_A, data_key)
    assert first.key_id == "k1"
    assert first.blob != second.blob
    assert data_key not in first.blob
    assert keyring.unwrap(DMP_A, first) == data_key == keyring.unwrap(DMP_A, second)


def test_new_data_keys_are_random_32_bytes() -> None:
    keyring = ring("k1")
    assert len(keyring.new_data_key()) == 32
    assert keyring.new_data_key() != keyring.new_data_key()


def test_a_key_wrapped_for_one_dmp_does_not_unwrap_for_another() -> None:
    keyring = ring("k1")
    wrapped = keyring.wrap(DMP_A, keyring.new_data_key())
    with pytest.raises(IntegrityError):
        keyring.unwrap(DMP_B, wrapped)


def test_unknown_master_key_is_a_clear_integrity_error() -> None:
    wrapped = ring("old").wrap(DMP_A, KEY)
    with pytest.raises(IntegrityError, match="'old' inconnue"):
        ring("new").unwrap(DMP_A, wrapped)


def test_relabelled_key_id_does_not_unwrap() -> None:
    keyring = ring("k2", "k1")
    wrapped = KeyRing(keyring.previous[0]).wrap(DMP_A, KEY)
    with pytest.raises(IntegrityError):
        keyring.unwrap(DMP_A, WrappedKey("k2", wrapped.blob))


@given(position=st.integers(min_value=0, max_value=60), bit=st.integers(0, 7))
def test_any_flipped_bit_of_a_wrapped_key_is_detected(position: int, bit: int) -> None:
    keyring = KeyRing(MasterKey("k1", b"m" * 32))
    wrapped = keyring.wrap(DMP_A, KEY)
    blob = bytearray(wrapped.blob)
    blob[position % len(blob)] ^= 1 << bit
    with pytest.raises(IntegrityError):
        keyring.unwrap(DMP_A, WrappedKey("k1", bytes(blob)))


def test_rotation_old_keys_unwrap_new_wraps_use_current() -> None:
    old = ring("2024")
    wrapped_before = old.wrap(DMP_A, KEY)
    rotated = KeyRing(MasterKey("2025", b"n" * 32), (old.current,))
    assert rotated.unwrap(DMP_A, wrapped_before) == KEY
    wrapped_after = rotated.wrap(DMP_A, KEY)
    assert wrapped_after.key_id == "2025"
    assert KeyRing(rotated.current).unwrap(DMP_A, wrapped_after) == KEY
    with pytest.raises(IntegrityError):
        KeyRing(rotated.current).unwrap(DMP_A, wrapped_before)


def test_duplicate_ids_in_a_keyring_are_refused() -> None:
    key = MasterKey("k1", b"m" * 32)
    with pytest.raises(ConfigurationError, match="double"):
        KeyRing(key, (MasterKey("k1", b"n" * 32),))


# --- sealed values ----------------------------------------------------------------------------


@given(plaintext=st.binary(max_size=2048), aad=st.binary(max_size=64))
def test_seal_round_trip(plaintext: bytes, aad: bytes) -> None:
    blob = seal(KEY, plaintext, aad)
    assert len(blob) == 1 + 12 + len(plaintext) + 16
    assert open_sealed(KEY, blob, aad) == plaintext


def test_sealed_values_cannot_be_swapped_between_rows() -> None:
    doc1, doc2 = uuid.uuid4(), uuid.uuid4()
    title = seal(KEY, b"Compte rendu", f"title:{DMP_A}:{doc1}".encode())
    with pytest.raises(IntegrityError):
        open_sealed(KEY, title, f"title:{DMP_A}:{doc2}".encode())
    with pytest.raises(IntegrityError):
        open_sealed(KEY, title, f"comment:{DMP_A}:{doc1}".encode())


def test_sealed_value_needs_the_right_key() -> None:
    blob = seal(KEY, b"secret", b"aad")
    with pytest.raises(IntegrityError):
        open_sealed(b"\x00" * 32, blob, b"aad")


@pytest.mark.parametrize("cut", [0, 1, 12, 28])
def test_truncated_sealed_value_is_an_integrity_error(cut: int) -> None:
    blob = seal(KEY, b"", b"aad")
    with pytest.raises(IntegrityError):
        open_sealed(KEY, blob[:cut], b"aad")


@given(position=st.integers(min_value=0), bit=st.integers(0, 7))
def test_any_flipped_bit_of_a_sealed_value_is_detected(position: int, bit: int) -> None:
    blob = bytearray(seal(KEY, b"Alice Martin, 1980-02-03", b"identity"))
    blob[position % len(blob)] ^= 1 << bit
    with pytest.raises(IntegrityError):
        open_sealed(KEY, bytes(blob), b"identity")


@pytest.mark.parametrize("size", [0, 16, 31, 33])
def test_data_keys_of_the_wrong_size_are_refused(size: int) -> None:
    with pytest.raises(IntegrityError, match="Clé de données"):
        seal(b"k" * size, b"x", b"")
    with pytest.raises(IntegrityError, match="Clé de données"):
        ring("k1").wrap(DMP_A, b"k" * size)

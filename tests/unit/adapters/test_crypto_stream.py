"""The segmented streaming AEAD used for document contents."""

from __future__ import annotations

import hashlib
import itertools
import random
import secrets
import tracemalloc
from collections.abc import Iterable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dmp.adapters.crypto import (
    HEADER_SIZE,
    SEGMENT_SIZE,
    TAG_SIZE,
    ciphertext_size,
    decrypt_stream,
    encrypt_stream,
)
from dmp.errors import IntegrityError, InvalidInput

KEY = bytes(range(32))
AAD = b"content:dmp-a:doc-1"
SEG = SEGMENT_SIZE
CT_SEG = SEGMENT_SIZE + TAG_SIZE


def payload(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


def chunked(data: bytes, size: int) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


def cut(data: bytes, points: Iterable[int]) -> list[bytes]:
    bounds = sorted({0, len(data), *(p % (len(data) + 1) for p in points)})
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def encrypt(data: bytes, key: bytes = KEY, aad: bytes = AAD) -> list[bytes]:
    """Header, then one item per ciphertext segment."""
    return list(encrypt_stream(key, aad, [data]))


def released_until_error(parts: Iterable[bytes], key: bytes = KEY, aad: bytes = AAD) -> bytes:
    """The plaintext released before the IntegrityError (which must come)."""
    released = bytearray()
    try:
        for plaintext in decrypt_stream(key, aad, parts):
            released += plaintext
    except IntegrityError:
        return bytes(released)
    pytest.fail("tampering not detected")


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, SEG - 1, SEG, SEG + 1, 3 * 1024 * 1024])
@pytest.mark.parametrize("chunk", [1000, SEG, 10 * 1024 * 1024])
def test_round_trip(size: int, chunk: int) -> None:
    data = payload(size)
    ciphertext = b"".join(encrypt_stream(KEY, AAD, chunked(data, chunk)))
    assert len(ciphertext) == ciphertext_size(size)
    assert b"".join(decrypt_stream(KEY, AAD, chunked(ciphertext, chunk))) == data


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=3 * SEG + 17),
    plain_cuts=st.lists(st.integers(min_value=0), max_size=12),
    cipher_cuts=st.lists(st.integers(min_value=0), max_size=12),
    empties=st.booleans(),
)
def test_round_trip_any_chunking(
    size: int, plain_cuts: list[int], cipher_cuts: list[int], empties: bool
) -> None:
    data = payload(size, seed=size)
    pieces = cut(data, plain_cuts)
    if empties:
        pieces = [piece for p in pieces for piece in (b"", p, b"")]
    ciphertext = b"".join(encrypt_stream(KEY, AAD, pieces))
    assert len(ciphertext) == ciphertext_size(size)
    assert b"".join(decrypt_stream(KEY, AAD, cut(ciphertext, cipher_cuts))) == data


def test_empty_content_is_one_empty_last_segment() -> None:
    parts = encrypt(b"")
    assert [len(p) for p in parts] == [HEADER_SIZE, TAG_SIZE]
    assert list(decrypt_stream(KEY, AAD, parts)) == [b""]


def test_segments_are_64_kib_and_only_whole_segments_are_released() -> None:
    parts = encrypt(payload(2 * SEG + 5))
    assert [len(p) for p in parts] == [HEADER_SIZE, CT_SEG, CT_SEG, 5 + TAG_SIZE]
    assert [len(p) for p in decrypt_stream(KEY, AAD, parts)] == [SEG, SEG, 5]


def test_same_content_encrypts_differently_each_time() -> None:
    assert encrypt(b"same") != encrypt(b"same")


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, HEADER_SIZE + TAG_SIZE),
        (1, HEADER_SIZE + 1 + TAG_SIZE),
        (SEG, HEADER_SIZE + SEG + TAG_SIZE),
        (SEG + 1, HEADER_SIZE + SEG + 1 + 2 * TAG_SIZE),
        (50 * 1024 * 1024, HEADER_SIZE + 50 * 1024 * 1024 + 800 * TAG_SIZE),
    ],
)
def test_ciphertext_size(size: int, expected: int) -> None:
    assert ciphertext_size(size) == expected


def test_ciphertext_size_refuses_negative_sizes() -> None:
    with pytest.raises(InvalidInput):
        ciphertext_size(-1)


# --- tampering --------------------------------------------------------------------------------

DATA = payload(2 * SEG + 100, seed=7)


@settings(max_examples=80, deadline=None)
@given(position=st.integers(0, ciphertext_size(len(DATA)) - 1), bit=st.integers(0, 7))
def test_any_flipped_bit_is_detected_and_its_segment_withheld(position: int, bit: int) -> None:
    ciphertext = bytearray(b"".join(encrypt(DATA)))
    ciphertext[position] ^= 1 << bit
    released = released_until_error(chunked(bytes(ciphertext), 4096))
    # Segments before the tampered one may be released, never the tampered one nor any later;
    # a tampered header releases nothing.
    tampered = (position - HEADER_SIZE) // CT_SEG if position >= HEADER_SIZE else 0
    assert released == DATA[: tampered * SEG]


@pytest.mark.parametrize(
    ("region", "offset"),
    [("version", 0), ("salt", 1), ("salt", 16), ("prefix", 17), ("prefix", 23)],
)
def test_header_tampering_releases_nothing(region: str, offset: int) -> None:
    parts = encrypt(DATA)
    header = bytearray(parts[0])
    header[offset] ^= 0x01
    assert released_until_error([bytes(header), *parts[1:]]) == b"", region


@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize("where", ["body", "tag"])
def test_segment_body_or_tag_tampering(index: int, where: str) -> None:
    parts = encrypt(DATA)
    segment = bytearray(parts[1 + index])
    segment[0 if where == "body" else -1] ^= 0x80
    parts[1 + index] = bytes(segment)
    assert released_until_error(parts) == DATA[: index * SEG]


def test_swapped_segments_are_detected() -> None:
    header, first, second, last = encrypt(DATA)
    assert released_until_error([header, second, first, last]) == b""


def test_dropped_last_segment_is_detected() -> None:
    header, first, second, _last = encrypt(DATA)
    assert released_until_error([header, first, second]) == DATA[:SEG]


def test_dropped_last_segment_on_a_segment_boundary_is_detected() -> None:
    data = payload(2 * SEG)
    header, first, _last = encrypt(data)
    assert released_until_error([header, first]) == b""


def test_appended_segment_is_detected() -> None:
    header, first, second, last = encrypt(DATA)
    foreign = encrypt(b"x" * 10)[1]
    assert released_until_error([header, first, second, last, foreign]) == DATA[: 2 * SEG]
    assert released_until_error([header, first, second, last, last]) == DATA[: 2 * SEG]


@pytest.mark.parametrize(
    ("drop", "whole_segments_released"),
    [(1, 2), (TAG_SIZE, 2), (100 + TAG_SIZE, 1), (100 + TAG_SIZE + 1, 1)],
)
def test_cut_tail_is_detected(drop: int, whole_segments_released: int) -> None:
    ciphertext = b"".join(encrypt(DATA))
    released = released_until_error([ciphertext[:-drop]])
    assert released == DATA[: whole_segments_released * SEG]


@pytest.mark.parametrize("keep", [0, 1, HEADER_SIZE - 1, HEADER_SIZE, HEADER_SIZE + TAG_SIZE - 1])
def test_almost_empty_ciphertext_is_detected(keep: int) -> None:
    ciphertext = b"".join(encrypt(b""))
    assert released_until_error([ciphertext[:keep]]) == b""


def test_segment_from_another_blob_under_the_same_key_is_detected() -> None:
    header, _first, second, last = encrypt(DATA)
    _other_header, other_first, *_ = encrypt(DATA)
    assert released_until_error([header, other_first, second, last]) == b""


def test_wrong_associated_data_releases_nothing() -> None:
    parts = encrypt(DATA)
    assert released_until_error(parts, aad=b"content:dmp-a:doc-2") == b""


def test_wrong_key_releases_nothing() -> None:
    parts = encrypt(DATA)
    assert released_until_error(parts, key=secrets.token_bytes(32)) == b""


@pytest.mark.parametrize("size", [0, 31])
def test_keys_of_the_wrong_size_are_refused(size: int) -> None:
    with pytest.raises(IntegrityError):
        encrypt_stream(b"k" * size, AAD, [b"x"])
    with pytest.raises(IntegrityError):
        decrypt_stream(b"k" * size, AAD, [b"x"])


# --- memory -----------------------------------------------------------------------------------

MIB = 1024 * 1024


def test_50_mib_round_trip_in_bounded_memory() -> None:
    block = payload(SEG + 123, seed=3)  # an odd chunk size, so segments straddle chunks
    count = (50 * MIB) // len(block) + 1
    expected = hashlib.sha256()
    for _ in range(count):
        expected.update(block)

    tracemalloc.start()
    try:
        actual, size = hashlib.sha256(), 0
        ciphertext = encrypt_stream(KEY, AAD, (block for _ in range(count)))
        for plaintext in decrypt_stream(KEY, AAD, ciphertext):
            actual.update(plaintext)
            size += len(plaintext)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert size == count * len(block) > 50 * MIB
    assert actual.digest() == expected.digest()
    assert peak < 2 * MIB, f"peak traced memory {peak / MIB:.2f} MiB"

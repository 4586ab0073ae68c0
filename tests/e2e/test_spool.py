"""The streaming of transaction bodies (``dmp.entrypoints.fhir.spool``), whatever the chunking:
the skeleton parses to the document, long strings stay on disk and decode to the same bytes."""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import json
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dmp.entrypoints.fhir.spool import LONG_STRING, SpooledBody, decode_base64, spool
from dmp.errors import InvalidInput, TooLarge


def _feed(text: bytes, cuts: list[int], directory) -> SpooledBody:
    body = SpooledBody(directory)
    edges = [0, *sorted({c % (len(text) + 1) for c in cuts}), len(text)]
    for start, end in itertools.pairwise(edges):
        body.feed(text[start:end])
    return body


@settings(max_examples=60, deadline=None)
@given(
    content=st.binary(min_size=0, max_size=3 * LONG_STRING),
    title=st.text(max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=10**6), max_size=12),
    escape_slashes=st.booleans(),
)
def test_any_chunking_gives_back_the_document_and_the_content(
    tmp_path_factory, content, title, cuts, escape_slashes
):
    encoded = base64.b64encode(content).decode()
    document = {"resourceType": "Binary", "title": title, "data": "@@", "after": [1, '\\"x']}
    text = json.dumps(document)
    text = text.replace(
        '"@@"', '"' + (encoded.replace("/", "\\/") if escape_slashes else encoded) + '"'
    )
    body = _feed(text.encode(), cuts, tmp_path_factory.mktemp("spool"))
    try:
        parsed = json.loads(body.skeleton())
        body.check_placement(parsed)
        assert parsed["title"] == title
        assert parsed["after"] == [1, '\\"x']
        assert body.is_long(parsed["data"]) == (len(encoded) > LONG_STRING)
        assert b"".join(body.base64(parsed["data"])) == content
    finally:
        body.close()


def test_a_long_string_elsewhere_than_data_is_refused(tmp_path):
    body = _feed(json.dumps({"title": "x" * (LONG_STRING + 1)}).encode(), [5, 9000], tmp_path)
    with pytest.raises(InvalidInput):
        body.check_placement(json.loads(body.skeleton()))
    body.close()


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        ([b"QUJD", b"RA=="], b"ABCD"),
        ([b"QU", b"JD"], b"ABC"),
        ([b"QUJD\\", b"/A=="], b"ABC\xfc"),
        ([b"QUJD\\n", b"RA=="], b"ABCD"),
    ],
)
def test_decode_base64_across_blocks(blocks, expected):
    assert b"".join(decode_base64(blocks)) == expected


@pytest.mark.parametrize("blocks", [[b"QQ==", b"QUJD"], [b"QUJ"], [b"QUJD\\"], [b"QU\\uJD"]])
def test_decode_base64_refuses(blocks):
    with pytest.raises(InvalidInput):
        b"".join(decode_base64(blocks))


def test_the_size_limit_stops_reading(tmp_path):
    sent = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            sent.append(1)
            yield b"x" * 1000

    with pytest.raises(TooLarge):
        asyncio.run(spool(chunks(), 10_000, tmp_path))
    assert len(sent) == 100  # the rest was drained (read and dropped), not kept


def test_nothing_readable_is_left_on_disk(tmp_path):
    body = SpooledBody(tmp_path)
    body.feed(b'{"data": "' + base64.b64encode(b"secret health data" * 2000) + b'"}')
    assert list(tmp_path.iterdir()) == []  # unlinked at creation
    body.close()


@st.composite
def _nearly_base64(draw: st.DrawFn) -> bytes:
    """Valid base64, with now and then characters put in: outside the alphabet, padding,
    whitespace (which is dropped)."""
    text = bytearray(base64.b64encode(draw(st.binary(max_size=40))))
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        position = draw(st.integers(min_value=0, max_value=len(text)))
        text[position:position] = draw(
            st.sampled_from([b"*", b"-", b"_", b"=", b"==", b" ", b"\n"])
        )
    return bytes(text)


@settings(max_examples=300, deadline=None)
@given(
    text=_nearly_base64(),
    cuts=st.lists(st.integers(min_value=0, max_value=64), max_size=4),
)
def test_decode_base64_is_strict_base64(text, cuts):
    """Whatever the blocks, the bytes of strict base64 (binascii's strict mode, on the whole
    text without its whitespace), or a refusal where it refuses; a text whose length is not a
    multiple of 4 is refused."""
    edges = [0, *sorted({c % (len(text) + 1) for c in cuts}), len(text)]
    blocks = [text[start:end] for start, end in itertools.pairwise(edges)]
    bare = text.translate(None, b" \n")
    try:
        expected = binascii.a2b_base64(bare, strict_mode=True) if len(bare) % 4 == 0 else None
    except binascii.Error:
        expected = None
    if expected is None:
        with pytest.raises(InvalidInput):
            b"".join(decode_base64(blocks))
    else:
        assert b"".join(decode_base64(blocks)) == expected

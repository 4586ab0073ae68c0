"""The FHIR ids' UUIDs in base32: ``compact`` writes what RFC 4648 says (``base64.b32encode``,
lowercase, no padding), ``expand`` reads it back, and one UUID has one spelling only."""

from __future__ import annotations

import base64
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from dmp.entrypoints.fhir.ids import compact, expand

BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


@given(st.uuids(version=None) | st.sampled_from([UUID(int=0), UUID(int=2**128 - 1)]))
def test_compact_is_rfc_4648_base32_and_reads_back(value: UUID) -> None:
    written = compact(value)
    assert written == base64.b32encode(value.bytes).decode("ascii").rstrip("=").lower()
    assert len(written) == 26
    assert expand(written) == value
    assert expand(str(value)) == value


@given(st.uuids(version=None), st.integers(1, 3))
def test_a_second_spelling_of_a_uuid_names_nothing(value: UUID, padding: int) -> None:
    """The last digit carries two bits of padding, zeros when written: set, they name nothing."""
    written = compact(value)
    last = BASE32.index(written[-1])
    assert last % 4 == 0
    assert expand(written[:-1] + BASE32[last + padding]) is None

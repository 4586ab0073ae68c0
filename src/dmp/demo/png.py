"""A synthetic ECG rhythm strip as a PNG, written with zlib and struct only (no imaging library).

Paper at 25 mm/s and 10 mm/mV, 4 pixels a millimetre: a pink grid (small squares of 1 mm, large
ones of 5 mm) and one lead drawn from a sum of Gaussian P, Q, R, S and T waves. Fictional.
"""

from __future__ import annotations

import math
import random
import struct
import zlib

_PX_PER_MM = 4
_MM_PER_SECOND = 25
_MM_PER_MV = 10
_BACKGROUND = bytes((255, 252, 252))
_MINOR = bytes((250, 205, 205))
_MAJOR = bytes((235, 140, 140))
_TRACE = bytes((25, 25, 35))
# (centre in seconds after the start of the beat, amplitude in mV, width in seconds)
_WAVES = (
    (0.10, 0.15, 0.025),
    (0.225, -0.10, 0.008),
    (0.25, 1.10, 0.010),
    (0.275, -0.28, 0.010),
    (0.50, 0.30, 0.045),
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _grid_row(width: int, y: int) -> bytearray:
    major_step = 5 * _PX_PER_MM
    if y % major_step == 0:
        return bytearray(_MAJOR * width)
    row = bytearray((_MINOR if y % _PX_PER_MM == 0 else _BACKGROUND) * width)
    for x in range(0, width, _PX_PER_MM):
        row[3 * x : 3 * x + 3] = _MAJOR if x % major_step == 0 else _MINOR
    return row


def _beat_times(rng: random.Random, heart_rate: int, seconds: float) -> list[float]:
    starts, t = [], -rng.uniform(0.0, 60.0 / heart_rate)
    while t < seconds:
        starts.append(t)
        t += 60.0 / heart_rate * rng.uniform(0.96, 1.04)  # physiological variability
    return starts


def _voltage(t: float, starts: list[float]) -> float:
    total = 0.0
    for start in starts:
        phase = t - start
        if -0.2 < phase < 0.8:
            total += sum(a * math.exp(-(((phase - c) / w) ** 2) / 2) for c, a, w in _WAVES)
    return total


def ecg_png(
    rng: random.Random, *, heart_rate: int | None = None, seconds: int = 10, height: int = 200
) -> bytes:
    """A PNG of a ``seconds``-long rhythm strip (lead II) at ``heart_rate`` (drawn if None)."""
    rate = heart_rate or rng.randint(56, 98)
    width = seconds * _MM_PER_SECOND * _PX_PER_MM
    rows = [_grid_row(width, y) for y in range(height)]
    starts = _beat_times(rng, rate, seconds)
    baseline, previous = height * 0.62, None
    for x in range(width):
        t = x / (_MM_PER_SECOND * _PX_PER_MM)
        volts = _voltage(t, starts) + 0.03 * math.sin(2 * math.pi * 0.3 * t) + rng.gauss(0, 0.008)
        y = min(height - 2, max(1, round(baseline - volts * _MM_PER_MV * _PX_PER_MM)))
        low, high = (y, y) if previous is None else (min(y, previous), max(y, previous))
        for row in range(low, high + 2):  # a 2-pixel line, continuous on steep slopes
            rows[row][3 * x : 3 * x + 3] = _TRACE
        previous = y
    raw = b"".join(b"\x00" + bytes(row) for row in rows)  # filter type 0 on every scanline
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    title = f"ECG - DII - {rate}/min - trace fictif (donnees synthetiques)".encode("latin-1")
    return b"".join(
        (
            PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"tEXt", b"Title\x00" + title),
            _chunk(b"tEXt", b"Software\x00dmp demo"),
            _chunk(b"IDAT", zlib.compress(raw, 9)),
            _chunk(b"IEND", b""),
        )
    )

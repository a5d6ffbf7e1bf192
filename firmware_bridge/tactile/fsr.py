"""DexUMI's FSR board frames: 60 bytes, the legacy encoder-board framing with 13 data words.

Little-endian 32-bit words: ``0x000055AA`` (bytes ``AA 55 00 00``), 12 signed words (the board's 24-bit
ADC channels, sign-extended), one word packing two unsigned 16-bit FSR readings (``low | high << 16``), then
``(checksum << 16) | ms_counter`` with checksum = (sum of the 13 data words) & 0xFFFF.

The checksum is the low 16 bits of a sum: it cannot see bits 16-31 of any word — the upper ADC bytes, the
whole ``high`` FSR value — nor the ms counter. Plausibility rules cover what they can: ADC words must be
sign-extended 24-bit numbers, no value may spike away from two neighbours that agree (ADC by ≥ 2^15
counts, the high FSR value by ≥ ``FSR_SPIKE`` counts), and the ms counter may not jump away and back.
A change of fewer than ``FSR_SPIKE`` counts to the high FSR value is beyond what the format can detect.
"""

from __future__ import annotations

import numpy as np

from firmware_bridge import legacy
from firmware_bridge.tactile import framing
from firmware_bridge.tactile.plausibility import implausible_rows

ADC_WORDS = 12
DATA_WORDS = ADC_WORDS + 1  # the checksummed words, as the legacy framing counts channels
FRAME_SIZE = legacy.frame_size(DATA_WORDS)  # 60
CHANNELS = ADC_WORDS + 2  # decoded columns: 12 ADC words, fsr_low, fsr_high
FSR_SPIKE = 256  # counts: an isolated jump of the unprotected high FSR value this large is corruption
CHANNEL_NAMES = tuple(f"adc{i}" for i in range(ADC_WORDS)) + ("fsr_low", "fsr_high")


def encode_frames(adc: np.ndarray, fsr: np.ndarray, ms_counters: np.ndarray) -> bytes:
    """Frames from adc (n, 12) signed counts, fsr (n, 2) uint16 (low, high) and 16-bit ms counters (n,)."""
    adc = np.asarray(adc, dtype=np.int64)
    fsr = np.asarray(fsr, dtype=np.int64) & 0xFFFF
    packed = fsr[:, 0] | (fsr[:, 1] << 16)
    words = np.concatenate([adc, packed[:, None]], axis=1)
    return legacy.encode_frames(words, ms_counters)


def checks(rows: np.ndarray) -> np.ndarray:
    """Per (n, 60) uint8 row: header present and the 16-bit sum of the 13 data words right."""
    ok = (rows[:, 0] == 0xAA) & (rows[:, 1] == 0x55) & (rows[:, 2] == 0) & (rows[:, 3] == 0)
    words = np.ascontiguousarray(rows[:, 4:]).view("<u4")
    total = words[:, :-1].astype(np.int64).sum(axis=1)  # the low 16 bits agree for signed or unsigned words
    good: np.ndarray = ok & ((total & 0xFFFF) == (words[:, -1] >> 16))
    return good


def valid_frames(b: np.ndarray, final: bool = False, anchored: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Starts of frames whose checksum passes next to another header (framing.valid_frames); failures."""
    return framing.valid_frames(b, FRAME_SIZE, legacy.HEADER_BYTES, checks, final, anchored)


def unpack(b: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values int32 (n, 14): 12 ADC words then fsr_low, fsr_high; ms counters int64 (n,))."""
    words, ms = legacy.unpack_frames(b, starts, DATA_WORDS)
    packed = words[:, -1].view(np.uint32)
    out = np.empty((len(words), CHANNELS), np.int32)
    out[:, :ADC_WORDS] = words[:, :ADC_WORDS]
    out[:, ADC_WORDS] = packed & 0xFFFF
    out[:, ADC_WORDS + 1] = packed >> 16
    return out, ms.astype(np.int64)


def implausible(
    values: np.ndarray,
    ms: np.ndarray,
    prev: tuple[np.ndarray, int] | None,
    nxt: tuple[np.ndarray, int] | None,
    usual_step_ms: float | None,
) -> np.ndarray:
    """Frames whose checksum passed but whose content cannot be what the board sent (see module doc)."""

    def strip(r: tuple[np.ndarray, int] | None) -> tuple[np.ndarray, int] | None:
        return None if r is None else (r[0][:ADC_WORDS], r[1])

    bad = implausible_rows(values[:, :ADC_WORDS], ms.astype(np.uint16), strip(prev), strip(nxt), usual_step_ms)
    hi = slice(ADC_WORDS + 1, ADC_WORDS + 2)
    bad |= framing.neighbour_spikes(
        values[:, hi], None if prev is None else prev[0][hi], None if nxt is None else nxt[0][hi], FSR_SPIKE
    )
    return bad

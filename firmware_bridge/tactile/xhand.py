"""XHand tactile board frames: 728 bytes, ``55 AA`` then an 8-bit-sum-checked payload.

| offset | size | field |
|---|---|---|
| 0 | 2 | header ``55 AA`` |
| 2 | 1 | int8 fx (resultant force, x) |
| 3 | 1 | int8 fy |
| 4 | 1 | uint8 fz |
| 5 | 720 | 3 × 120 uint16 LE: the x, y and z force maps, 10 rows × 12 columns each, row-major; /100 → N |
| 725 | 2 | uint16 LE timestamp (ms, wraps every 65.536 s) |
| 727 | 1 | checksum = sum(bytes[2:727]) & 0xFF |

The 8-bit sum catches any single damaged byte; damage to several bytes whose changes cancel modulo 256
(1 in 256 of such frames) slips through it, so plausibility rules follow: a taxel that spikes by
≥ ``TAXEL_SPIKE`` counts (10 N) away from two neighbours that agree, and a timestamp that jumps away and
back, are rejected too. Cancelling damage below those sizes (e.g. to low bytes of taxels) is beyond what
the format can detect.
"""

from __future__ import annotations

import numpy as np

from firmware_bridge.tactile import framing
from firmware_bridge.tactile.plausibility import implausible_rows

HEADER = b"\x55\xaa"
FRAME_SIZE = 728
ROWS, COLS = 10, 12
TAXELS = ROWS * COLS  # 120 per map
MAPS = ("x", "y", "z")
CHANNELS = 3 + 3 * TAXELS  # decoded columns: fx, fy, fz, then the x, y, z maps
NEWTONS_PER_COUNT = 0.01
TAXEL_SPIKE = 1000  # counts (10 N): one taxel jumping this far for one frame and straight back is damage
_MAP_OFF, _TS_OFF = 5, 5 + 3 * 2 * TAXELS


def encode_frames(resultant: np.ndarray, maps: np.ndarray, timestamps: np.ndarray) -> bytes:
    """Frames from resultant (n, 3) = fx, fy (int8), fz (uint8); maps (n, 3, 10, 12) uint16; timestamps (n,)."""
    resultant = np.asarray(resultant, dtype=np.int64)
    n = len(resultant)
    out = np.zeros((n, FRAME_SIZE), np.uint8)
    out[:, 0], out[:, 1] = HEADER[0], HEADER[1]
    out[:, 2:5] = (resultant & 0xFF).astype(np.uint8)
    m = (np.asarray(maps, dtype=np.int64).reshape(n, 3 * TAXELS) & 0xFFFF).astype("<u2")
    out[:, _MAP_OFF:_TS_OFF] = m.view(np.uint8).reshape(n, -1)
    out[:, _TS_OFF : _TS_OFF + 2] = (np.asarray(timestamps, np.int64) & 0xFFFF).astype("<u2")[:, None].view(np.uint8)
    out[:, -1] = (out[:, 2:-1].sum(axis=1, dtype=np.int64) & 0xFF).astype(np.uint8)
    return out.tobytes()


def checks(rows: np.ndarray) -> np.ndarray:
    """Per (n, 728) uint8 row: header present and 8-bit sum right."""
    ok = (rows[:, 0] == HEADER[0]) & (rows[:, 1] == HEADER[1])
    good: np.ndarray = ok & ((rows[:, 2:-1].sum(axis=1, dtype=np.int64) & 0xFF) == rows[:, -1])
    return good


def valid_frames(b: np.ndarray, final: bool = False, anchored: bool = False) -> tuple[np.ndarray, np.ndarray]:
    return framing.valid_frames(b, FRAME_SIZE, HEADER, checks, final, anchored)


def unpack(b: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values int32 (n, 363): fx, fy, fz, 360 map counts; timestamps int64 (n,))."""
    rows = framing.rows_at(b, starts, FRAME_SIZE)
    out = np.empty((len(rows), CHANNELS), np.int32)
    out[:, 0:2] = rows[:, 2:4].view(np.int8)
    out[:, 2] = rows[:, 4]
    out[:, 3:] = np.ascontiguousarray(rows[:, _MAP_OFF:_TS_OFF]).view("<u2")
    ts = np.ascontiguousarray(rows[:, _TS_OFF : _TS_OFF + 2]).view("<u2")[:, 0].astype(np.int64)
    return out, ts


def implausible(
    values: np.ndarray,
    ts: np.ndarray,
    prev: tuple[np.ndarray, int] | None,
    nxt: tuple[np.ndarray, int] | None,
    usual_step: float | None,
) -> np.ndarray:
    """Taxel spikes (≥ TAXEL_SPIKE) and legacy's counter-glitch rule (decoded values are all 24-bit-valid)."""
    bad = implausible_rows(values, ts.astype(np.uint16), prev, nxt, usual_step)
    spikes = framing.neighbour_spikes(
        values[:, 3:], None if prev is None else prev[0][3:], None if nxt is None else nxt[0][3:], TAXEL_SPIKE
    )
    out: np.ndarray = bad | spikes
    return out


def maps_newtons(values: np.ndarray) -> np.ndarray:
    """(n, 3, 10, 12) float force maps in N from decoded values."""
    v = np.asarray(values)
    return v[:, 3:].reshape(len(v), 3, ROWS, COLS) * NEWTONS_PER_COUNT

"""Plausibility rules for tactile frames whose weak checksum passed (the rules the tactile decoders were
written against: legacy DexUMI frames' 24-bit, spike and counter-glitch tests, applied per tactile frame)."""

from __future__ import annotations

import numpy as np

SPIKE_COUNTS = 1 << 15  # a channel that jumps this far and straight back was corrupted in its upper bytes


def implausible_rows(
    values: np.ndarray,
    ms: np.ndarray,
    prev: tuple[np.ndarray, int] | None,
    nxt: tuple[np.ndarray, int] | None,
    usual_step_ms: float | None = None,
) -> np.ndarray:
    """Frames whose checksum passed but whose content cannot be what the board sent.

    The checksum is the low 16 bits of the sum: it misses changes to bits 16-31 of any channel and to the
    ms counter. So we also reject (a) values that are not sign-extended 24-bit numbers, (b) a channel that
    spikes by ≥ 2^15 counts away from both neighbours which agree with each other, (c) an ms counter that
    jumps away from both neighbours which agree with each other. (b) and (c) need both neighbours.
    `usual_step_ms` is the board's usual counter step (from earlier frames); without it, this batch's.
    """
    v = np.asarray(values, dtype=np.int32)
    bad = np.asarray(((v.view(np.uint32) + np.uint32(1 << 23)) >= np.uint32(1 << 24)).any(axis=1))  # not 24-bit
    rows, t = v, ms.astype(np.int64)
    first = 0  # position of values[0] in the padded sequence
    if prev is not None:
        rows = np.concatenate([prev[0][None, :].astype(np.int32), rows])
        t = np.concatenate([[prev[1]], t])
        first = 1
    if nxt is not None:
        rows = np.concatenate([rows, nxt[0][None, :].astype(np.int32)])
        t = np.concatenate([t, [nxt[1]]])
    if len(rows) < 3:
        return bad
    d = np.diff(rows, axis=0)  # 24-bit values: differences fit int32
    big = np.abs(d) >= SPIKE_COUNTS
    spike = (big[:-1] & big[1:] & (np.abs(d[:-1] + d[1:]) < SPIKE_COUNTS)).any(axis=1)
    steps = (t[1:] - t[:-1]) % 65536
    usual = usual_step_ms if usual_step_ms is not None else (float(np.median(steps)) if len(steps) >= 5 else 250.0)
    typical = max(3, int(4 * usual))
    bridge = (t[2:] - t[:-2]) % 65536
    glitch = (steps[:-1] > typical) & (steps[1:] > typical) & (bridge <= typical)
    checked = spike | glitch  # for padded positions 1 .. len(rows) - 2
    lo = 1 - first  # values index of padded position 1
    out = bad.copy()
    idx = np.arange(len(checked)) + lo
    ok = (idx >= 0) & (idx < len(v))
    out[idx[ok]] |= checked[ok]
    # an end with no neighbour beyond it is judged against the two frames on its inner side
    if prev is None:
        out[0] |= _edge_outlier(rows[0], rows[1], rows[2], t[0], t[1], t[2], typical)
    if nxt is None:
        out[-1] |= _edge_outlier(rows[-1], rows[-2], rows[-3], t[-1], t[-2], t[-3], typical)
    return out


def _edge_outlier(x0: np.ndarray, x1: np.ndarray, x2: np.ndarray, t0: int, t1: int, t2: int, typical: int) -> bool:
    jump = bool(((np.abs(x0 - x1) >= SPIKE_COUNTS) & (np.abs(x1 - x2) < SPIKE_COUNTS)).any())
    dt01, dt12 = abs(int(t0) - int(t1)) % 65536, abs(int(t1) - int(t2)) % 65536
    dt01, dt12 = min(dt01, 65536 - dt01), min(dt12, 65536 - dt12)
    return jump or (dt01 > typical and dt12 <= typical)

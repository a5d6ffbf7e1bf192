"""Plausibility of legacy DexUMI frames beyond their 16-bit checksum.

The checksum is the low 16 bits of the channel sum: it misses any change to bits 16-31 of a channel word
and everything in the 16-bit ms counter. What the stream still offers, and what is used here:

- **sign extension**: channels are 24-bit ADC values in 32-bit words, so bits 23-31 are all equal; a flip
  in bits 23-31 always breaks that (checked where frames are found, `legacy.sign_extended`);
- **neighbour consistency of values**: a flip in bits 16-22 moves a channel by ≥ 2^16 counts; joints move
  far less from one frame to the next, so a channel that jumps away from both neighbours (which agree with
  each other) is rejected;
- **counter continuity**: the ms counter never runs backwards and advances by the board's usual step; a
  counter outside the bracket of its neighbours, or one whose steps on both sides are unusual while its
  neighbours' bridge is usual, is rejected. A frame at an end of the stream (no neighbour beyond it) is
  judged against the two frames on its inner side.

What remains undetectable by construction — a flip of the counter's lowest bit that stays inside the
bracket (a 1 ms shift, the counter's own resolution) — is documented in docs/reliability.md.
"""

from __future__ import annotations

import numpy as np

SPIKE_COUNTS = 1 << 15  # a channel that jumps this far and straight back was corrupted in its upper bytes
HALF = 1 << 15


def signed_steps(ms: np.ndarray) -> np.ndarray:
    """Steps between consecutive 16-bit counters as signed numbers (wraps taken as forward)."""
    steps: np.ndarray = np.mod(np.diff(np.asarray(ms, np.int64)) + HALF, 65536)
    return steps - HALF


def step_range(steps: np.ndarray) -> tuple[int, int]:
    """The board's usual counter steps: the smallest and largest forward step that recurs (in at least two
    and 5 % of the steps seen), so that a corrupted counter among few frames does not widen the range."""
    fwd = np.asarray(steps, np.int64)
    fwd = fwd[fwd >= 0]
    if len(fwd) == 0:
        return 0, 1
    vals, counts = np.unique(fwd, return_counts=True)
    usual = vals[counts >= max(2, int(0.05 * len(fwd)))]
    if len(usual) == 0:
        return int(np.median(fwd)), int(np.median(fwd))
    return int(usual[0]), int(usual[-1])


def judge(values: np.ndarray, ms: np.ndarray, first: int, last: int, lo: int, hi: int) -> np.ndarray:
    """Which of rows first..last-1 of `values`/`ms` cannot be what the board sent.

    Rows outside that range are context (accepted frames before, the held-back frame after). `lo`..`hi`
    is the board's usual counter step. Returns a bool array of length last - first.
    """
    v = np.asarray(values, np.int64)
    m = len(v)
    bad = np.zeros(last - first, bool)
    if m < 3:
        return bad
    d = np.diff(v, axis=0)
    big = np.abs(d) >= SPIKE_COUNTS
    spike = (big[:-1] & big[1:] & (np.abs(d[:-1] + d[1:]) < SPIKE_COUNTS)).any(axis=1)  # rows 1..m-2
    s = signed_steps(ms)
    a, b = s[:-1], s[1:]  # steps into and out of rows 1..m-2
    c = ((np.asarray(ms, np.int64)[2:] - np.asarray(ms, np.int64)[:-2] + HALF) % 65536) - HALF  # the bridge
    backward = (c >= 0) & ((a < 0) | (b < 0))  # the counter leaves its neighbours' bracket
    unusual = ((a < lo) | (a > hi)) & ((b < lo) | (b > hi)) & (c >= 2 * lo) & (c <= 2 * hi)
    inner = spike | backward | unusual
    rows = np.arange(1, m - 1)
    sel = (rows >= first) & (rows < last)
    bad[rows[sel] - first] = inner[sel]
    if first == 0:  # no neighbour before the first row
        bad[0] |= _edge(v[0], v[1], v[2], int(s[0]), int(s[1]), lo, hi)
    if last == m:  # none after the last
        bad[-1] |= _edge(v[-1], v[-2], v[-3], -int(s[-1]), -int(s[-2]), -hi, -lo)
    return bad


def _edge(x0: np.ndarray, x1: np.ndarray, x2: np.ndarray, s01: int, s12: int, lo: int, hi: int) -> bool:
    """An end row judged against the two rows on its inner side (steps measured inwards)."""
    if bool((np.abs(x1 - x2) >= SPIKE_COUNTS).any()):
        return False  # the inner pair disagrees itself: nothing to judge against
    jump = bool((np.abs(x0 - x1) >= SPIKE_COUNTS).any())
    usual_inside = lo <= s12 <= hi
    return jump or (usual_inside and not lo <= s01 <= hi)

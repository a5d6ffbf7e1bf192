"""Fixed-size frames that start with a header and end with a checksum, found in a byte stream.

A frame is accepted only if its check passes **and** the frames around it are in step (`_neighbours_ok`):
a payload that happens to contain the header cannot start a false frame by itself, a frame mangled by
inserted or lost bytes is out of step with what follows, and an intact frame in a back-to-back stream is
not lost to the damaged headers of its neighbours.
Frames normally come back to back, so the chain from the first header is checked with one reshape; only
where the chain breaks does the search over every header candidate run.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

ALIGNED_REACH = 16  # frames after an accepted one that count as its neighbours when exactly in step
CheckRows = Callable[[np.ndarray], np.ndarray]  # (n, size) uint8 frames -> (n,) bool


def find_headers(b: np.ndarray, header: bytes) -> np.ndarray:
    """Start offsets of every occurrence of `header` in a uint8 array."""
    k = len(header)
    if len(b) < k:
        return np.empty(0, np.int64)
    m = b[: len(b) - k + 1] == header[0]
    for i in range(1, k):
        m &= b[i : len(b) - k + 1 + i] == header[i]
    return np.flatnonzero(m)


def _header_at(rows: np.ndarray, header: bytes) -> np.ndarray:
    ok: np.ndarray = rows[:, 0] == header[0]
    for i in range(1, len(header)):
        ok &= rows[:, i] == header[i]
    return ok


def _header_at_offsets(b: np.ndarray, offsets: np.ndarray, header: bytes) -> np.ndarray:
    k = len(header)
    out = np.zeros(len(offsets), bool)
    inside = (offsets >= 0) & (offsets + k <= len(b))
    q = offsets[inside]
    hit = b[q] == header[0]
    for i in range(1, k):
        hit &= b[q + i] == header[i]
    out[inside] = hit
    return out


def _neighbours_ok(b: np.ndarray, pos: np.ndarray, size: int, header: bytes, final: bool, anchored: bool) -> np.ndarray:
    """The framing rule per candidate: the next header follows; or the stream ends right after it; or a
    header 2, 3 or 4 frames on follows in step and the previous header (or the step of the last accepted
    frame) precedes it.
    The last case keeps an intact frame whose successor's header was damaged, and stays strict against
    inserted or lost bytes (after which the frame after next is out of step)."""
    after = _header_at_offsets(b, pos + size, header)
    if final:
        after |= pos + size == len(b)
    before = _header_at_offsets(b, pos - size, header)
    if anchored:  # in step with the frame that ended at offset 0
        before |= (pos % size == 0) & (pos < ALIGNED_REACH * size)
    later = np.zeros(len(pos), bool)
    for m in range(2, 5):
        later |= _header_at_offsets(b, pos + m * size, header)
    return after | (before & later)


def _chain(
    b: np.ndarray, start: int, size: int, header: bytes, check: CheckRows, final: bool, anchored: bool
) -> np.ndarray:
    n = (len(b) - start) // size
    if n <= 0:
        return np.empty(0, np.int64)
    rows = b[start : start + n * size].reshape(n, size)
    ok = check(rows)
    good = ok & _neighbours_ok(b, start + size * np.arange(n, dtype=np.int64), size, header, final, anchored)
    lead = n if good.all() else int(np.argmin(good))
    return start + size * np.arange(lead, dtype=np.int64)


def _scan(
    b: np.ndarray, lo: int, size: int, header: bytes, check: CheckRows, final: bool, anchored: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Every header candidate from offset `lo` on, checked in arrays (offsets are into all of `b`)."""
    pos = find_headers(b[lo:], header) + lo
    pos = pos[pos + size <= len(b)]
    if len(pos) == 0:
        return pos, pos
    ok = check(b[pos[:, None] + np.arange(size, dtype=np.int64)])
    neighbour = _neighbours_ok(b, pos, size, header, final, anchored)
    good = pos[ok & neighbour]
    if len(good) > 1 and np.any(np.diff(good) < size):  # overlapping candidates: the earliest wins
        keep, end = [], -1
        for p in good.tolist():
            if p >= end:
                keep.append(p)
                end = p + size
        good = np.asarray(keep, np.int64)
    bad = pos[~ok]
    if len(bad) and len(good):  # a failing "header" inside an accepted frame is payload, not an error
        j = np.searchsorted(good, bad, side="right") - 1
        covered = (j >= 0) & (bad < good[np.maximum(j, 0)] + size)
        bad = bad[~covered]
    return good, bad


def valid_frames(
    b: np.ndarray, size: int, header: bytes, check: CheckRows, final: bool = False, anchored: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(starts of accepted frames, starts of header candidates whose check failed outside them).

    `anchored`: `b` begins right where an accepted frame ended; a frame exactly in step with it (at a
    multiple of `size`, within ALIGNED_REACH frames) needs no header beside it: frames come back to back,
    and a header inside a payload is never in step.
    """
    first = bytes(b[: min(len(b), 1 << 20)]).find(header) if len(b) >= len(header) else -1
    if first < 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    lead = _chain(b, first, size, header, check, final, anchored)
    if len(lead) and int(lead[-1]) + 2 * size > len(b):
        return lead, np.empty(0, np.int64)  # the chain reached the end: no whole frame is left to search
    rest_from = int(lead[-1]) + size if len(lead) else first
    starts, bad = _scan(b, rest_from, size, header, check, final, anchored)
    return np.concatenate([lead, starts]), bad


def rows_at(b: np.ndarray, starts: np.ndarray, size: int) -> np.ndarray:
    """(n, size) uint8 rows of the frames at `starts` (one reshape when they are back to back)."""
    n = len(starts)
    if n and int(starts[-1]) - int(starts[0]) == (n - 1) * size:
        s0 = int(starts[0])
        return b[s0 : s0 + n * size].reshape(n, size)
    return b[starts[:, None] + np.arange(size, dtype=np.int64)]


def spikes(rows: np.ndarray, threshold: int) -> np.ndarray:
    """Interior rows (1..n-2) where some column jumps ≥ threshold away from both neighbours that agree."""
    if len(rows) < 3:
        return np.zeros(max(len(rows) - 2, 0), bool)
    d = np.diff(rows.astype(np.int64), axis=0)
    big = np.abs(d) >= threshold
    return np.asarray((big[:-1] & big[1:] & (np.abs(d[:-1] + d[1:]) < threshold)).any(axis=1))


def neighbour_spikes(values: np.ndarray, prev: np.ndarray | None, nxt: np.ndarray | None, threshold: int) -> np.ndarray:
    """Per row of `values`: `spikes`, with the rows before and after the batch (if known) as neighbours.

    A row with no neighbour on one side (the first of a stream, the last at its end) is not judged.
    """
    rows, first = np.asarray(values, np.int64), 0
    if prev is not None:
        rows, first = np.concatenate([np.asarray(prev, np.int64)[None, :], rows]), 1
    if nxt is not None:
        rows = np.concatenate([rows, np.asarray(nxt, np.int64)[None, :]])
    sp = spikes(rows, threshold)  # for padded positions 1 .. len-2
    out = np.zeros(len(values), bool)
    idx = np.arange(len(sp)) + 1 - first
    ok = (idx >= 0) & (idx < len(values))
    out[idx[ok]] = sp[ok]
    return out

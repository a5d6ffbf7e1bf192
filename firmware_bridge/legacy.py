"""DexUMI's legacy encoder-board frames (STM32 + ADS1256, 921600 baud).

A frame is little-endian 32-bit words: ``0x000055AA`` (bytes ``AA 55 00 00``), one signed word per
channel (24-bit ADC value, sign-extended), then ``(checksum << 16) | ms_counter`` where checksum is the
sum of the channel words masked to 16 bits and the millisecond counter wraps every 65.536 s.
The last two channels are not joints: the second-to-last is the ratiometric reference voltage.
"""

from __future__ import annotations

import numpy as np

HEADER_WORD = 0x000055AA
HEADER_BYTES = b"\xaa\x55\x00\x00"
BAUDRATE = 921600
FULL_SCALE_COUNTS = 0x7FFFFF
FULL_SCALE_VOLTS = 5.0
KNOWN_CHANNEL_COUNTS = (8, 14)  # Inspire build (6 joints), XHand build (12 joints)
MAX_CHANNELS = 64


def frame_size(channels: int) -> int:
    return 4 * (channels + 2)


def encode_frame(values: np.ndarray, ms_counter: int) -> bytes:
    """One legacy frame for `values` (int, one per channel) stamped with a 16-bit millisecond counter."""
    words = np.asarray(values, dtype=np.int64)
    checksum = int(words.sum()) & 0xFFFF
    out = np.empty(len(words) + 2, "<u4")
    out[0] = HEADER_WORD
    out[1:-1] = (words & 0xFFFFFFFF).astype(np.uint32)
    out[-1] = (checksum << 16) | (ms_counter & 0xFFFF)
    return out.tobytes()


def encode_frames(values: np.ndarray, ms_counters: np.ndarray) -> bytes:
    """Many legacy frames at once: values (n, channels), ms_counters (n,)."""
    values = np.asarray(values, dtype=np.int64)
    n, ch = values.shape
    out = np.empty((n, ch + 2), "<u4")
    out[:, 0] = HEADER_WORD
    out[:, 1:-1] = (values & 0xFFFFFFFF).astype(np.uint32)
    checksum = (values.sum(axis=1) & 0xFFFF).astype(np.uint32)
    out[:, -1] = (checksum << 16) | (np.asarray(ms_counters, dtype=np.int64) & 0xFFFF).astype(np.uint32)
    return out.tobytes()


def counts_to_volts(counts: np.ndarray) -> np.ndarray:
    return np.asarray(counts, dtype=np.float64) * (FULL_SCALE_VOLTS / FULL_SCALE_COUNTS)


def ratiometric_angles(counts: np.ndarray) -> np.ndarray:
    """Joint angles in radians, ``V / V_ref × 2π`` per joint, as the board's sensors intend.

    `counts` is (n, channels); the result is (n, channels - 2). A zero reference gives NaN (a fault the
    caller sees), never a division error.
    """
    counts = np.asarray(counts, dtype=np.float64)
    ref = counts[:, -2:-1]
    angles = np.full((counts.shape[0], counts.shape[1] - 2), np.nan)
    np.divide(counts[:, :-2], ref, out=angles, where=ref != 0)
    angles *= 2 * np.pi
    return angles


def guess_channels(buf: bytes | bytearray | memoryview) -> int | None:
    """Channel count from the spacing of headers whose frames check out, or None if not yet clear."""
    b = np.frombuffer(buf, np.uint8)
    pos = find_headers(b)
    if len(pos) < 3:
        return None
    votes: dict[int, int] = {}
    for size in np.diff(pos):
        ch = int(size) // 4 - 2
        if size % 4 == 0 and 1 <= ch <= MAX_CHANNELS:
            votes[ch] = votes.get(ch, 0) + 1
    for ch, _ in sorted(votes.items(), key=lambda kv: -kv[1]):
        starts, _ = valid_frames(b, ch, final=True)
        if len(starts) >= 2:
            return ch
    return None


def find_headers(b: np.ndarray) -> np.ndarray:
    """Start offsets of every ``AA 55 00 00`` in a uint8 array."""
    if len(b) < 4:
        return np.empty(0, np.int64)
    m = (b[:-3] == 0xAA) & (b[1:-2] == 0x55) & (b[2:-1] == 0) & (b[3:] == 0)
    return np.flatnonzero(m)


def _checks(rows: np.ndarray, channels: int) -> np.ndarray:
    """Per row of a (n, size) uint8 array of frames: header present, checksum right, and every channel a
    sign-extended 24-bit value (bits 23-31 equal: the checksum cannot see bits 16-31)."""
    header_ok = (rows[:, 0] == 0xAA) & (rows[:, 1] == 0x55) & (rows[:, 2] == 0) & (rows[:, 3] == 0)
    words = np.ascontiguousarray(rows[:, 4:]).view("<u4")
    total = words[:, :-1].view("<i4").sum(axis=1, dtype=np.int64)
    sign_ok = ((words[:, :-1] + np.uint32(1 << 23)) < np.uint32(1 << 24)).all(axis=1)
    ok: np.ndarray = header_ok & sign_ok & ((total & 0xFFFF) == (words[:, -1] >> 16))
    return ok


def _chain(b: np.ndarray, start: int, channels: int) -> np.ndarray:
    """The fast path: frames back to back from `start`; returns the starts of those that lead unbroken."""
    size = frame_size(channels)
    n = (len(b) - start) // size
    if n <= 0:
        return np.empty(0, np.int64)
    ok = _checks(b[start : start + n * size].reshape(n, size), channels)
    lead = n if ok.all() else int(np.argmin(ok))
    return start + size * np.arange(lead, dtype=np.int64)


def valid_frames(b: np.ndarray, channels: int, final: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Start offsets of frames with a header, a right checksum and sign-extended channels.

    DexUMI's own framing also wants the next header right after a frame; that rule costs the good frame in
    front of every burst of line garbage, and adds nothing once sign extension is checked: a chance frame
    in random bytes needs a header (2^-32), a checksum (2^-16) and 8+ sign-extended words (2^-8 each).
    Returns (starts, rejected): the offsets of header candidates outside accepted frames that failed.
    `final` is accepted for compatibility: a complete frame at the end of the bytes is always judged.

    Frames normally come back to back, so the chain from the first header is checked with one reshape;
    only where it breaks does the byte-by-byte header search run.
    """
    size = frame_size(channels)
    first = bytes(b[: min(len(b), 1 << 20)]).find(HEADER_BYTES) if len(b) >= 4 else -1
    if first < 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    lead = _chain(b, first, channels)
    rest_from = int(lead[-1]) + size if len(lead) else first
    if len(b) - rest_from < size:
        return lead, np.empty(0, np.int64)  # the chain reached the end: nothing left to search
    starts, bad = _scan(b[rest_from:], channels)
    if len(starts) == 0 and len(lead) == 0:
        return starts, bad + rest_from
    return np.concatenate([lead, starts + rest_from]), bad + rest_from


def _scan(b: np.ndarray, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """The slow path: every header candidate, checked one by one in arrays."""
    size = frame_size(channels)
    pos = find_headers(b)
    pos = pos[pos + size <= len(b)]
    if len(pos) == 0:
        return pos, pos
    idx = pos[:, None] + np.arange(size, dtype=np.int64)
    ok = _checks(b[idx], channels)
    good = pos[ok]
    if len(good) > 1 and np.any(np.diff(good) < size):
        keep, end = [], -1
        for p in good.tolist():
            if p >= end:
                keep.append(p)
                end = p + size
        good = np.asarray(keep, np.int64)
    bad = pos[~ok]
    if len(bad) and len(good):
        j = np.searchsorted(good, bad, side="right") - 1
        covered = (j >= 0) & (bad < good[np.maximum(j, 0)] + size)
        bad = bad[~covered]
    return good, bad


def unpack_frames(b: np.ndarray, starts: np.ndarray, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """(values int32 (n, channels), ms counters uint16 (n,)) of the frames at `starts`."""
    size = frame_size(channels)
    n = len(starts)
    if n and int(starts[-1]) - int(starts[0]) == (n - 1) * size:  # back to back: one reshape
        s0 = int(starts[0])
        rows = b[s0 : s0 + n * size].reshape(n, size)
    else:
        rows = b[starts[:, None] + np.arange(size, dtype=np.int64)]
    words = np.ascontiguousarray(rows[:, 4:]).view("<u4")
    return words[:, :-1].view("<i4").astype(np.int32), (words[:, -1] & 0xFFFF).astype(np.uint16)

"""Legacy DexUMI frames under line faults: what the decoder delivers is what the board sent, or it is counted.

The legacy checksum is the low 16 bits of a sum and leaves the ms counter unprotected, so the decoder also
uses sign extension (24-bit ADC values in 32-bit words), neighbour consistency of the values and the
counter's continuity. Ground truth: the frame each delivered sample came from is known from its stream
offset, and its values and counter are compared with what was encoded.
"""

from __future__ import annotations

import numpy as np
import pytest

from firmware_bridge import legacy
from firmware_bridge.decoder import LegacyDecoder

CHANNELS = 8
SIZE = legacy.frame_size(CHANNELS)
TIME_TOLERANCE_US = 1000  # the counter's own resolution: a 1 ms step is indistinguishable from quantisation


def board_stream(n: int, seed: int, period_ms: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Values (n, channels) and ms counters of a free-running board: smooth joints, ADC noise, jittered
    conversion time, the counter starting anywhere (so some streams wrap)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    freq = rng.uniform(0.0002, 0.001, CHANNELS)
    v = 2_000_000 + 1_500_000 * np.sin(2 * np.pi * freq * t + rng.uniform(0, 6, CHANNELS))
    v = np.round(v + rng.normal(0, 3, v.shape)).astype(np.int64)
    v[:, -2] = 4_000_000 + rng.integers(-3, 4, n)
    clock = rng.uniform(0, 65536) + np.cumsum(period_ms * (1 + rng.normal(0, 0.05, n)))
    return v, np.floor(clock).astype(np.int64) % 65536


def decode(data: bytes, step: int) -> tuple[LegacyDecoder, np.ndarray, np.ndarray, np.ndarray]:
    """(decoder, stream_end, values, device_time_us) of everything delivered, fed `step` bytes at a time."""
    d = LegacyDecoder(CHANNELS)
    blocks = [b for i in range(0, len(data), step) for b in d.feed(data[i : i + step]).blocks]
    blocks += d.flush().blocks
    if not blocks:
        return d, np.empty(0, np.int64), np.empty((0, CHANNELS), np.int32), np.empty(0, np.int64)
    return (
        d,
        np.concatenate([b.stream_end for b in blocks]),
        np.concatenate([b.values for b in blocks]),
        np.concatenate([b.device_time_us for b in blocks]),
    )


def true_times_us(ms: np.ndarray, first: int) -> np.ndarray:
    """The counter unwrapped from frame `first` on, as the decoder's device time would be."""
    steps = np.diff(ms[first:]) % 65536
    return (ms[first] + np.concatenate([[0], np.cumsum(steps)])) * 1000


def corrupted_delivered(frame: np.ndarray, values: np.ndarray, times: np.ndarray, v: np.ndarray, ms: np.ndarray) -> int:
    """Delivered samples whose values differ from the frame's or whose device time is off by > 1 ms."""
    if len(frame) == 0:
        return 0
    wrong_values = (values != v[frame]).any(axis=1)
    truth = true_times_us(ms, int(frame[0]))[frame - frame[0]]
    # the decoder's time base starts at the first delivered counter; compare steps, not the absolute base
    offset = int(times[0]) - int(truth[0])
    wrong_time = np.abs(times - offset - truth) > TIME_TOLERANCE_US
    wrong_time |= abs(offset) > TIME_TOLERANCE_US  # the first sample itself must carry the right counter
    return int((wrong_values | wrong_time).sum())


@pytest.mark.parametrize(
    "streams", [pytest.param(400, id="400"), pytest.param(3000, id="3000", marks=pytest.mark.slow)]
)
def test_single_bit_flips_never_deliver_a_corrupted_sample(streams):
    """Streams with one flipped bit each (anywhere: header, channel, checksum, counter): nothing delivered
    differs from what the board sent, unless it is counted as suspect."""
    n = 60
    rng = np.random.default_rng(2026 + streams)
    passed_silently, by_part = 0, {}
    for trial in range(streams):
        v, ms = board_stream(n, seed=trial)
        data = bytearray(legacy.encode_frames(v, ms))
        bit = int(rng.integers(0, len(data) * 8))
        data[bit // 8] ^= 1 << (bit % 8)
        d, end, values, times = decode(bytes(data), step=int(rng.integers(1, 400)) if trial % 10 == 0 else 997)
        frame = end // SIZE - 1
        bad = corrupted_delivered(frame, values, times, v, ms)
        if bad > d.stats.suspect:
            passed_silently += 1
            where = (bit // 8) % SIZE
            part = (
                "header"
                if where < 4
                else "counter"
                if where >= SIZE - 4 + 0 and where < SIZE - 2
                else "checksum"
                if where >= SIZE - 2
                else "channel"
            )
            by_part[part] = by_part.get(part, 0) + 1
    assert passed_silently == 0, (
        f"{passed_silently} of {streams} streams delivered a corrupted sample silently: {by_part}"
    )


def test_a_flipped_bit_costs_at_most_the_damaged_frame():
    """The frames next to a damaged one are kept (their checks do not depend on the damaged frame)."""
    n = 60
    rng = np.random.default_rng(7)
    lost_neighbours = 0
    for trial in range(300):
        v, ms = board_stream(n, seed=10_000 + trial)
        data = bytearray(legacy.encode_frames(v, ms))
        k = int(rng.integers(5, n - 5))
        byte = k * SIZE + int(rng.integers(0, SIZE))
        data[byte] ^= 1 << int(rng.integers(0, 8))
        _, end, _, _ = decode(bytes(data), step=int(rng.integers(1, 400)))
        got = set((end // SIZE - 1).tolist())
        lost_neighbours += (k - 1 not in got) + (k + 1 not in got)
    assert lost_neighbours == 0


def garbage_stream(n: int, seed: int, rate: float = 0.01) -> tuple[bytes, np.ndarray, np.ndarray, np.ndarray]:
    """n good frames with a burst of line garbage (1-80 random bytes) after ~`rate` of them; returns
    (bytes, values, ms, end offset of each good frame in the stream)."""
    rng = np.random.default_rng(seed)
    v, ms = board_stream(n, seed)
    raw = legacy.encode_frames(v, ms)
    parts, ends, pos = [], np.empty(n, np.int64), 0
    for k in range(n):
        parts.append(raw[k * SIZE : (k + 1) * SIZE])
        pos += SIZE
        ends[k] = pos
        if rng.random() < rate:
            junk = rng.integers(0, 256, int(rng.integers(1, 81)), dtype=np.uint8).tobytes()
            parts.append(junk)
            pos += len(junk)
    return b"".join(parts), v, ms, ends


def test_garbage_bursts_keep_the_good_frames_around_them():
    """1 % of frame gaps carry a burst of garbage: ≥ 99.9 % of the good frames are delivered, intact."""
    total = kept = corrupted = 0
    for seed in range(20):
        data, v, ms, ends = garbage_stream(5000, seed)
        d, end, values, times = decode(data, step=997)
        frame = np.searchsorted(ends, end)
        assert np.array_equal(ends[frame], end), "a sample from something that was not a frame"
        corrupted += corrupted_delivered(frame, values, times, v, ms)
        total += len(v)
        kept += len(np.unique(frame))
        assert d.stats.crc_errors + d.stats.resync_bytes > 0  # the garbage is counted
    assert corrupted == 0
    assert kept / total >= 0.999, f"kept {kept / total:.4%} of good frames"


@pytest.mark.parametrize("bit", range(1, 16))
def test_a_corrupted_counter_is_rejected_not_delivered(bit):
    """Any counter bit but the lowest (a 1 ms step, the counter's resolution): the frame is rejected."""
    v, ms = board_stream(80, seed=bit)
    data = bytearray(legacy.encode_frames(v, ms))
    for k in (1, 40, 78):  # near both ends and in the middle
        data[k * SIZE + SIZE - 4 + bit // 8] ^= 1 << (bit % 8)
    d, end, values, times = decode(bytes(data), step=SIZE * 3 + 1)
    frame = end // SIZE - 1
    assert corrupted_delivered(frame, values, times, v, ms) == 0
    assert set(frame.tolist()) == set(range(80)) - {1, 40, 78}
    assert d.stats.crc_errors == 3

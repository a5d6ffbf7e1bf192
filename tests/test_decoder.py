"""Decoders: resynchronisation, integrity, sequence bookkeeping, legacy frames, and fuzzing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge import legacy
from firmware_bridge import protocol as p
from firmware_bridge.decoder import LegacyDecoder, Unwrapper, V1Decoder, detect_protocol


def v1_stream(
    n_frames: int,
    batch: int = 4,
    channels: int = 6,
    seed: int = 0,
    start_seq: int = 0,
    start_index: int = 0,
    t0: int = 0,
) -> tuple[list[bytes], np.ndarray]:
    rng = np.random.default_rng(seed)
    frames, values = [], []
    for k in range(n_frames):
        v = rng.integers(-(1 << 23), 1 << 23, (batch, channels))
        t = (t0 + (k * batch + np.arange(batch)) * 500) & 0xFFFFFFFF
        payload = p.samples_payload((start_index + k * batch) & 0xFFFFFFFF, t, v, 3)
        frames.append(p.encode_frame(p.MsgType.SAMPLES, (start_seq + k) & 0xFFFFFFFF, int(t[-1]), payload))
        values.append(v)
    return frames, np.concatenate(values)


def decode_all(decoder, data: bytes, step: int = 97):
    blocks = []
    for i in range(0, len(data), step):
        blocks += decoder.feed(data[i : i + step]).blocks
    blocks += decoder.flush().blocks
    if not blocks:
        return np.empty(0, np.int64), np.empty((0, 0), np.int32), np.empty(0, np.int64)
    return (
        np.concatenate([b.index for b in blocks]),
        np.concatenate([b.values for b in blocks]),
        np.concatenate([b.device_time_us for b in blocks]),
    )


def test_v1_exact_values_across_arbitrary_read_sizes():
    frames, values = v1_stream(200)
    for step in (1, 7, 64, 1000, 100000):
        d = V1Decoder()
        index, got, _ = decode_all(d, b"".join(frames), step)
        assert np.array_equal(got, values)
        assert np.array_equal(index, np.arange(len(values)))
        assert d.stats.crc_errors == 0 and d.stats.gaps == 0


def test_v1_resyncs_after_garbage_and_counts_it():
    frames, values = v1_stream(20)
    garbage = bytes(range(1, 200))  # no delimiter inside: glued to the frame after it
    data = b"".join(frames[:10]) + garbage + b"".join(frames[10:])
    d = V1Decoder()
    _, got, _ = decode_all(d, data)
    # the frame glued to the garbage is recovered from the end of the damaged piece
    assert np.array_equal(got, values)
    assert d.stats.crc_errors == 1 and d.stats.resync_bytes == len(garbage)


def test_v1_lost_delimiter_keeps_the_intact_neighbour():
    frames, values = v1_stream(10, batch=2)
    damaged = bytearray(frames[4])
    damaged[-1] = 0x55  # the delimiter itself is hit: frame 4 and frame 5 arrive glued together
    data = b"".join(frames[:4]) + bytes(damaged) + b"".join(frames[5:])
    d = V1Decoder()
    index, got, _ = decode_all(d, data)
    expect = np.delete(np.arange(20), [8, 9])
    assert np.array_equal(index, expect)
    assert np.array_equal(got, values[expect])
    assert d.stats.gaps == 1 and d.stats.missing_samples == 2 and d.stats.missing_frames == 1


def test_v1_started_mid_frame_is_not_an_error():
    frames, values = v1_stream(10)
    data = b"".join(frames)[5:]
    d = V1Decoder()
    index, _, _ = decode_all(d, data)
    assert index[0] == 4 and d.stats.crc_errors == 0 and d.stats.resync_bytes > 0


def test_v1_gaps_duplicates_and_late_frames_are_counted_not_delivered_twice():
    frames, values = v1_stream(10)
    order = [0, 1, 2, 2, 5, 3, 6, 7, 8, 9]  # a duplicate, a gap of two frames, then a late one
    d = V1Decoder()
    index, got, _ = decode_all(d, b"".join(frames[i] for i in order))
    expected_frames = [0, 1, 2, 5, 6, 7, 8, 9]
    expect = np.concatenate([np.arange(4 * k, 4 * k + 4) for k in expected_frames])
    assert np.array_equal(index, expect) and np.array_equal(got, values[expect])
    s = d.stats
    assert (s.duplicates, s.out_of_order, s.gaps, s.missing_samples, s.missing_frames) == (1, 1, 1, 8, 2)


def test_v1_counters_and_clock_wrap_at_32_bits():
    frames, values = v1_stream(50, start_seq=2**32 - 10, start_index=2**32 - 40, t0=2**32 - 30_000)
    d = V1Decoder()
    index, got, times = decode_all(d, b"".join(frames))
    assert np.array_equal(np.diff(index), np.ones(len(index) - 1))
    assert np.array_equal(np.diff(times), np.full(len(times) - 1, 500))
    assert d.stats.gaps == 0 and d.stats.duplicates == 0 and d.stats.out_of_order == 0


def test_v1_device_restart_after_reconnect():
    first, _ = v1_stream(5)
    second, _ = v1_stream(5, seed=1)
    d = V1Decoder()
    d.feed(b"".join(first))
    d.mark_reconnect()
    out = d.feed(b"".join(second))
    assert out.device_reset and d.stats.device_resets == 1 and d.stats.out_of_order == 0
    assert out.blocks[0].index[0] == 0


def test_unwrapper_handles_many_wraps():
    u = Unwrapper(16)
    true = np.arange(0, 5 * 65536, 700)
    got = np.concatenate([u.unwrap_array(chunk % 65536) for chunk in np.array_split(true, 37)])
    assert np.array_equal(got, true)


def test_unwrapper_small_and_large_calls_agree_across_wraps_and_backward_steps():
    """Plain-int calls (a live decode's few frames) and numpy calls (bulk) interleave on one counter."""
    rng = np.random.default_rng(5)
    steps = rng.integers(-3000, 9000, 20_000)  # mostly forward, some backward (late frames)
    true = 1000 + np.cumsum(steps)
    u = Unwrapper(16)
    got, k = [], 0
    while k < len(true):
        n = int(rng.choice([1, 3, 17, 64, 65, 500]))
        chunk = true[k : k + n] % 65536
        got.append(np.asarray(u.unwrap_list(chunk.tolist()) if n % 2 else u.unwrap_array(chunk), np.int64))
        k += n
    assert np.array_equal(np.concatenate(got), true)
    assert u.unwrap_list([]) == [] and len(u.unwrap_array(np.array([], np.int64))) == 0


# ------------------------------------------------------------------------------------------------ legacy


def legacy_values(n: int, channels: int, seed: int = 0) -> np.ndarray:
    """Smooth sensor signals, as joints move (the decoder rejects isolated spikes), plus ADC noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    freq = rng.uniform(0.0002, 0.001, channels)  # ≤ 10k counts per sample: a fast finger at 2 kHz
    v = 2_000_000 + 1_500_000 * np.sin(2 * np.pi * freq * t + rng.uniform(0, 6, channels))
    v = np.round(v + rng.normal(0, 3, v.shape)).astype(np.int64)
    v[:, -2] = 4_000_000  # reference channel
    return v


@pytest.mark.parametrize("channels", legacy.KNOWN_CHANNEL_COUNTS)
def test_legacy_exact_values_and_ms_counter_unwrapped_over_several_wraps(channels):
    n = 2000
    v = legacy_values(n, channels)
    ms = np.arange(n, dtype=np.int64) * 97 + 60_000  # 194 s of counter: three wraps
    data = legacy.encode_frames(v, ms)
    assert len(data) == n * legacy.frame_size(channels)
    d = LegacyDecoder()  # channel count detected
    _, got, times = decode_all(d, data, step=333)
    assert d.channels == channels
    assert np.array_equal(got, v)
    assert np.array_equal(times, ms * 1000)
    assert d.stats.crc_errors == 0


def test_legacy_bad_checksum_rejected_and_neighbours_kept():
    v = legacy_values(50, 8)
    data = bytearray(legacy.encode_frames(v, np.arange(50)))
    size = legacy.frame_size(8)
    data[10 * size + 6] ^= 0x40  # a channel of frame 10
    data[20 * size + size - 1] ^= 0x01  # the checksum of frame 20
    d = LegacyDecoder(8)
    _, got, _ = decode_all(d, bytes(data))
    keep = np.delete(np.arange(50), [10, 20])
    assert np.array_equal(got, v[keep])
    assert d.stats.crc_errors == 2


def test_legacy_channel_value_that_looks_like_a_header_does_not_start_a_frame():
    v = legacy_values(30, 8)
    v[:, 2] = 0x000055AA  # the header word as a perfectly plausible ADC value
    data = legacy.encode_frames(v, np.arange(30))
    d = LegacyDecoder(8)
    _, got, _ = decode_all(d, b"\x13\x37" + data, step=41)
    assert np.array_equal(got, v)


def test_legacy_ratiometric_angles():
    counts = np.array([[1_000_000, 2_000_000, 4_000_000, 123]])
    assert np.allclose(legacy.ratiometric_angles(counts), [[np.pi / 2, np.pi]])
    assert np.isnan(legacy.ratiometric_angles(np.array([[5, 0, 1]]))).all()


def test_protocol_detection():
    frames, _ = v1_stream(3)
    assert detect_protocol(b"".join(frames)[3:]) == "v1"
    assert detect_protocol(legacy.encode_frames(legacy_values(5, 14), np.arange(5))[7:]) == "legacy"
    assert detect_protocol(b"hello world, this is a GPS receiver $GPGGA,123519,4807.038,N\r\n" * 4) is None


# ------------------------------------------------------------------------------------------------ fuzzing

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(
    noise=st.lists(st.tuples(st.integers(0, 3000), st.binary(min_size=1, max_size=40)), max_size=8),
    cuts=st.lists(st.integers(1, 400), min_size=1, max_size=20),
)
def test_fuzz_v1_never_raises_and_never_invents_samples(noise, cuts):
    frames, values = v1_stream(12, batch=3, channels=5, seed=3)
    data = bytearray(b"".join(frames))
    for pos, junk in noise:
        pos = min(pos, len(data))
        data[pos:pos] = junk
    d = V1Decoder()
    chunks, i = [], 0
    for c in cuts * 20:
        if i >= len(data):
            break
        chunks.append(bytes(data[i : i + c]))
        i += c
    chunks.append(bytes(data[i:]))
    blocks = [b for c in chunks for b in d.feed(c).blocks] + d.flush().blocks
    for b in blocks:
        assert np.array_equal(b.values, values[b.index]), "a sample that was never sent"
    idx = np.concatenate([b.index for b in blocks]) if blocks else np.empty(0)
    assert len(np.unique(idx)) == len(idx), "a sample delivered twice"


@FUZZ
@given(data=st.binary(max_size=3000))
def test_fuzz_random_bytes_yield_nothing(data):
    for decoder in (V1Decoder(), LegacyDecoder(), LegacyDecoder(8)):
        out = decoder.feed(data)
        out2 = decoder.flush()
        # random bytes can only produce frames if they contain a checksummed legacy frame by chance;
        # a 40-byte frame with a header, a matching checksum and the next header is astronomically rare
        assert out.samples + out2.samples == 0


@FUZZ
@given(
    flips=st.lists(
        st.tuples(st.integers(0, 12), st.integers(0, 39), st.integers(1, 255)), max_size=6, unique_by=lambda f: f[0]
    ),
    step=st.integers(1, 500),
)
def test_fuzz_legacy_never_accepts_a_damaged_frame(flips, step):
    """Damage to one byte of frames at least three apart. (The legacy checksum is the low 16 bits of a sum:
    two changes in one frame that cancel in the sum, or neighbouring frames damaged alike in their upper
    bytes, are beyond what the format can detect.)"""
    v = legacy_values(40, 8, seed=5)
    ms = np.arange(40) * 3
    data = bytearray(legacy.encode_frames(v, ms))
    size = legacy.frame_size(8)
    original = bytes(data)
    for slot, byte, x in flips:
        data[3 * slot * size + byte] ^= x
    changed = np.flatnonzero(np.frombuffer(bytes(data), np.uint8) != np.frombuffer(original, np.uint8))
    d = LegacyDecoder(8)
    _, got, times = decode_all(d, bytes(data), step)
    for row, _t in zip(got, times):
        k = int(np.flatnonzero((v == row).all(axis=1))[0])  # rows are unique: which frame this was
        frame_changes = changed[(changed >= k * size) & (changed < (k + 1) * size)] - k * size
        # the checksum covers everything but the 16-bit ms counter (bytes size-4, size-3 of the frame)
        assert set(frame_changes.tolist()) <= {size - 4, size - 3}, "a damaged frame was accepted"


def test_legacy_isolated_ms_counter_glitch_is_rejected():
    v = legacy_values(30, 8)
    ms = np.arange(30) * 2
    data = bytearray(legacy.encode_frames(v, ms))
    size = legacy.frame_size(8)
    data[12 * size + size - 3] ^= 0x40  # frame 12's counter jumps 16 s ahead and back: not checksummed
    d = LegacyDecoder(8)
    _, got, times = decode_all(d, bytes(data), 1000)
    assert np.array_equal(got, np.delete(v, 12, axis=0))
    assert np.array_equal(times, np.delete(ms, 12) * 1000)
    assert d.stats.crc_errors == 1


def test_stream_offsets_point_just_past_each_frame():
    """The driver stamps each sample with the receive time of the read that completed its frame."""
    frames, _ = v1_stream(30, batch=3)
    ends = np.cumsum([len(f) for f in frames])
    d = V1Decoder()
    data = b"".join(frames)
    got = []
    for i in range(0, len(data), 50):
        got += [b.stream_end for b in d.feed(data[i : i + 50]).blocks]
    assert np.array_equal(np.concatenate(got), np.repeat(ends, 3))
    v = legacy_values(20, 8)
    raw = legacy.encode_frames(v, np.arange(20))
    ld = LegacyDecoder(8)
    got = [b.stream_end for i in range(0, len(raw), 33) for b in ld.feed(raw[i : i + 33]).blocks]
    got += [b.stream_end for b in ld.flush().blocks]
    assert np.array_equal(np.concatenate(got), (np.arange(20) + 1) * legacy.frame_size(8))


class _GeneralPathOnly(V1Decoder):
    """The decoder with its live fast path turned off: every frame goes the general, frame-by-frame way."""

    def _fast_samples(self, chunks, end, out):
        return 0, end


class _CountingFastPath(V1Decoder):
    fast_frames = 0

    def _fast_samples(self, chunks, end, out):
        before = self.stats.frames
        taken, end = super()._fast_samples(chunks, end, out)
        self.fast_frames += self.stats.frames - before
        return taken, end


def _everything(decoder, chunks):
    outs = [decoder.feed(c) for c in chunks] + [decoder.flush()]
    rows = [  # sample by sample: blocks may be cut differently, what they hold may not differ
        (int(i), int(t), tuple(v.tolist()), int(e))
        for o in outs
        for b in o.blocks
        for i, t, v, e in zip(b.index, b.device_time_us, b.values, b.stream_end)
    ]
    return (
        rows,
        [(o.frame_time_us, o.frame_end, o.device_reset, [repr(m) for m in o.messages]) for o in outs],
        decoder.stats.as_dict(),
    )


@FUZZ
@given(
    order=st.permutations(list(range(14))).map(lambda p: sorted(p[:11]) if p[0] % 3 else p[:11]),
    noise=st.lists(st.tuples(st.integers(0, 4000), st.binary(min_size=1, max_size=30)), max_size=4),
    cuts=st.lists(st.integers(1, 1500), min_size=1, max_size=12),
)
def test_v1_fast_path_decodes_exactly_as_the_general_path(order, noise, cuts):
    """Same samples, stream offsets, clocks, messages and counters with and without the live fast path, on
    streams with gaps, duplicates, late frames, a batch-size change, an INFO frame and garbage."""
    frames, _ = v1_stream(8, batch=3, channels=5, seed=4)
    more, _ = v1_stream(6, batch=2, channels=5, seed=5, start_seq=8, start_index=24)
    # one sample of 17 two-byte channels: another layout in a frame of the very same size as the batch-2 ones
    odd = p.samples_payload(36, np.array([9000]), np.arange(17).reshape(1, 17), 2)
    assert len(odd) == len(p.samples_payload(0, np.zeros(2), np.zeros((2, 5), np.int64), 3))
    odd_frame = p.encode_frame(p.MsgType.SAMPLES, 14, 9000, odd)
    info = p.encode_frame(p.MsgType.PONG, 15, 123, p.pong_payload(7, 99, 456))
    pool = frames + more
    tail = odd_frame + info + b"".join(pool[i] for i in range(11, 14))
    data = bytearray(b"".join(pool[i] for i in order) + tail)
    for pos, junk in noise:
        data[min(pos, len(data)) : min(pos, len(data))] = junk
    chunks, i = [], 0
    for c in cuts * 10:
        chunks.append(bytes(data[i : i + c]))
        i += c
    chunks.append(bytes(data[i:]))
    assert _everything(V1Decoder(), chunks) == _everything(_GeneralPathOnly(), chunks)


def test_v1_fast_path_takes_the_clean_live_stream():
    """A clean stream read in live-sized pieces goes through the fast path (all but the frame that syncs)."""
    frames, values = v1_stream(100, batch=4, channels=16)
    d = _CountingFastPath()
    index, got, _ = decode_all(d, b"".join(frames), step=1100)
    assert np.array_equal(got, values) and np.array_equal(index, np.arange(400))
    assert d.fast_frames >= 95

"""Tactile decoders (DexUMI FSR, XHand tactile): golden vectors, resync, corruption, fuzzing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from firmware_bridge.tactile import fsr, vectors, xhand
from firmware_bridge.tactile.decoder import FsrDecoder, XHandTactileDecoder, make_tactile_decoder


def decode(decoder, data: bytes, step: int = 97):
    blocks = []
    for i in range(0, len(data), step):
        blocks += decoder.feed(data[i : i + step]).blocks
    blocks += decoder.flush().blocks
    if not blocks:
        return np.empty((0, decoder.channels), np.int32), np.empty(0, np.int64), np.empty(0, np.int64)
    return (
        np.concatenate([b.values for b in blocks]),
        np.concatenate([b.device_time_us for b in blocks]),
        np.concatenate([b.stream_end for b in blocks]),
    )


def fsr_signals(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Smooth 24-bit ADC channels and two FSR channels that press and release (a grasp), plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    adc = 2_000_000 + 1_500_000 * np.sin(2 * np.pi * rng.uniform(2e-4, 1e-3, 12) * t + rng.uniform(0, 6, 12))
    adc = np.round(adc + rng.normal(0, 3, adc.shape)).astype(np.int64)
    press = np.clip(np.sin(2 * np.pi * t / 800.0), 0, None)
    f = np.round(200 + 3000 * press * [1.0, 0.8] + rng.normal(0, 2, (n, 2))).astype(np.int64)
    return adc, np.clip(f, 0, 0xFFFF)


def xhand_signals(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    press = np.clip(np.sin(2 * np.pi * np.arange(n) / 300.0), 0, None)
    shape = rng.uniform(0, 1, (3, 10, 12))
    maps = np.round(press[:, None, None, None] * 2500 * shape + rng.uniform(0, 20, (n, 3, 10, 12)))
    res = np.stack([np.round(60 * press) - 30, np.round(-50 * press) + 10, np.round(250 * press)], 1)
    return res.astype(np.int64), maps.astype(np.int64)


# ------------------------------------------------------------------------------------------ golden vectors


def test_golden_vector_file_matches_the_struct_builder():
    assert vectors.load_vectors() == vectors.build_vectors()


@pytest.mark.parametrize("vec", vectors.load_vectors(), ids=lambda v: v["name"])
def test_golden_vectors_encode_and_decode_exactly(vec):
    frame = bytes.fromhex(vec["frame_hex"])
    i = vec["inputs"]
    if vec["format"] == "fsr":
        assert len(frame) == 60 and frame[:4] == b"\xaa\x55\x00\x00"
        assert fsr.encode_frames(np.array([i["adc"]]), np.array([i["fsr"]]), np.array([i["ms"]])) == frame
        d, expect = FsrDecoder(), i["adc"] + i["fsr"]
        ticks = i["ms"]
    else:
        assert len(frame) == 728 and frame[:2] == b"\x55\xaa"
        res = np.array([[i["fx"], i["fy"], i["fz"]]])
        maps = np.array(i["maps"]).reshape(1, 3, 10, 12)
        assert xhand.encode_frames(res, maps, np.array([i["timestamp"]])) == frame
        d, expect = XHandTactileDecoder(), [i["fx"], i["fy"], i["fz"]] + sum(i["maps"], [])
        ticks = i["timestamp"]
    values, times, ends = decode(d, frame * 3, step=len(frame) + 5)
    assert values.tolist() == [expect] * 3
    assert times.tolist() == [ticks * 1000] * 3 and ends.tolist() == [len(frame) * k for k in (1, 2, 3)]
    assert d.stats.crc_errors == 0 and d.stats.resync_bytes == 0


def test_xhand_maps_in_newtons():
    vec = next(v for v in vectors.load_vectors() if v["name"] == "xhand_ramp")
    values, _, _ = decode(XHandTactileDecoder(), bytes.fromhex(vec["frame_hex"]))
    maps = xhand.maps_newtons(values)
    assert maps.shape == (1, 3, 10, 12)
    assert maps[0, 1, 0, 1] == pytest.approx((1000 + 37) / 100) and maps[0, 2, 9, 11] == pytest.approx(
        (2000 + 37 * 119) / 100
    )


# ------------------------------------------------------------------------------------------ streams


def test_fsr_exact_values_any_read_size_and_ms_wraps():
    n = 3000
    adc, f = fsr_signals(n)
    ms = np.arange(n) * 61 + 60_000  # 183 s of counter: several wraps
    data = fsr.encode_frames(adc, f, ms)
    for step in (1, 59, 61, 4096, len(data)):
        m = 300 if step == 1 else n  # byte by byte: a shorter stream
        d = FsrDecoder()
        values, times, _ = decode(d, data[: m * fsr.FRAME_SIZE], step)
        assert np.array_equal(values, np.concatenate([adc, f], axis=1)[:m])
        assert np.array_equal(times, ms[:m] * 1000)
        assert d.stats.crc_errors == 0 and d.stats.frames == m


def test_xhand_exact_values_any_read_size():
    n = 400
    res, maps = xhand_signals(n)
    ts = np.arange(n) * 10 + 65_000
    data = xhand.encode_frames(res, maps, ts)
    for step in (1, 727, 729, 100_000):
        m = 40 if step == 1 else n
        d = XHandTactileDecoder()
        values, times, _ = decode(d, data[: m * xhand.FRAME_SIZE], step)
        assert np.array_equal(values[:, :3], res[:m]) and np.array_equal(values[:, 3:], maps.reshape(n, -1)[:m])
        assert np.array_equal(times, ts[:m] * 1000)
        assert d.stats.crc_errors == 0


@pytest.mark.parametrize("kind", ["fsr", "xhand-tactile"])
def test_resync_after_garbage_and_mid_frame_start(kind):
    n = 60
    if kind == "fsr":
        adc, f = fsr_signals(n)
        data, truth, size = fsr.encode_frames(adc, f, np.arange(n)), np.concatenate([adc, f], 1), 60
    else:
        res, maps = xhand_signals(n)
        data, size = xhand.encode_frames(res, maps, np.arange(n) * 10), 728
        truth = np.concatenate([res, maps.reshape(n, -1)], 1)
    garbage = bytes(np.random.default_rng(1).integers(0, 256, 301, dtype=np.uint8))
    stream = data[7 : 20 * size] + garbage + data[20 * size :]
    d = make_tactile_decoder(kind)
    values, _, _ = decode(d, stream, 113)
    # frame 19 is intact, but bytes were inserted after it: nothing after it is in step, so it cannot be
    # told from a frame mangled by the insertion (the 8-bit sum of XHand frames would pass 1 in 256)
    assert np.array_equal(values, np.delete(truth, [0, 19], axis=0))
    assert d.stats.resync_bytes == size - 7 + size + len(garbage)


def test_fsr_adc_word_that_looks_like_a_header_does_not_start_a_frame():
    adc, f = fsr_signals(40)
    adc[:, 3] = 0x000055AA
    values, _, _ = decode(FsrDecoder(), b"\x01\x02" + fsr.encode_frames(adc, f, np.arange(40)), 41)
    assert np.array_equal(values, np.concatenate([adc, f], 1))


def test_xhand_taxels_that_spell_the_header_do_not_start_a_frame():
    res, maps = xhand_signals(40)
    maps[:, 0, 0, :] = 0xAA55  # every taxel's bytes read 55 AA (implausible force, valid bytes)
    res[:, 0], res[:, 1] = 0x55, -0x56  # fx, fy bytes read 55 AA too
    data = xhand.encode_frames(res, maps, np.arange(40) * 10)
    values, _, _ = decode(XHandTactileDecoder(), data[100:], 300)
    assert np.array_equal(values[:, 3:], maps.reshape(40, -1)[1:])


def test_fsr_unprotected_high_value_spike_is_rejected():
    adc, f = fsr_signals(30)
    data = bytearray(fsr.encode_frames(adc, f, np.arange(30)))
    data[12 * 60 + 55] ^= 0x10  # fsr_high of frame 12 +4096: outside the 16-bit checksum
    d = FsrDecoder()
    values, _, _ = decode(d, bytes(data))
    assert np.array_equal(values, np.delete(np.concatenate([adc, f], 1), 12, axis=0))
    assert d.stats.crc_errors == 1


def test_unknown_tactile_protocol():
    with pytest.raises(ValueError, match="unknown tactile protocol"):
        make_tactile_decoder("bogus")


# ------------------------------------------------------------------------------------------ corruption


def corrupt(data: bytes, rate: float, seed: int) -> tuple[bytes, np.ndarray]:
    """Each byte replaced, with probability `rate`, by a different random byte; returns the changed offsets."""
    rng = np.random.default_rng(seed)
    b = np.frombuffer(data, np.uint8).copy()
    hit = np.flatnonzero(rng.random(len(b)) < rate)
    b[hit] ^= rng.integers(1, 256, len(hit)).astype(np.uint8)
    return b.tobytes(), hit


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_xhand_every_corrupted_frame_rejected_no_intact_frame_lost(seed):
    """The only damage that could pass is what the 8-bit sum cannot see (changes cancelling modulo 256)
    and the spike rule does not catch (every taxel within TAXEL_SPIKE of the truth)."""
    n = 1500
    res, maps = xhand_signals(n, seed)
    truth = np.concatenate([res, maps.reshape(n, -1)], 1)
    clean = xhand.encode_frames(res, maps, np.arange(n) * 10)
    data, hit = corrupt(clean, 1e-3, seed)
    damaged = np.unique(hit // xhand.FRAME_SIZE)
    assert len(damaged) > n // 3  # 728-byte frames: about half of them are hit
    d = XHandTactileDecoder()
    values, _, ends = decode(d, data, 4096)
    k = ends // xhand.FRAME_SIZE - 1  # byte replacement keeps offsets: which frame each one was
    intact = np.setdiff1d(np.arange(n), damaged)
    assert np.isin(intact, k).all(), "an intact frame was lost"
    passed = np.setdiff1d(k, intact)
    delta = np.frombuffer(data, np.uint8).astype(np.int64) - np.frombuffer(clean, np.uint8)
    for j in passed:
        at = hit[hit // xhand.FRAME_SIZE == j]
        assert len(at) >= 2 and int(delta[at].sum()) % 256 == 0, f"frame {j}: the checksum should have caught it"
        row = values[np.flatnonzero(k == j)[0]]
        assert np.abs(row[3:] - truth[j, 3:]).max() < xhand.TAXEL_SPIKE
    assert len(passed) <= 2
    assert np.array_equal(values[np.isin(k, intact)], truth[k[np.isin(k, intact)]])
    header_hit = np.unique(hit[hit % xhand.FRAME_SIZE < 2] // xhand.FRAME_SIZE)
    assert d.stats.crc_errors >= len(np.setdiff1d(damaged, header_hit)) - len(passed)  # failed checks counted
    # every byte of every rejected frame is counted as skipped, except frames judged implausible (≤ 3 here),
    # which count as integrity errors
    skipped_frames = (n - len(k)) - d.stats.resync_bytes / xhand.FRAME_SIZE
    assert skipped_frames in (0, 1, 2, 3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fsr_every_corrupted_frame_rejected_no_intact_frame_lost(seed):
    """The only damage that can pass is in what the 16-bit checksum cannot see and the plausibility rules
    did not catch: the high FSR value and the ms counter (bytes 54-57); every other value exact."""
    n = 20_000
    adc, f = fsr_signals(n, seed)
    ms = np.arange(n)
    truth = np.concatenate([adc, f], 1)
    data, hit = corrupt(fsr.encode_frames(adc, f, ms), 1e-3, seed)
    damaged = np.unique(hit // fsr.FRAME_SIZE)
    d = FsrDecoder()
    values, times, ends = decode(d, data, 4096)
    k = ends // fsr.FRAME_SIZE - 1
    intact = np.setdiff1d(np.arange(n), damaged)
    assert np.isin(intact, k).all(), "an intact frame was lost"
    passed = np.setdiff1d(k, intact)
    for j in passed:  # damaged yet accepted: only in the unprotected fields, and only a little
        offsets = set((hit[hit // fsr.FRAME_SIZE == j] % fsr.FRAME_SIZE).tolist())
        assert offsets <= {54, 55, 56, 57}, f"frame {j} damaged at {offsets} was accepted"
        row = values[np.flatnonzero(k == j)[0]]
        assert np.array_equal(row[:13], truth[j, :13])
    # the plausibility rules catch most damage to those fields (isolated spikes and counter glitches);
    # what passes is damage next to other damage, or too small to tell from the signal
    assert len(passed) <= 0.03 * len(damaged)  # measured: 0.5-2.1 % of the damaged frames (seeds 0-2)
    ok = np.isin(k, intact)
    assert np.array_equal(values[ok], truth[k[ok]])


# ------------------------------------------------------------------------------------------ fuzzing

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=st.binary(max_size=4000))
def test_fuzz_random_bytes_yield_nothing(data):
    for d in (FsrDecoder(), XHandTactileDecoder()):
        assert d.feed(data).samples + d.flush().samples == 0


@pytest.mark.slow  # ~20-30 s of hypothesis examples
@FUZZ
@given(
    noise=st.lists(st.tuples(st.integers(0, 30 * 60), st.binary(min_size=1, max_size=40)), max_size=6),
    flips=st.lists(st.tuples(st.integers(0, 29), st.integers(0, 53), st.integers(1, 255)), max_size=6),
    step=st.integers(1, 700),
)
def test_fuzz_fsr_never_invents_or_repeats_a_frame(noise, flips, step):
    # Damage in two ADJACENT frames is the format's floor, not tested here: the same bit 16-23 of an ADC word
    # flipped in two neighbouring frames is invisible to the 16-bit sum and looks like a real two-frame step to
    # the neighbour rules (hypothesis found it; docs/protocol.md states the limit).
    slots = sorted({s for s, _, _ in flips})
    assume(all(b - a >= 2 for a, b in zip(slots, slots[1:])))
    adc, f = fsr_signals(30, 4)
    truth = np.concatenate([adc, f], 1)
    data = bytearray(fsr.encode_frames(adc, f, np.arange(30) * 2))
    for slot, byte, x in flips:  # checksummed bytes of the frames
        data[slot * 60 + byte] ^= x
    for pos, junk in sorted(noise, reverse=True):
        data[pos:pos] = junk
    values, _, _ = decode(FsrDecoder(), bytes(data), step)
    rows = [int(np.flatnonzero((truth == v).all(axis=1))[0]) for v in values]  # raises if invented
    assert rows == sorted(set(rows))


@pytest.mark.slow  # ~20-30 s of hypothesis examples
@given(
    noise=st.lists(st.tuples(st.integers(0, 8 * 728), st.binary(min_size=1, max_size=60)), max_size=6),
    flips=st.lists(st.tuples(st.integers(0, 7), st.integers(0, 727), st.integers(1, 255)), max_size=4),
    step=st.integers(50, 3000),
)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fuzz_xhand_never_invents_or_repeats_a_frame(noise, flips, step):
    res, maps = xhand_signals(8, 4)
    maps += np.arange(8)[:, None, None, None]  # rows unique
    truth = np.concatenate([res, maps.reshape(8, -1)], 1)
    data = bytearray(xhand.encode_frames(res, maps, np.arange(8) * 10))
    for slot, byte, x in {(s, b): (s, b, x) for s, b, x in flips}.values():  # one change per byte
        data[slot * 728 + byte] ^= x
    for pos, junk in sorted(noise, reverse=True):
        data[pos:pos] = junk
    values, _, _ = decode(XHandTactileDecoder(), bytes(data), step)
    rows = [int(np.flatnonzero((truth == v).all(axis=1))[0]) for v in values]
    assert rows == sorted(set(rows))

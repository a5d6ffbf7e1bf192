"""The encoder link end to end: emulator process → real pseudo-terminal → pyserial → driver.

Every assertion compares what the driver delivered with the emulator's ground-truth log.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from conftest import concat, drain
from dexumi.devices.encoder import EncoderConfig, EncoderDriver
from firmware_bridge.emulator import Fate, read_truth


def run_driver(port: str, seconds: float, **kw) -> tuple[EncoderDriver, list]:
    driver = EncoderDriver(EncoderConfig(port, **kw)).start()
    try:
        batches = drain(driver, seconds)
    finally:
        driver.close()
    return driver, batches + driver.read()  # what the reader decoded while closing


def sent(truth_path, segment: int | None = None) -> np.ndarray:
    _, rec = read_truth(truth_path)
    rec = rec[rec["fate"] == Fate.SENT]
    return rec if segment is None else rec[rec["segment"] == segment]


def test_16_channels_at_2khz_for_10s_lossless_in_order_exact(sim_device):
    dev = sim_device("--channels", 16, "--rate", 2000, "--seed", 1)
    driver, batches = run_driver(dev.port, 10.0)
    dev.stop()
    truth = sent(dev.truth)
    index, values = concat(batches, "index"), concat(batches, "raw")
    assert len(index) >= 19_000
    # in order, each once, nothing missing in between
    assert np.array_equal(index, np.arange(index[0], index[0] + len(index)))
    # exactly what the device sent, from its first sample on
    assert index[0] == truth["index"][0] == 0
    assert np.array_equal(values, truth["values"][: len(values)])
    assert np.array_equal(concat(batches, "device_time_us"), truth["device_time_us"][: len(index)])
    # what was sent but not read is only the tail still in flight when we stopped
    assert len(truth) - len(index) < 2000 * 0.3
    s = driver.stats()
    assert (s.crc_errors, s.gaps, s.duplicates, s.overflows) == (0, 0, 0, 0)
    assert abs(s.rate_hz - 2000) < 20


def test_a_polling_consumer_gets_every_read_decoded_and_a_waiting_one_is_woken_promptly(sim_device):
    """Reads are decoded when someone needs them: a session-style poll (read() every 50 ms) gets samples as
    fresh as the port's last read, and a consumer blocked in read(timeout) is woken within about one decode
    interval (10 ms), though the reader alone decodes only every 100 ms."""
    dev = sim_device("--channels", 16, "--rate", 2000, "--seed", 1)
    driver = EncoderDriver(EncoderConfig(dev.port)).start()
    try:
        time.sleep(0.3)
        driver.read()
        ages, waits = [], []
        for _ in range(20):
            time.sleep(0.05)
            asked = time.monotonic()
            batches = driver.read()
            ages.append(asked - batches[-1].host_time[-1])  # frames arrive every 2 ms
        for _ in range(20):
            time.sleep(0.03)
            driver.read()
            asked = time.monotonic()
            assert driver.read(timeout=1.0)
            waits.append(time.monotonic() - asked)
    finally:
        driver.close()
    assert np.median(ages) < 0.015, ages  # left to the reader's own 100 ms decodes: ~50 ms
    assert np.median(waits) < 0.04, waits  # ~10 ms; without the wake-up: up to 100 ms


def test_corruption_never_accepted_and_every_intact_frame_delivered(sim_device):
    dev = sim_device("--channels", 12, "--rate", 1000, "--seed", 2, "--corrupt", 0.001)
    driver, batches = run_driver(dev.port, 6.0)
    dev.stop()
    _, rec = read_truth(dev.truth)
    index, values = concat(batches, "index"), concat(batches, "raw")
    by_index = {int(i): k for k, i in enumerate(rec["index"])}
    delivered = np.array([by_index[int(i)] for i in index])
    # zero corrupted samples accepted: every value delivered is the value sent, from an intact frame
    assert np.array_equal(values, rec["values"][delivered])
    assert np.all(rec["fate"][delivered] == Fate.SENT)
    # every intact frame inside the window we read was delivered
    window = (rec["index"] >= index[0]) & (rec["index"] <= index[-1])
    intact = rec["index"][window & (rec["fate"] == Fate.SENT)]
    assert np.array_equal(np.sort(index), intact)
    corrupted_frames = len(np.unique(rec["frame_seq"][window & (rec["fate"] == Fate.CORRUPTED)]))
    s = driver.stats()
    assert corrupted_frames > 5 and s.crc_errors >= corrupted_frames * 0.8
    assert s.missing_samples == len(rec["index"][window & (rec["fate"] != Fate.SENT)])


@pytest.mark.slow  # a real-time end-to-end run (>10 s): CI's `make test-slow` runs it
def test_drift_and_jitter_are_estimated_and_mapped_times_match_truth(sim_device):
    dev = sim_device("--channels", 8, "--rate", 1000, "--seed", 3, "--drift-ppm", 100, "--jitter-ms", 2)
    driver, batches = run_driver(dev.port, 20.0)
    dev.stop()
    truth = sent(dev.truth)
    est = driver.clock()
    assert abs(est.drift_ppm - 100) < 5, est
    index = concat(batches, "index")
    true_time = truth["true_time"][np.searchsorted(truth["index"], index)]
    # the final fit, applied to every sample (as the episode writer does at the end)
    mapped = est.to_host(concat(batches, "device_time_us"))
    rms = float(np.sqrt(np.mean((mapped - true_time) ** 2)))
    assert rms < 0.5e-3, rms
    # the online mapping, after a 2 s warm-up, is good too
    online = concat(batches, "mapped_time")
    late = true_time > true_time[0] + 2.0
    assert float(np.sqrt(np.mean((online[late] - true_time[late]) ** 2))) < 1.0e-3
    # while host receive times are late by the jitter
    received = concat(batches, "host_time")
    assert float(np.mean(received - true_time)) > 0.5e-3


def test_unplug_and_replug_reconnects_within_a_second_and_loses_nothing_before(sim_device):
    dev = sim_device("--channels", 12, "--rate", 1000, "--seed", 4, "--disconnect-after", 2, "--reconnect-after", 1.5)
    header, _ = read_truth(dev.truth)
    replug_at = header["meta"]["t0"] + 3.5
    driver, batches = run_driver(dev.port, 6.0)
    dev.stop()
    s = driver.stats()
    assert s.reconnects == 1 and len(s.gap_events) == 1
    gap = s.gap_events[0]
    assert gap.end - replug_at < 1.0, gap.end - replug_at
    assert 1.3 < gap.end - gap.start < 2.6
    before, after = sent(dev.truth, 0), sent(dev.truth, 1)
    got_before = [b for b in batches if b.segment == 0]
    got_after = [b for b in batches if b.segment == 1]
    # everything sent before the unplug arrived, exactly
    assert np.array_equal(concat(got_before, "index"), before["index"])
    assert np.array_equal(concat(got_before, "raw"), before["values"])
    # the device rebooted: a new clock segment, counters from zero, values exact again
    assert s.device_resets == 1
    idx_after = concat(got_after, "index")
    assert idx_after[0] == 0 and len(idx_after) > 1500
    assert np.array_equal(concat(got_after, "raw"), after["values"][: len(idx_after)])


@pytest.mark.parametrize("channels", [8, 14])
def test_legacy_boards_exact_values_and_ms_counter_across_a_wrap(sim_device, channels):
    # the 16-bit ms counter wraps 1.5 s after power-on
    dev = sim_device(
        "--protocol",
        "legacy",
        "--channels",
        channels,
        "--rate",
        2000,
        "--seed",
        5,
        "--clock-start-us",
        65_536_000 * 3 - 1_500_000,
    )
    driver, batches = run_driver(dev.port, 3.5)
    dev.stop()
    assert driver.protocol == "legacy" and driver.channels == channels
    truth = sent(dev.truth)
    values = concat(batches, "raw")
    start = int(np.flatnonzero((truth["values"] == values[0]).all(axis=1))[0])
    assert np.array_equal(values, truth["values"][start : start + len(values)])
    ms = concat(batches, "device_time_us") // 1000
    true_ms = truth["device_time_us"][start : start + len(values)] // 1000
    assert np.array_equal(ms - ms[0], true_ms - true_ms[0])
    assert (true_ms >= 65_536 * 3).any() and (true_ms < 65_536 * 3).any(), "the counter did not wrap"
    assert driver.stats().crc_errors == 0
    # angles the ratiometric way: joints only, in radians, matching the true angles
    angles = concat(batches, "angles")
    assert angles.shape[1] == channels - 2
    true_angles = truth["angles"][start : start + len(values), : channels - 2]
    assert np.max(np.abs(angles - true_angles)) < 1e-4


def test_legacy_corruption_rejected(sim_device):
    dev = sim_device("--protocol", "legacy", "--channels", 8, "--rate", 2000, "--seed", 6, "--corrupt", 0.0005)
    driver, batches = run_driver(dev.port, 3.0)
    dev.stop()
    _, rec = read_truth(dev.truth)
    values, ms = concat(batches, "raw"), concat(batches, "device_time_us") // 1000
    first = int(np.flatnonzero((rec["values"] == values[0]).all(axis=1))[0])
    window = rec[first:]
    where = {tuple(v): k for k, v in enumerate(window["values"].tolist())}
    k = np.array([where.get(tuple(v), -1) for v in values.tolist()])
    assert np.all(k >= 0), "a corrupted value was accepted"
    # the 16-bit ms counter is outside the legacy checksum: a damaged counter is caught when it jumps,
    # but one that lands within a few ms of the truth cannot be told from the real thing
    true_ms = window["device_time_us"][k] // 1000
    err = (ms - ms[0]) - (true_ms - true_ms[0])
    damaged = window["fate"][k] != Fate.SENT
    assert np.all(err[~damaged] == 0)
    assert np.all(np.abs(err[damaged]) <= 4)
    assert driver.stats().crc_errors > 0


def test_reader_keeps_up_without_polling_overhead(sim_device):
    """The reader thread sleeps in select(): a slow consumer still gets every sample later."""
    dev = sim_device("--channels", 16, "--rate", 2000, "--seed", 7)
    driver = EncoderDriver(EncoderConfig(dev.port)).start()
    try:
        time.sleep(2.0)  # nobody reads: the driver buffers
        batches = driver.read()
    finally:
        driver.close()
    assert 3500 < sum(len(b) for b in batches) < 4500


@pytest.mark.slow
def test_soak_60s_of_corruption_and_an_unplug(sim_device):
    """A minute of 16 ch × 2 kHz with a corrupting link and a cable glitch: nothing wrong gets through."""
    dev = sim_device(
        "--channels",
        16,
        "--rate",
        2000,
        "--seed",
        11,
        "--corrupt",
        0.0002,
        "--drop",
        0.001,
        "--disconnect-after",
        30,
        "--reconnect-after",
        1,
        "--drift-ppm",
        -40,
        "--jitter-ms",
        1,
    )
    driver, batches = run_driver(dev.port, 60.0)
    dev.stop()
    _, rec = read_truth(dev.truth)
    s = driver.stats()
    assert s.reconnects == 1 and s.overflows == 0
    for segment in (0, 1):
        got = [b for b in batches if b.segment == segment]
        truth = rec[rec["segment"] == segment]
        index, values = concat(got, "index"), concat(got, "raw")
        k = np.searchsorted(truth["index"], index)
        assert np.array_equal(truth["index"][k], index)
        assert np.array_equal(values, truth["values"][k]), "a damaged sample was accepted"
        assert np.all(truth["fate"][k] == Fate.SENT)
        window = (truth["index"] >= index[0]) & (truth["index"] <= index[-1])
        assert np.array_equal(index, truth["index"][window & (truth["fate"] == Fate.SENT)])
    assert abs(driver.clock(1).drift_ppm + 40) < 5

"""Encoder + sim cameras end to end, against ground truth: the emulator (its own process, 100 ppm drift, 2 ms
jitter) and two sim cameras (40 ms and 120 ms latency) share one motion epoch. After alignment with the final
clock fit and the calibrated latency, encoder values attached to frames match the true values at the frames'
true capture times; and the latency estimated from the images recovers both latencies."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pytest

from dexumi import latency, sync
from dexumi.devices.cameras import FrameGrabber, open_camera
from dexumi.finger_bars import finger_flexion
from dexumi.devices.encoder import EncoderConfig, EncoderDriver
from dexumi.devices.sim import SimDeviceProcess
from firmware_bridge.emulator import Fate, read_truth

JOINTS = 10
SECONDS = 12.0
LATENCIES = {"wrist40": 0.040, "wrist120": 0.120}


@dataclass
class Recording:
    enc_t: np.ndarray
    angles: np.ndarray
    segment: np.ndarray
    timing: sync.StreamTiming
    frames: dict  # name → list[CameraFrame]
    cam_truth: dict  # name → SimCamera.truth()
    truth: np.ndarray  # emulator records that were sent


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> Recording:
    truth_path = tmp_path_factory.mktemp("sync") / "truth.bin"
    epoch = time.monotonic() + 0.3
    dev = SimDeviceProcess(
        "--channels",
        JOINTS,
        "--rate",
        1000,
        "--seed",
        5,
        "--drift-ppm",
        100,
        "--jitter-ms",
        2,
        "--motion-epoch",
        epoch,
        truth=truth_path,
    )
    grabbers = {}
    try:
        driver = EncoderDriver(EncoderConfig(dev.port)).start()
        for name, lat in LATENCIES.items():
            spec = f"sim:name={name},latency={lat * 1e3:g}ms,fps=30,size=640x480,seed=5,joints={JOINTS},epoch={epoch}"
            grabbers[name] = FrameGrabber(open_camera(spec)).start()
        batches, frames = [], {n: [] for n in grabbers}
        end = time.monotonic() + SECONDS
        while time.monotonic() < end:
            batches += driver.read(timeout=0.05)
            for n, g in grabbers.items():
                frames[n] += g.read()
        for g in grabbers.values():
            g.close()
        driver.close()
    finally:
        dev.stop()
    for n, g in grabbers.items():
        frames[n] += g.read()
    enc_t, angles, seg, timing = sync.encoder_stream(batches, sync.final_fits(driver))
    _, rec = read_truth(truth_path)
    return Recording(
        enc_t,
        angles,
        seg,
        timing,
        frames,
        {n: g.source.truth() for n, g in grabbers.items()},
        rec[rec["fate"] == Fate.SENT],
    )


def test_aligned_encoder_values_match_truth_at_true_capture_time(recording):
    r = recording
    assert abs(r.timing.drift_ppm[0] - 100) < 20  # 12 s under load; the link tests check 5 ppm over 20 s
    frames = r.frames["wrist40"]
    assert len(frames) > SECONDS * 30 * 0.9
    # the sim camera's timestamps are on the host clock, like V4L2 buffer times: what the recorder uses
    times, cam_timing = sync.frame_times(frames, LATENCIES["wrist40"], "wrist40", device_time_is_host_clock=True)
    assert cam_timing.method == "device time"
    tl = sync.align(r.enc_t, r.angles, times, segments=r.segment, streams={"wrist40": cam_timing})
    assert tl.valid.mean() > 0.97  # only frames at the very start/end fall outside the encoder stream
    assert np.all(np.isnan(tl.values[~tl.valid]))
    # the truth: the emulator's angles interpolated at each frame's true capture time
    capture = r.cam_truth["wrist40"]["capture_time"][[f.index for f in frames]]
    tt, ta = r.truth["true_time"], r.truth["angles"][:, :JOINTS]
    true_at = np.stack([np.interp(capture, tt, ta[:, j]) for j in range(JOINTS)], axis=1)
    vel = np.stack([np.interp(capture, tt, np.gradient(ta[:, j], tt)) for j in range(JOINTS)], axis=1)
    ok = tl.valid
    err, v = tl.values[ok] - true_at[ok], vel[ok]
    # the error expressed as time through the local slope (least squares over the joints of each frame)
    moving = (v * v).sum(axis=1) > 0.05
    assert moving.sum() > 100
    dt = (err[moving] * v[moving]).sum(axis=1) / (v[moving] ** 2).sum(axis=1)
    rms_ms = float(np.sqrt(np.mean(dt**2)) * 1e3)
    print(f"alignment error {rms_ms:.3f} ms RMS")
    assert rms_ms < 0.5, rms_ms
    # and as values: below what 0.5 ms of motion would change
    assert np.sqrt(np.mean(err**2)) < 0.5e-3 * np.sqrt(np.mean(v**2))
    # floats, never rounded
    assert not np.allclose(tl.values[ok], np.round(tl.values[ok], 3))


@pytest.mark.parametrize("name", list(LATENCIES))
def test_latency_estimated_from_images_within_2ms(recording, name):
    r = recording
    frames = r.frames[name]
    stamps = sync.frame_times(frames, 0.0, name, device_time_is_host_clock=True)[0]
    measured = latency.flexion_from_jpegs([f.data for f in frames], reduce=4)  # pixels only
    est = latency.estimate_latency(r.enc_t, finger_flexion(r.angles), stamps, measured)
    assert abs(est.latency_s - LATENCIES[name]) < 2e-3, est
    assert est.uncertainty_s < 2e-3, est
    assert est.peak_correlation > 0.9

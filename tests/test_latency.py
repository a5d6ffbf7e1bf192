"""Latency estimation on constructed signals and on sim-camera images rendered offline."""

from __future__ import annotations

import numpy as np
import pytest

from dexumi import latency
from dexumi.finger_bars import HandRenderer, finger_flexion
from dexumi.errors import DexumiError
from firmware_bridge.emulator.motion import make_motion


@pytest.mark.parametrize("true_lat", [0.0, 0.04, 0.12, -0.03])
def test_known_shift_of_a_multichannel_signal(true_lat):
    motion = make_motion("grasp", 6, seed=3)
    ref_t = np.arange(0, 20, 0.001)
    cam_t = np.arange(0, 20, 1 / 30) + 0.0123
    ref = motion.angles(ref_t)
    cam = motion.angles(cam_t - true_lat)  # a frame stamped t shows the motion of t − latency
    est = latency.estimate_latency(ref_t, ref, cam_t, cam)
    assert est.latency_s == pytest.approx(true_lat, abs=0.5e-3)
    assert est.blocks == 3 and est.uncertainty_s < 1e-3 and est.peak_correlation > 0.99


def test_images_rendered_offline_give_the_latency():
    """The camera signal is measured from JPEG pixels (60 fps, 640×400, decoded at 1/4 size)."""
    motion = make_motion("grasp", 10, seed=8)
    renderer = HandRenderer(640, 400)
    fps, lat = 60.0, 0.085
    stamps = np.arange(0, 12, 1 / fps)
    jpegs = [renderer.jpeg(finger_flexion(motion.angles(np.array([t - lat])))[0], k) for k, t in enumerate(stamps)]
    measured = latency.flexion_from_jpegs(jpegs, reduce=4)
    ref_t = np.arange(-1, 13, 0.001)
    est = latency.estimate_latency(ref_t, finger_flexion(motion.angles(ref_t)), stamps, measured)
    assert est.latency_s == pytest.approx(lat, abs=2e-3), est


def test_no_motion_and_too_short_are_clear_errors():
    t = np.arange(0, 10, 0.001)
    with pytest.raises(DexumiError, match="no motion"):
        latency.estimate_latency(t, np.zeros_like(t), t, np.sin(t))
    with pytest.raises(DexumiError, match="more overlap"):
        latency.estimate_latency(t[:1000], np.sin(t[:1000]), t[:1000], np.sin(t[:1000]))


def test_motion_energy_follows_joint_speed():
    """Optical flow of the rendered hand against the encoder's joint speed: same latency, coarser signal."""
    motion = make_motion("grasp", 10, seed=2)
    renderer = HandRenderer(320, 240)
    stamps = np.arange(0, 9, 1 / 30)
    lat = 0.05
    images = [renderer.render(finger_flexion(motion.angles(np.array([t - lat])))[0], 0) for t in stamps]
    energy = latency.motion_energy(images)
    assert len(energy) == len(images)
    ref_t = np.arange(-1, 10, 0.001)
    speed = latency.joint_speed(ref_t, motion.angles(ref_t))
    est = latency.estimate_latency(ref_t, speed, latency.motion_energy_times(stamps), energy)
    assert est.latency_s == pytest.approx(lat, abs=10e-3), est


@pytest.mark.parametrize("seed", [2, 5, 9])
def test_calibration_motion_latency_is_not_half_a_frame_late(seed):
    """The calibration's motion estimate on 30 fps frames: the flow between two frames describes the moment
    between them, so the estimate has no half-frame (17 ms) bias."""
    from calibration.latency import latency_from_motion
    from dexumi.types import CameraFrame

    motion = make_motion("grasp", 10, seed=seed)
    renderer = HandRenderer(320, 240)
    fps, lat = 30.0, 0.05
    stamps = np.arange(0, 12, 1 / fps)
    frames = [
        CameraFrame(
            "wrist0",
            k,
            float(t),
            renderer.render(finger_flexion(motion.angles(np.array([t - lat])))[0], 0),
            "bgr",
            320,
            240,
        )
        for k, t in enumerate(stamps)
    ]
    enc_t = np.arange(-1, 13, 0.002)
    result = latency_from_motion("wrist0", frames, enc_t, motion.angles(enc_t))
    assert result.latency_s == pytest.approx(lat, abs=8e-3), result

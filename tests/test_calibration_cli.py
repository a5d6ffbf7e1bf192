"""`dexumi calibrate --headless --sim` as a user runs it: a profile whose every figure matches the simulated
devices' known values, and that the encoder driver then uses to read the emulator's true angles."""

from __future__ import annotations

import math
import subprocess
import time

import numpy as np
import pytest
import yaml

from calibration.profile import load_profile
from calibration.sim import SensorErrors
from tests.conftest import DEXUMI


def dexumi(*args, timeout=240):
    return subprocess.run([*DEXUMI, *map(str, args)], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    d = tmp_path_factory.mktemp("cal")
    out = d / "profile.yaml"
    r = dexumi("calibrate", "--headless", "--sim", "--out", out, "--sim-latency-ms", 75, "--wave-s", 7)
    assert r.returncode == 0, r.stderr
    return out, r


def test_help_mentions_headless():
    r = dexumi("calibrate", "--help", timeout=60)
    assert r.returncode == 0 and "--headless" in r.stdout


@pytest.mark.slow  # a real-time end-to-end run (>10 s): CI's `make test-slow` runs it
def test_headless_sim_profile_recovers_the_simulated_devices(calibrated):
    from calibration.boardsim import Lens

    out, run = calibrated
    text = out.read_text()
    assert "!!python" not in text and "!!" not in text
    yaml.safe_load(text)
    prof = load_profile(out)
    assert prof.exoskeleton == "inspire_exo" and prof.hand == "inspire_like" and prof.device["channels"] == 6
    # encoders: the emulator's sensors had these offsets, signs and gains
    zero, sign, scale = SensorErrors.example(6, "v1").expected()
    cal = prof.encoder_calibration()
    assert np.max(np.abs(np.degrees(np.asarray(cal.zero_rad) - zero))) < 0.5
    assert list(cal.sign) == list(sign)
    assert np.max(np.abs(np.asarray(cal.scale_rad_per_count) / scale - 1)) < 0.01
    # the observed range reaches each joint's sweep (90 % of the model's upper limit)
    for c in prof.channels:
        assert c.range_rad[0] == pytest.approx(0.0, abs=0.01) and c.range_rad[1] > 0.5
    # camera intrinsics of the sim lens
    lens = Lens()
    cam = prof.cameras["SIM-CAM-0001"]
    k = np.asarray(cam.matrix)
    for got, true in ((k[0, 0], lens.fx), (k[1, 1], lens.fy), (k[0, 2], lens.cx), (k[1, 2], lens.cy)):
        assert abs(got / true - 1) < 0.005
    assert cam.rms_px < 0.5 and cam.views >= 10
    # latency of the sim camera
    assert abs(prof.latencies_s["wrist0"] - 0.075) < 0.002
    assert 0 < prof.latency_uncertainty_s["wrist0"] < 0.002
    # the joint map beside it, with residuals
    assert prof.mapping == "profile.map.yaml" and (out.parent / prof.mapping).is_file()
    assert set(prof.report["jointmap_residuals"]) >= {"thumb_yaw", "index_proximal"}
    assert "zero check ok" in run.stdout


@pytest.mark.slow  # a real-time end-to-end run (>10 s): CI's `make test-slow` runs it
def test_the_driver_reads_true_angles_with_the_new_profile(calibrated, sim_device):
    from dexumi.devices.encoder import EncoderConfig, EncoderDriver
    from firmware_bridge.emulator.truth import read_truth

    out, _ = calibrated
    errors = SensorErrors.example(6, "v1")
    dev = sim_device("--channels", 6, "--rate", 500, *errors.args())
    cal = load_profile(out).encoder_calibration()
    batches = []
    with EncoderDriver(EncoderConfig(dev.port, calibration=cal)) as drv:
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            batches += drv.read(0.05)
    dev.stop()
    _, truth = read_truth(dev.truth)
    idx = np.concatenate([b.index for b in batches])
    angles = np.concatenate([b.angles for b in batches])
    pos = {int(i): k for k, i in enumerate(truth["index"])}
    true = np.stack([truth["angles"][pos[int(i)], :6] for i in idx])
    assert len(idx) > 500
    assert np.max(np.abs(angles - true)) < math.radians(0.1)


@pytest.mark.slow  # a real-time end-to-end run (>10 s): CI's `make test-slow` runs it
def test_refuses_to_overwrite_without_force(calibrated):
    out, _ = calibrated
    before = out.read_text()
    r = dexumi("calibrate", "--headless", "--sim", "--out", out, timeout=60)
    assert r.returncode == 2 and "exists" in r.stderr and "--force" in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert out.read_text() == before


@pytest.mark.slow
def test_zero_check_of_a_profile_against_the_same_sim(calibrated):
    out, _ = calibrated
    r = dexumi(
        "calibrate",
        "--headless",
        "--sim",
        "--zero-check",
        out,
        "--hold-s",
        0.6,
        "--sweep-s",
        0.3,
        "--move-s",
        0.2,
        "--wave-s",
        0,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "zero check ok" in r.stdout


def test_print_board(tmp_path):
    r = dexumi("calibrate", "--print-board", tmp_path / "board", timeout=60)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "board.png").is_file() and (tmp_path / "board.pdf").is_file() and "100 mm" in r.stdout

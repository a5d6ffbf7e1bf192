"""The emulator's tactile modes, as their own process on a pty: decoded frames equal the truth log."""

from __future__ import annotations

import time

import numpy as np
import pytest
import serial

from firmware_bridge.emulator.truth import Fate, read_truth
from firmware_bridge.tactile import xhand
from firmware_bridge.tactile.decoder import make_tactile_decoder


@pytest.mark.parametrize("kind,rate", [("xhand-tactile", 100), ("fsr", 500)])
def test_tactile_emulator_frames_equal_the_truth_and_follow_the_contact(sim_device, kind, rate):
    dev = sim_device("--protocol", kind, "--rate", rate, "--seed", 2)
    d = make_tactile_decoder(kind)
    blocks = []
    with serial.Serial(dev.port, timeout=0.05) as port:
        end = time.monotonic() + 3.5  # > one grasp cycle: contact made and released
        while time.monotonic() < end:
            blocks += d.feed(port.read(65536)).blocks
    dev.stop()
    blocks += d.flush().blocks
    values = np.concatenate([b.values for b in blocks])
    ms = np.concatenate([b.device_time_us for b in blocks]) // 1000 % 65536
    _, truth = read_truth(dev.truth)
    sent = truth[truth["fate"] == Fate.SENT]
    by_ms = {int(t) // 1000 % 65536: k for k, t in enumerate(sent["device_time_us"])}
    rows = np.array([by_ms[int(m)] for m in ms])  # every decoded frame is one the emulator sent
    assert len(rows) >= rate * 3 and np.all(np.diff(rows) == 1)  # none lost once reading began
    assert np.array_equal(values, sent["values"][rows])
    assert d.stats.crc_errors == 0
    forces = sent["angles"][rows][:, :5]  # truth of a tactile board: fingertip forces in N
    if kind == "xhand-tactile":
        total = xhand.maps_newtons(values)[:, 2].sum(axis=(1, 2))
        assert np.allclose(total, forces[:, 1], atol=0.6)
        assert (forces[:, 1] > 0).any() and (forces[:, 1] == 0).any()
        assert not np.any((total > 0) & (forces[:, 1] == 0))
    else:
        assert np.array_equal(values[:, 12:], np.clip(np.round(200 + 100 * forces[:, :2]), 0, 65535))

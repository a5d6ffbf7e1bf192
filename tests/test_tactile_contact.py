"""The grasp contact model: force exactly where the fingertips touch, through the tactile frames."""

from __future__ import annotations

import numpy as np

from firmware_bridge.emulator.motion import GraspCycleMotion
from firmware_bridge.tactile import fsr, xhand
from firmware_bridge.tactile.contact import FSR_BASELINE, GraspContact, fsr_readings, xhand_readings
from firmware_bridge.tactile.decoder import FsrDecoder, XHandTactileDecoder


def test_force_rises_exactly_in_the_contact_intervals():
    contact = GraspContact(GraspCycleMotion(joints=12, seed=3))
    t = np.arange(0, 12, 0.001)
    f, touching = contact.forces(t), contact.in_contact(t)
    assert touching.any(axis=0).all() and (~touching).any(axis=0).all()  # every finger touches and lets go
    assert np.all((f > 0) == touching) and f.max() <= contact.max_force_n


def test_contact_forces_survive_the_xhand_and_fsr_frames():
    contact = GraspContact(GraspCycleMotion(joints=12, seed=1))
    t = np.arange(0, 6, 0.01)  # a 100 Hz tactile board
    f = contact.forces(t)
    res, maps = xhand_readings(f[:, 1])
    d = XHandTactileDecoder()
    out = d.feed(xhand.encode_frames(res, maps, np.round(t * 1000).astype(np.int64)))
    out.blocks += d.flush().blocks
    values = np.concatenate([b.values for b in out.blocks])
    total = xhand.maps_newtons(values)[:, 2].sum(axis=(1, 2))
    assert np.allclose(total, f[:, 1], atol=120 * 0.005 + 1e-9)  # rounding of 120 taxels
    assert not np.any((total > 0) & (f[:, 1] == 0)) and np.all(total[f[:, 1] > 1.0] > 0)  # touch, and only touch
    fr = fsr_readings(f)
    d = FsrDecoder()
    out = d.feed(fsr.encode_frames(np.zeros((len(t), 12), np.int64), fr, np.arange(len(t)) * 10))
    out.blocks += d.flush().blocks
    got = np.concatenate([b.values for b in out.blocks])[:, 12:]
    assert np.array_equal(got, fr) and np.array_equal(got > FSR_BASELINE, np.round(100 * f[:, :2]) > 0)

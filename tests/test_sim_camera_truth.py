"""The sim camera's truth log stays small: one bit per frame, the times following from the index."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np

from dexumi.devices.cameras.sim import SimCamera, SimCameraConfig


def test_truth_log_is_bounded_and_exact():
    """An hour at 60 fps reached at once (a reader far behind: every past frame overran the queue) costs
    kilobytes, not a record per frame; truth() still gives every frame's times and fate."""
    fps, frames = 60.0, 216_000
    cam = SimCamera(SimCameraConfig(width=64, height=48, fps=fps))
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    cam.open(start_time=time.monotonic() - frames / fps)
    frame = cam.read()  # walks past every overrun frame to the present one
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert frame is not None and frame.index >= frames - 1
    assert grown < 200_000, f"the truth log grew by {grown} bytes for {frame.index} frames"
    truth = cam.truth()
    assert len(truth) == frame.index + 1
    assert np.array_equal(truth["index"], np.arange(len(truth)))
    assert np.allclose(np.diff(truth["capture_time"]), 1 / fps)
    assert truth["lost"][:-1].all() and not truth["lost"][-1]  # the overrun ones, and the one delivered
    assert truth["capture_time"][-1] == frame.device_time  # latency 0: delivered at capture


def test_truth_marks_exactly_the_dropped_frames():
    cam = SimCamera(
        SimCameraConfig(width=64, height=48, fps=1000.0, drop=0.2, frames=300, seed=3, buffers=10**6)
    ).open()
    got = []
    while (f := cam.read()) is not None:
        got.append(f.index)
    truth = cam.truth()
    assert len(truth) == 300
    assert np.array_equal(np.flatnonzero(truth["lost"] == 0), got)
    assert 30 < truth["lost"].sum() < 90

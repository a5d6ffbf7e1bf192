"""Alignment rules on constructed streams: float interpolation, gaps, edges, clock segments, wraps."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dexumi import sync
from dexumi.clock import ClockEstimate
from dexumi.types import EncoderBatch


def test_linear_motion_is_recovered_exactly_in_float():
    t = np.arange(0, 2, 0.001)
    values = np.stack([0.3 + 1.7 * t, -2.0 * t], axis=1)
    frames = np.array([0.0105, 0.5, 1.23456, 1.9985])
    tl = sync.align(t, values, frames)
    assert tl.valid.all()
    np.testing.assert_allclose(tl.values[:, 0], 0.3 + 1.7 * frames, atol=1e-12)
    np.testing.assert_allclose(tl.values[:, 1], -2.0 * frames, atol=1e-12)
    np.testing.assert_allclose(tl.nearest_s, [0.0005, 0.0, 0.00044, 0.0005], atol=1e-9)


def test_gaps_edges_and_exact_hits():
    t = np.array([0.0, 0.01, 0.02, 0.10, 0.11])  # 80 ms hole between 0.02 and 0.10
    v = t * 10
    tl = sync.align(t, v, np.array([-0.001, 0.0, 0.015, 0.05, 0.105, 0.11, 0.2]), max_gap_s=0.025)
    assert tl.valid.tolist() == [False, True, True, False, True, True, False]
    assert np.isnan(tl.values[[0, 3, 6]]).all()
    np.testing.assert_allclose(tl.values[[1, 2, 4, 5]], [0.0, 0.15, 1.05, 1.1])
    assert tl.bracket_s[1] == 0.0 and tl.bracket_s[3] == np.inf
    assert tl.segment.tolist() == [-1, 0, 0, -1, 0, 0, -1]


def test_no_interpolation_across_a_device_reset():
    t = np.array([0.0, 0.01, 0.02, 0.03, 0.04])
    seg = np.array([0, 0, 0, 1, 1])
    tl = sync.align(t, t, np.array([0.015, 0.025, 0.035]), segments=seg)
    assert tl.valid.tolist() == [True, False, True]
    assert tl.segment.tolist() == [0, -1, 1]


def test_wrapped_angles_interpolate_the_short_way():
    t = np.array([0.0, 0.01])
    v = np.array([np.pi - 0.1, -np.pi + 0.1])
    tl = sync.align(t, v, np.array([0.005, 0.0025]), wrap_period=2 * np.pi)
    np.testing.assert_allclose(np.abs(tl.values[0]), np.pi, atol=1e-12)
    np.testing.assert_allclose(tl.values[1], np.pi - 0.05, atol=1e-12)


def test_unsorted_and_empty_streams():
    t = np.array([0.02, 0.0, 0.01])
    tl = sync.align(t, t * 2, np.array([0.005]))
    np.testing.assert_allclose(tl.values, [0.01])
    empty = sync.align(np.empty(0), np.empty((0, 3)), np.array([0.1, 0.2]))
    assert not empty.valid.any() and empty.values.shape == (2, 3) and np.isinf(empty.nearest_s).all()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0.0005, 0.02), min_size=3, max_size=60),
    st.floats(-5, 5),
    st.floats(-3, 3),
    st.lists(st.floats(0, 1), min_size=1, max_size=20),
)
def test_piecewise_sampled_line_is_interpolated_exactly(steps, a, b, where):
    t = np.cumsum([0.0, *steps])
    v = a + b * t
    ft = t[0] + np.array(where) * (t[-1] - t[0])
    tl = sync.align(t, v, ft, max_gap_s=0.025)
    assert tl.valid.all()
    np.testing.assert_allclose(tl.values, a + b * ft, atol=1e-9)
    assert (tl.nearest_s <= tl.bracket_s / 2 + 1e-12).all()


def test_encoder_stream_uses_each_segments_final_fit():
    fits = [ClockEstimate(0, 100.0, 1.0, 0.01, 10, 5.0), ClockEstimate(0, 200.0, 1.0001, 0.02, 10, 5.0)]
    b0 = EncoderBatch(
        np.arange(3),
        np.array([0, 1000, 2000]),
        np.array([100.5, 100.5, 100.5]),
        np.zeros(3),
        np.zeros((3, 2), np.int32),
        np.ones((3, 2)),
        0,
    )
    b1 = EncoderBatch(
        np.arange(2),
        np.array([0, 1000]),
        np.array([200.5, 200.5]),
        np.zeros(2),
        np.zeros((2, 2), np.int32),
        np.ones((2, 2)),
        1,
    )
    t, ang, seg, timing = sync.encoder_stream([b0, b1], fits)
    np.testing.assert_allclose(t, [100.0, 100.001, 100.002, 200.0, 200.0010001])
    assert seg.tolist() == [0, 0, 0, 1, 1] and ang.shape == (5, 2)
    assert timing.segments == 2 and timing.method == "final clock fit" and len(timing.drift_ppm) == 2
    # a segment without a fit falls back to the receive times
    t2, *_ = sync.encoder_stream([b0, b1], {0: fits[0]})
    np.testing.assert_allclose(t2[3:], [200.5, 200.5])


def test_camera_times_subtract_latency_and_warn_when_uncalibrated(caplog):
    grab = np.array([1.0, 1.1])
    t, timing = sync.camera_times(grab, 0.04, "wrist")
    np.testing.assert_allclose(t, [0.96, 1.06])
    assert timing.calibrated and timing.method == "grab time"
    with caplog.at_level(logging.WARNING):
        t, timing = sync.camera_times(grab, None, "wrist", device_time=np.array([0.99, 1.09]))
    np.testing.assert_allclose(t, [0.99, 1.09])
    assert not timing.calibrated and timing.method == "device time"
    assert "no calibrated latency" in caplog.text


def test_nearest_frames_of_a_second_camera():
    idx, off, ok = sync.nearest_frames(np.array([0.0, 0.0333, 0.0667, 0.2]), np.array([0.01, 0.06, 0.13]), 0.02)
    assert idx.tolist() == [0, 2, -1] and ok.tolist() == [True, True, False]
    assert off[0] == pytest.approx(-0.01)


def test_frame_times_prefer_host_clock_device_times():
    from dexumi.types import CameraFrame

    frames = [CameraFrame("c", k, 1.0 + k * 0.1 + 0.003, b"", "jpeg", 1, 1, 1.0 + k * 0.1) for k in range(3)]
    t, timing = sync.frame_times(frames, 0.05, "c", device_time_is_host_clock=True)
    np.testing.assert_allclose(t, [0.95, 1.05, 1.15])
    assert timing.method == "device time"
    t, timing = sync.frame_times(frames, 0.05, "c")  # e.g. a file's presentation times: not the host clock
    np.testing.assert_allclose(t, [0.953, 1.053, 1.153])
    assert timing.method == "grab time"

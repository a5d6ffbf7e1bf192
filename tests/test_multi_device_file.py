"""The multi-device episode file on known data (no processes): `/raw/<role>`, the final clock fit per device,
`observations/<side>/…` against the truth it was made from, the `devices` check and the touch export."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from dexumi.episode.device_stream import DeviceLayout
from dexumi.episode.layout import EncoderLayout, EpisodeMeta
from dexumi.episode.writer import EpisodeWriter
from dexumi.types import EncoderBatch, GapEvent
from dexumi.validate.config import ValidateConfig
from dexumi.validate.episode import validate_file

T0 = 1000.0
FSR_NAMES = [f"adc{i}" for i in range(12)] + ["fsr_low", "fsr_high"]


def _batches(
    rate: float,
    seconds: float,
    raw_fn,
    ang_fn,
    drift_ppm: float,
    offset_us: int,
    skip: tuple[float, float] | None = None,
    block: int = 50,
) -> list[EncoderBatch]:
    """Samples taken at T0 + k/rate (host), device clock running `drift_ppm` fast, arriving 0.2 ms later."""
    t = T0 + np.arange(int(seconds * rate)) / rate
    out, seg = [], 0
    for k in range(0, len(t), block):
        tt = t[k : k + block]
        if skip is not None and skip[0] <= tt[0] < skip[1]:
            continue
        if skip is not None and tt[0] >= skip[1]:
            seg = 1
        dev = (offset_us + (tt - T0) * 1e6 * (1 + drift_ppm * 1e-6)).astype(np.int64)
        host = tt + 0.0002
        out.append(EncoderBatch(np.arange(k, k + len(tt)), dev, host, host, raw_fn(tt), ang_fn(tt), seg))
    return out


def _angles(t: np.ndarray, phase: float = 0.0) -> np.ndarray:
    return np.stack([0.5 + 0.4 * np.sin(2 * np.pi * 0.5 * (t - T0) + phase + j) for j in range(6)], axis=1)


def _fsr(t: np.ndarray) -> np.ndarray:
    touch = ((t - T0) % 2.0) > 1.0  # touching in the second half of every 2 s
    raw = np.zeros((len(t), 14), np.int32)
    raw[:, :12] = 2_000_000 + (np.arange(len(t))[:, None] * 7 + np.arange(12)) % 5
    raw[:, 12] = 200 + touch * 1500
    raw[:, 13] = 200 + touch * 700
    return raw


def _write(path, gap=(3.0, 4.0)) -> None:
    meta = EpisodeMeta(number=1, nominal_fps=30.0)
    w = EpisodeWriter(
        path,
        meta,
        EncoderLayout(6, tuple(f"j{i}" for i in range(6)), 1000.0),
        [],
        devices=[
            DeviceLayout("exo_left", "v1", 6, [f"j{i}" for i in range(6)], "rad", 1000.0),
            DeviceLayout("tactile_right", "fsr", 14, FSR_NAMES, "counts", 0.0),
        ],
        primary_role="exo_right",
    )
    right = _batches(
        1000, 6, lambda t: np.zeros((len(t), 6), np.int32) + (np.arange(len(t)) % 3)[:, None], _angles, 30, 5_000_000
    )
    left = _batches(
        1000,
        6,
        lambda t: np.zeros((len(t), 6), np.int32) + (np.arange(len(t)) % 3)[:, None],
        lambda t: _angles(t, 1.0),
        -20,
        9_000_000,
        skip=(T0 + gap[0], T0 + gap[1]),
    )
    tactile = _batches(500, 6, _fsr, lambda t: _fsr(t).astype(np.float64), 45, 123_000, block=25)
    w.append_encoder(right)
    w.append_device("exo_left", left)
    w.append_device("tactile_right", tactile)
    w.append_device_gap("exo_left", GapEvent(T0 + gap[0], T0 + gap[1], None, "link lost: test"))
    w.flush()
    w.finalize("success")


@pytest.fixture(scope="module")
def episode(tmp_path_factory):
    d = tmp_path_factory.mktemp("multi_file")
    _write(d / "episode_0001.h5.partial")
    return d / "episode_0001.h5"


def test_devices_are_mapped_and_aligned_per_side(episode):
    with h5py.File(episode) as f:
        rep = json.loads(f["meta/sync_report"][0])
        ts = f["timestamps"][:]
        assert f["raw/encoder"].attrs["role"] == "exo_right"
        g = f["raw/exo_left"]
        assert set(np.unique(g["segment"][:])) == {0, 1} and g["gaps"].shape == (1, 2)
        # the final fit maps each device onto the host clock: true sample time + the constant 0.2 ms delay
        for role, drift in (("exo_left", -20), ("tactile_right", 45)):
            host = f[f"raw/{role}/host_time"][:]
            assert np.abs(f[f"raw/{role}/time"][:] - host).max() < 5e-6, role  # µs ticks
            assert abs(rep["devices"][role]["clock"]["0"]["drift_ppm"] - drift) < 0.5, role
        left, valid = f["observations/left/exo_joints"][:], f["observations/left/valid"][:].astype(bool)
        truth = _angles(ts - 0.0002, 1.0)  # aligned instants are on the mapped clock (0.2 ms after the sample)
        assert np.abs(left[valid] - truth[valid]).max() < 1e-3
        in_gap = (ts > T0 + 3.0 + 0.03) & (ts < T0 + 4.0 - 0.03)
        assert in_gap.any() and not valid[in_gap].any() and valid[~in_gap & (ts > T0 + 0.1)].mean() > 0.97
        touch, tv = f["observations/right/tactile"][:], f["observations/right/tactile_valid"][:].astype(bool)
        # causal: the latest reading at or before the instant (readings every 2 ms)
        phase = (ts - 0.0002 - T0) * 500
        clear = np.abs(phase - np.round(phase)) > 1e-3  # not on a reading's own instant (rounding decides those)
        expect = _fsr(T0 + np.floor(phase) / 500)[:, 12:]
        sel = tv & clear
        assert tv[ts > T0 + 0.01].all() and sel.sum() > 100
        assert np.array_equal(touch[sel][:, 12:], expect[sel].astype(np.float32))
        assert np.array_equal(f["observations/right/qpos"][:], f["observations/qpos"][:])


def test_the_devices_check_on_a_known_file(episode):
    rep = validate_file(episode, ValidateConfig(pose_latency=False)).to_dict()
    c = next(x for x in rep["checks"] if x["check"] == "devices")
    assert c["level"] == "warn" and "exo_left: 1 gap(s) (1.00 s)" in c["message"], c["message"]
    s = c["details"]["streams"]
    assert s["tactile_right"]["baseline_drift"] == 0.0 and not s["tactile_right"]["stuck_channels"]  # 6 s
    assert s["exo_right"]["saturated_fraction"] == 0.0
    assert rep["metrics"]["cross_device_sync_ms"] < 0.01


def test_replay_shows_touch_as_per_finger_bars(episode):
    from apps.replay.touch import draw_touch, touch_series
    from dexumi.episode.reader import Episode

    ep = Episode.open(episode)
    try:
        (s,) = touch_series(ep)
        touch = ep.f["observations/right/tactile"][:]
    finally:
        ep.close()
    assert s.role == "tactile_right" and s.fingers == ["thumb", "index"] and s.unit == "counts"
    assert np.allclose(s.totals, touch[:, 12:14] - touch[0, 12:14])  # zero at the first reading
    on, off = int(np.argmax(s.totals[:, 0] > 1000)), int(np.argmax(s.totals[:, 0] == 0))
    imgs = []
    for i in (on, off):
        img = np.full((120, 300, 3), 255, np.uint8)
        draw_touch(img, [s], i, 0, 0, 300)
        imgs.append(img)
    red = [int(((im[..., 2] > 200) & (im[..., 0] < 80)).sum()) for im in imgs]
    assert red[0] > 500 and red[1] < 50  # a full bar while the thumb presses, an empty one when it lets go

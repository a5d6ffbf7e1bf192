"""`dexumi pose EPISODE --from board|sfm` on episodes rendered from the simulated world, against its truth."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from dexumi.devices.pose import LOST, TRACKING
from dexumi.devices.pose.board import BoardPose, world_lens
from dexumi.episode.derived import open_derived
from dexumi.episode.reader import Episode
from dexumi.pose import pose_matrices
from dexumi.sim.episodes import render_episode
from dexumi.tracking.metrics import ape
from dexumi.tracking.offline import OfflineOptions, offline_pose, read_offline
from dexumi.types import CameraFrame


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "apps.cli.main", "pose", *args], capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def short(tmp_path_factory):
    """14 frames of the pick script: the board tracked at home, lost while reaching (t = 1 s), back."""
    d = tmp_path_factory.mktemp("offline")
    return render_episode(d / "episode_0001.h5", np.r_[np.arange(0.0, 3.0, 0.5), np.arange(3.5, 7.5, 0.5)])


def test_board_offline_equals_online_and_truth(short):
    """Offline board PnP = the online pose:board source fed the same frames, sample for sample; TRACKING
    frames within 2 mm / 0.5° of the true camera pose (unaligned, board frame)."""
    r = offline_pose(short.path, OfflineOptions("board", force=True))
    assert r.frames == 14 and r.camera == "wrist0" and r.tracked + r.limited + r.lost == 14
    d = read_offline(short.path, "board")
    with Episode.open(short.path) as ep:
        ts, cam_t = ep.timestamps, ep.camera_times("wrist0")["mapped_time"]
        jpegs = [ep.jpeg("wrist0", k) for k in range(14)]
    # the same time base as the observations
    assert np.array_equal(d["time"], cam_t) and np.array_equal(d["aligned_time"], ts)
    online = BoardPose("wrist0", world_lens("wrist0"), queue_frames=len(jpegs)).open()
    try:
        for k, j in enumerate(jpegs):
            online.feed(CameraFrame("wrist0", k, float(cam_t[k]), j, "jpeg", 640, 480, float(cam_t[k])))
        samples = [online.read(60.0) for _ in jpegs]
    finally:
        online.close()
    assert [s.state for s in samples] == d["state"].tolist()
    ok = d["state"] != LOST
    assert np.allclose([s.position for s in samples if s.state != LOST], d["position"][ok], atol=1e-9)
    trk = d["state"] == TRACKING
    assert trk.sum() >= 5 and (d["state"] == LOST).sum() >= 1
    e = ape(pose_matrices(d["position"][trk], d["orientation"][trk]), short.T_board_cam[trk])
    assert e.trans_rms_mm <= 2.0 and e.rot_rms_deg <= 0.5, e
    assert np.isnan(d["position"][~ok]).all() and (d["quality"][trk] > 0).all()
    # aligned at the episode's timestamps: valid only between tracked frames, never across a lost one
    lost_t = d["time"][d["state"] == LOST]
    near_lost = np.array([np.abs(lost_t - t).min() < 0.5 for t in ts])
    assert not d["aligned_valid"][near_lost].any() and d["aligned_valid"].any()


def test_offline_refuses_to_overwrite_and_never_writes_the_episode(short):
    before = short.path.read_bytes()
    p = _cli(str(short.path), "--from", "board")  # the fixture's derived file exists (test above)
    offline_pose(short.path, OfflineOptions("board", force=True))
    assert short.path.read_bytes() == before
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "--force" in p.stderr
    with open_derived(short.path, "pose-board") as f:
        assert f.attrs["method"] == "board" and f.attrs["frame"] == "board" and f.attrs["frames"] == 14


def test_cli_failures_are_one_line(short, tmp_path):
    cases = [
        ([str(tmp_path / "none.h5"), "--from", "board"], "no such episode"),
        ([str(short.path), "--from", "board", "--camera", "wrist9", "--force"], "no camera 'wrist9'"),
        ([str(short.path), "--from", "board", "--span", "50:60", "--force"], "no frames of wrist0"),
        ([str(short.path), "--from", "sfm", "--distance", "3:3:1"], "two different frames"),
        ([str(tmp_path), "--from", "board"], "no finished episodes"),
    ]
    for args, msg in cases:
        p = _cli(*args)
        assert p.returncode == 2 and msg in p.stderr and "Traceback" not in p.stderr, (args, p.stderr)
    p = _cli(str(short.path), "--from", "board", "--span", "0.9:1.1", "--force")  # only the lost frame
    assert p.returncode == 2 and "never seen" in p.stderr and p.stderr.count("\n") == 1, p.stderr


@pytest.mark.slow
def test_board_offline_over_pick_trajectory(tmp_path):
    """The whole reach-grasp-place script at 10 fps: the figures of the online tracker (≤ 2 mm / 0.5° RMS)."""
    ep = render_episode(tmp_path / "episode_0001.h5", np.arange(0.0, 22.2, 0.1))
    r = offline_pose(ep.path, OfflineOptions("board"))
    d = read_offline(ep.path, "board")
    trk = d["state"] == TRACKING
    e = ape(pose_matrices(d["position"][trk], d["orientation"][trk]), ep.T_board_cam[trk])
    assert e.trans_rms_mm <= 2.0 and e.rot_rms_deg <= 0.5 and r.tracked >= 0.3 * r.frames, (e, r)


@pytest.mark.slow
def test_sfm_on_a_board_free_stretch(tmp_path):
    """SfM over 7 s of the pick script (reaching down to the cube, the board untracked on most frames): the
    frames without a board pose within 1 cm of the truth after sim3 alignment, and within 1 cm without any
    alignment (scale and frame from the board frames); a still camera fails in one line."""
    ep = render_episode(tmp_path / "episode_0001.h5", np.arange(5.5, 12.5, 0.1))
    r = offline_pose(ep.path, OfflineOptions("sfm"))
    assert r.scale_source == "board" and r.registered >= 0.8 * r.extra["key_frames"], r
    assert r.board_fit_rms_mm is not None and r.board_fit_rms_mm < 5.0
    d = read_offline(ep.path, "sfm")
    b = offline_pose(ep.path, OfflineOptions("board"))
    board = read_offline(ep.path, "board")
    free = (d["state"] != LOST) & (board["state"] != TRACKING)
    assert free.sum() >= 0.5 * len(free), (free.sum(), b)
    est = pose_matrices(d["position"][free], d["orientation"][free])
    aligned = ape(est, ep.T_board_cam[free], align_mode="sim3")
    metric = ape(est, ep.T_board_cam[free])
    assert aligned.trans_rms_mm <= 10.0 and metric.trans_rms_mm <= 10.0, (aligned, metric)
    assert abs(aligned.scale - 1) < 0.05 and metric.rot_rms_deg < 2.0
    # a camera that never moves: nothing to triangulate
    still = render_episode(tmp_path / "episode_0002.h5", np.arange(0.0, 2.0, 0.25), script="still", number=2)
    p = _cli(str(still.path), "--from", "sfm")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "structure from motion" in p.stderr, p.stderr

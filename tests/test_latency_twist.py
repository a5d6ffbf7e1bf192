"""Camera latency against a wrist pose (dexumi.latency_twist): the flow of frames rendered from the 3D world
regressed on the world's true wrist twist recovers a lag injected into the frames' stamps."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dexumi.errors import DexumiError
from dexumi.latency_twist import body_twist, estimate_latency_from_twist, pair_flows

os.environ.setdefault("MUJOCO_GL", "egl")  # before mujoco is imported: it picks its GL backend then
if importlib.util.find_spec("mujoco") is None:
    pytest.skip("mujoco is not installed", allow_module_level=True)

from dexumi.devices.cameras.world import world_available

if not world_available()[0]:
    pytest.skip(f"no offscreen rendering here: {world_available()[1]}", allow_module_level=True)

FPS = 30.0
SECONDS = 24.0


@pytest.fixture(scope="module")
def shake_clip():
    """wrist0 filming the world's `shake` script at 160×120 (frames at k / FPS) and the true wrist pose at
    100 Hz over the same time."""
    from dexumi.sim.world import World, world_config

    w = World(world_config(160, 120, script="shake", seed=3))
    r = w.renderer("wrist0", seed=3)
    t_frames = np.arange(int(SECONDS * FPS)) / FPS
    frames = []
    for k, t in enumerate(t_frames):
        w.set_time(float(t))
        frames.append(r.bgr(k))
    r.close()
    t_pose = np.arange(int(SECONDS * 100) + 1) / 100.0
    poses = w.trajectory.poses(t_pose)
    quat = Rotation.from_matrix(poses[:, :3, :3]).as_quat()
    return t_frames, frames, t_pose, poses[:, :3, 3], quat


def test_body_twist_of_a_known_screw_motion():
    t = np.linspace(0.0, 1.0, 101)
    rot = Rotation.from_rotvec(np.outer(t, [0.0, 0.0, 0.8]))  # 0.8 rad/s about z
    pos = np.outer(t, [0.1, 0.0, 0.0])  # 0.1 m/s along world x
    mid, tw = body_twist(t, pos, rot.as_quat())
    assert np.allclose(mid, 0.5 * (t[1:] + t[:-1]))
    assert np.allclose(tw[:, 3:], [0.0, 0.0, 0.8], atol=1e-9)  # angular velocity in the body frame
    # world x velocity seen from the body frame, turned back by the rotation at the pair's start
    expect = rot[:-1].inv().apply(np.array([0.1, 0.0, 0.0]))
    assert np.allclose(tw[:, :3], expect, atol=2e-3)


@pytest.mark.parametrize("lag_ms", [23.0, -11.0])
def test_flow_against_true_twist_recovers_injected_lag(shake_clip, lag_ms):
    t_frames, frames, t_pose, pos, quat = shake_clip
    flows = pair_flows(zip(frames[:-1], frames[1:]))
    stamps = t_frames + lag_ms / 1e3  # the camera's timestamps are late by lag_ms
    tt, tw = body_twist(t_pose, pos, quat)
    est = estimate_latency_from_twist(tt, tw, stamps[:-1], stamps[1:], flows, block_s=6.0)
    assert abs(est.latency_s * 1e3 - lag_ms) < 2.0, est
    assert est.peak_correlation > 0.8 and est.blocks >= 3
    assert est.uncertainty_s < 4e-3


def test_a_pose_of_another_moment_is_not_explained(shake_clip):
    """The fit must be able to fail: a pose stream 1.8 s off (a world script started elsewhere) finds no
    lag in the window that explains the flow, and the peak is weak."""
    t_frames, frames, t_pose, pos, quat = shake_clip
    flows = pair_flows(zip(frames[:-1], frames[1:]))
    tt, tw = body_twist(t_pose + 1.8, pos, quat)
    est = estimate_latency_from_twist(tt, tw, t_frames[:-1], t_frames[1:], flows, search_s=0.3)
    assert est.peak_correlation < 0.6


def test_still_camera_is_an_error_not_a_figure(shake_clip):
    t_frames, frames, t_pose, pos, quat = shake_clip
    still = [frames[0]] * len(frames)
    flows = pair_flows(zip(still[:-1], still[1:]))
    tt, tw = body_twist(t_pose, pos, quat)
    with pytest.raises(DexumiError, match="no motion"):
        estimate_latency_from_twist(tt, tw, t_frames[:-1], t_frames[1:], flows)


@pytest.mark.slow
def test_record_60s_two_world_cameras_and_wrist_pose_recovers_the_camera_latency(tmp_path):
    """`record --headless --sim` for 60 s with two world cameras (40 ms late, no latency profile) and the
    simulated wrist tracker, all on the world's `shake` script: zero drops, every frame and pose sample is one
    of the truth logs', and `validate` recovers each camera's latency within 2 ms of the truth (the frames'
    mapped times minus their capture times), the episode's cheaper latency self-check within 3 ms."""
    import json
    import subprocess
    import time

    from dexumi.episode.reader import Episode
    from dexumi.session import RecordingSession, SessionConfig
    from tests.conftest import DEXUMI

    cams = [f"world:name=wrist{i},script=shake,size=320x240,latency=40ms,prerender=80s" for i in range(2)]
    cfg = SessionConfig(
        out_dir=tmp_path / "out",
        sim=True,
        cameras=cams,
        pose_sources=["pose:sim:script=shake"],
        device_timeout_s=120.0,
    )
    with RecordingSession(cfg) as s:
        s.start_episode(task="latency")
        end = time.monotonic() + 60.0
        while time.monotonic() < end:
            time.sleep(0.25)
            st = s.status()
            assert st.state == "recording" and not st.errors
        path = s.stop_episode("success", "ok")
        truths = {c.name: c.truth() for c in s.devices.sim_cameras}
        assert s.pose is not None
        pose_truth = s.pose.readers[0].source.truth()
    assert set(truths) == {"wrist0", "wrist1"}
    with Episode.open(path) as ep:
        report = ep.sync_report
        pose = {k: ep.f[f"raw/pose/sim/{k}"][:] for k in ("index", "time")}
        times = {c: ep.camera_times(c) for c in truths}
    # pose: every sample delivered, none dropped or lost, on the capture clock (no pose latency configured)
    assert np.array_equal(pose["index"], np.arange(pose["index"][0], pose["index"][-1] + 1))
    pt = pose_truth[np.isin(pose_truth["index"], pose["index"])]
    assert len(pt) == len(pose["index"]) and not pt["dropped"].any() and not (pt["state"] == 2).any()
    pose_late = float(np.mean(pose["time"] - pt["capture_time"]))
    assert abs(pose_late) < 1e-3
    checks = report["latency_check"]["cameras"]
    proc = subprocess.run([*DEXUMI, "validate", str(path), "--json", "-"], capture_output=True, text=True, timeout=300)
    # it fails, rightly: the cameras are 40 ms late against a profile that says 0 (the latency check, only)
    assert proc.returncode == 1, proc.stderr[-2000:]
    episode = json.loads(proc.stdout)["episodes"][0]
    failed = {c["check"] for c in episode["checks"] if c["level"] == "error"}
    assert failed == {"latency_drift"}, episode["checks"]
    validated = episode["metrics"]["pose"]["sim"]["camera_latencies"]
    for name, truth in truths.items():
        ct = times[name]
        ci = ct["index"]
        assert np.array_equal(ci, np.arange(ci[0], ci[-1] + 1)), f"{name}: frames missing"
        window = truth[(truth["index"] >= ci[0]) & (truth["index"] <= ci[-1])]
        assert len(window) == len(ci) > 0.95 * 60 * 30 and not truth["lost"].any()
        true_late = float(np.mean(ct["mapped_time"] - window["capture_time"])) - pose_late
        assert abs(true_late - 0.040) < 2e-3  # what the camera was configured with (+ grabbing)
        c = checks[name]
        assert c["method"] == "pose flow (sim)" and c["status"] == "error"  # 40 ms late against a 0 ms profile
        found = validated[name]["camera_late_ms"] / 1e3
        print(
            f"{name}: true {true_late * 1e3:.2f} ms, validate {found * 1e3:.2f}, self-check {c['estimate_s'] * 1e3:.2f}"
        )
        assert abs(found - true_late) < 2e-3, validated[name]  # the measurement: 15 frame pairs a second
        assert abs(c["estimate_s"] - true_late) < 3e-3, c  # the finalise-time drift check: 6 pairs a second

"""The simulated 3D rig (dexumi.sim) against its own ground truth: determinism, camera geometry recovered by
the calibration code, segmentation vs projected geometry, contact forces, the world camera source."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")  # before mujoco is imported: it picks its GL backend then
if importlib.util.find_spec("mujoco") is None:
    pytest.skip("mujoco is not installed", allow_module_level=True)

from dexumi.devices.cameras.world import world_available

if not world_available()[0]:
    pytest.skip(f"no offscreen rendering here: {world_available()[1]}", allow_module_level=True)

import cv2
from scipy.spatial.transform import Rotation

from dexumi.sim.scene import CameraSpec, SceneConfig
from dexumi.sim.world import FINGER_NAMES, World, WorldConfig, WorldTruth, world_config

PINHOLE = CameraSpec("wrist0", 640, 480, 62.0, "pinhole", (), (-0.10, 0.012, -0.06), 30.0)


def test_same_seed_gives_identical_truth_and_frames(tmp_path):
    a, b = (World(world_config(160, 120, 2, seed=3)) for _ in range(2))
    t = np.linspace(0.0, 9.0, 7)
    ta, tb = a.truth(t), b.truth(t)
    ta.save(tmp_path / "a.npz")
    tb.save(tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    back = WorldTruth.load(tmp_path / "a.npz")
    assert np.array_equal(back.wrist, ta.wrist) and set(back.objects) == {"cube", "can", "ball"}
    for cam in ("wrist0", "wrist1"):
        ra, rb = a.renderer(cam, seed=3), b.renderer(cam, seed=3)
        for k, tk in enumerate(t[:3]):
            a.set_time(tk)
            b.set_time(tk)
            assert ra.jpeg(k) == rb.jpeg(k)
    # another seed moves the fingers differently (the emulator's motion model)
    c = World(world_config(160, 120, 1, seed=4))
    assert not np.allclose(c.truth(t).exo_angles, ta.exo_angles)


def test_world_fingers_follow_the_emulator_motion_and_carry_the_cube():
    from firmware_bridge.emulator.motion import make_motion

    w = World(world_config(160, 120, 1, seed=1))
    t = np.linspace(0, 20, 41)
    truth = w.truth(t)
    assert np.allclose(truth.exo_angles, make_motion("grasp", 6, 1).angles(t))
    # the cube leaves the table with the hand and comes back where it started each loop
    cube = truth.objects["cube"][:, :3, 3]
    assert cube[:, 2].max() > cube[0, 2] + 0.08
    period = w.trajectory.period
    again = w.truth(np.array([0.0, period]))
    assert np.allclose(again.objects["cube"][0], again.objects["cube"][1], atol=1e-9)


def test_charuco_calibration_recovers_intrinsics_and_pnp_recovers_pose():
    from calibration.board import BoardSpec
    from calibration.camera import BoardDetector, calibrate

    w = World(WorldConfig(scene=SceneConfig(cameras=[PINHOLE]), script="calibration"))
    r = w.renderer("wrist0", noise=1.0)
    det = BoardDetector(BoardSpec())
    T_wb = w.config.scene.board.T_world_board()
    dets, pnp = [], []
    for i in range(len(w.trajectory.keys)):
        w.set_time(w.trajectory.arrive[i] + 0.1)  # holding the view
        d = det.detect(r.bgr(i))
        dets.append(d)
        if d is not None and len(d) >= 12:
            ok, rv, tv = cv2.solvePnP(d.object_points, d.corners, PINHOLE.K(), PINHOLE.dist())
            T_cb = np.linalg.inv(w.camera_pose("wrist0")) @ T_wb
            ang = np.degrees(Rotation.from_matrix(cv2.Rodrigues(rv)[0].T @ T_cb[:3, :3]).magnitude())
            pnp.append((np.linalg.norm(tv.ravel() - T_cb[:3, 3]) * 1e3, ang))
    cal = calibrate(dets, (640, 480), min_views=8, min_coverage=0.4)
    K = PINHOLE.K()
    rel = np.abs(
        np.array([cal.matrix[0, 0], cal.matrix[1, 1], cal.matrix[0, 2], cal.matrix[1, 2]])
        / K[[0, 1, 0, 1], [0, 1, 2, 2]]
        - 1
    )
    assert rel.max() < 0.005, (cal.summary(), K)
    assert len(pnp) >= 6
    err_mm, err_deg = np.max(pnp, axis=0)
    assert err_mm < 2.0 and err_deg < 0.5, pnp


def _surface_points(w: World, g: int) -> np.ndarray:
    """Points on geom g's surface (world frame) whose projected hull is its silhouette (convex geoms)."""
    m, d = w.model, w.data
    size, pos, R = m.geom_size[g], d.geom_xpos[g], d.geom_xmat[g].reshape(3, 3)
    kind = int(m.geom_type[g])
    import mujoco

    u = np.random.default_rng(0).standard_normal((3000, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    if kind == mujoco.mjtGeom.mjGEOM_BOX:
        local = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)]) * size
    elif kind == mujoco.mjtGeom.mjGEOM_SPHERE:
        local = u * size[0]
    elif kind == mujoco.mjtGeom.mjGEOM_CAPSULE:
        local = np.vstack([u * size[0] + [0, 0, size[1]], u * size[0] - [0, 0, size[1]]])
    elif kind == mujoco.mjtGeom.mjGEOM_CYLINDER:
        a = np.linspace(0, 2 * np.pi, 720, endpoint=False)
        ring = np.stack([np.cos(a) * size[0], np.sin(a) * size[0], np.zeros_like(a)], 1)
        local = np.vstack([ring + [0, 0, size[1]], ring - [0, 0, size[1]]])
    else:
        raise AssertionError(f"geom type {kind}")
    return local @ R.T + pos


def test_segmentation_agrees_with_projected_geometry():
    scene = SceneConfig(cameras=[PINHOLE], slices=64)
    w = World(WorldConfig(scene=scene, script="still", seed=2))
    r = w.renderer("wrist0")
    T_cw = np.linalg.inv(w.camera_pose("wrist0"))
    m = w.model
    wrist = m.body("wrist").id
    in_hand = [g for g in range(m.ngeom) if _in_subtree(m, int(m.geom_bodyid[g]), wrist)]
    for t in (0.3, 1.4, 2.2):  # open, closing, closed
        w.set_time(t)
        T_cw = np.linalg.inv(w.camera_pose("wrist0"))
        ids = r.geom_ids()
        seen = np.isin(ids, in_hand)
        drawn = np.zeros((480, 640), np.uint8)
        for g in in_hand:
            p = _surface_points(w, g) @ T_cw[:3, :3].T + T_cw[:3, 3]
            p = p[p[:, 2] > 1e-3]
            uv, _ = cv2.projectPoints(p, np.zeros(3), np.zeros(3), PINHOLE.K(), PINHOLE.dist())
            hull = cv2.convexHull(np.round(uv.reshape(-1, 2) * 256).astype(np.int32))
            cv2.fillConvexPoly(drawn, hull, 1, cv2.LINE_8, 8)
        drawn = drawn.astype(bool)
        iou = (seen & drawn).sum() / (seen | drawn).sum()
        assert iou >= 0.98, (t, iou)
        # and the part labels: exoskeleton and hand are both in view
        seg = r.segmentation()
        assert (seg == 1).sum() > 1000 and (seg == 2).sum() > 1000


def _in_subtree(m, body: int, root: int) -> bool:
    while body != 0:
        if body == root:
            return True
        body = int(m.body_parentid[body])
    return False


def test_contact_forces_rise_when_the_fingers_close_on_the_cube_and_are_zero_in_free_air():
    w = World(world_config(160, 120, 1))
    tr = w.trajectory
    grasp_key = next(i for i, k in enumerate(tr.keys) if k.grasp == "cube")
    wrist_at_grasp = tr.pose(tr.arrive[grasp_key] + 0.1)
    home = tr.pose(0.5)
    cube = {"cube": w.trajectory.object_pose(tr.arrive[grasp_key] + 0.1, "cube", w._obj_initial["cube"])[0]}
    closure = np.linspace(0.0, 1.3, 14)
    forces = []
    for c in closure:
        w.set_state(wrist_at_grasp, np.full(w.channels, c), cube)
        forces.append(w.contact_forces())
        w.set_state(home, np.full(w.channels, c))
        assert np.all(w.contact_forces() == 0) and np.all(w.tip_forces() == 0)  # free air
    forces = np.array(forces)
    total = forces.sum(axis=1)
    assert total[0] == 0  # open hand above the cube: no touch
    assert total[-1] > 1.0  # closed on it
    touching = total > 0
    first = int(np.argmax(touching))
    assert touching[first:].all(), total  # once touching, it stays in contact as the fingers close further
    assert total[-4:].mean() > 2 * total[first : first + 2].mean(), total  # and presses harder
    assert (forces[-1] > 0).sum() >= 2, dict(zip(FINGER_NAMES, forces[-1]))


def test_world_camera_source_delivers_paced_jpegs_with_truth():
    from dexumi.devices.cameras.spec import make_camera
    from dexumi.episode.frames import decode_jpeg

    cam = make_camera("world:name=wrist1,size=160x120,fps=30,latency=30ms,frames=15,seed=5")
    cam.open()
    try:
        frames = []
        while (f := cam.read()) is not None:
            frames.append(f)
        truth = cam.truth()
    finally:
        cam.close()
    assert [f.index for f in frames] == list(range(15)) and not truth["lost"].any()
    assert np.allclose([f.device_time for f in frames], truth["deliver_time"])
    assert np.allclose(truth["deliver_time"] - truth["capture_time"], 0.03)
    assert all(f.grab_time >= f.device_time - 1e-3 for f in frames)  # never before its delivery time
    # the bytes are what the world shows at the capture time (same renderer, same seed)
    w = World(world_config(160, 120, 2, seed=5))
    r = w.renderer("wrist1", seed=5)
    w.set_time(truth["capture_time"][7] - cam.epoch)
    assert frames[7].data == r.jpeg(7)
    assert decode_jpeg(frames[7].data, 1).shape == (120, 160, 3)


@pytest.mark.slow
def test_record_60s_headless_sim_with_two_world_cameras(tmp_path, monkeypatch):
    """`record --headless --sim` on the 3D world: zero drops, every frame = the camera's truth log, mapped
    times = the world's capture times (the configured 40 ms latency taken out to within 2 ms)."""
    from tests.test_record_sim import _check_against_truth, _record

    monkeypatch.setenv("DEXUMI_SIM_CAMERA", "world")
    # two busy cores cannot render live in real time: the cameras pre-render their clips, then play them
    paths, tr, cams, _ = _record(
        tmp_path, 60.0, sim_world_size=(160, 120), sim_world_prerender_s=85.0, device_timeout_s=120.0
    )
    assert set(cams) == {"wrist0", "wrist1"}
    n = _check_against_truth(paths[0], tr, cams)  # contiguous frames, none lost, mapped = capture time ± 2 ms
    assert n > 0.9 * 60 * 30
    for truth in cams.values():
        assert not truth["lost"].any()  # not even outside the episode


@pytest.mark.slow
def test_calibrate_headless_sim_films_the_world_board_and_recovers_its_intrinsics(tmp_path):
    """`dexumi calibrate --headless --sim` where the world renders: the camera step films the world's board
    (wrist0, pinhole with barrel distortion, the calibration script) and the profile's intrinsics are the
    world camera's within 0.5 %."""
    import subprocess

    from calibration.profile import load_profile
    from calibration.worldboard import WorldBoardCamera
    from tests.conftest import DEXUMI

    out = tmp_path / "profile.yaml"
    env = dict(os.environ, DEXUMI_SIM_CAMERA="world")
    r = subprocess.run(
        [*DEXUMI, "calibrate", "--headless", "--sim", "--out", str(out), "--skip", "latency", "--skip", "jointmap"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    cam = load_profile(out).cameras["SIM-CAM-0001"]
    lens = WorldBoardCamera().lens
    k = np.asarray(cam.matrix)
    for got, true in ((k[0, 0], lens.fx), (k[1, 1], lens.fy), (k[0, 2], lens.cx), (k[1, 2], lens.cy)):
        assert abs(got / true - 1) < 0.005, (cam.matrix, lens)
    assert cam.rms_px < 0.5 and cam.views >= 16

"""The visual bridge against the simulated rig's truth: rendered wearer mask vs the rig's segmentation, the
robot overlay vs the rig filming the robot hand in the same pose over the same scene, and the render/export
path on an episode file (raw data never changed), with its one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from dexumi.errors import DexumiError

ROOT = Path(__file__).resolve().parents[1]
LEAP = ROOT.parent / "shared" / "hands" / "leap_hand" / "leap_hand_right.urdf"
TIMES = (1.0, 4.0, 8.0, 12.0, 16.0)


def _gl_ok() -> bool:
    from dexumi.devices.cameras.world import world_available
    from dexumi.sim.world import setup_gl

    setup_gl()  # before anything imports mujoco: MUJOCO_GL is read at import
    return world_available()[0]


pytestmark = pytest.mark.skipif(not _gl_ok(), reason="no offscreen OpenGL (MUJOCO_GL) here")


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def perturbed(T: np.ndarray, mm: float, deg: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    d, ax = rng.normal(size=3), rng.normal(size=3)
    P = T.copy()
    P[:3, :3] = cv2.Rodrigues(ax / np.linalg.norm(ax) * np.radians(deg))[0] @ T[:3, :3]
    P[:3, 3] += d / np.linalg.norm(d) * mm * 1e-3
    return P


@pytest.fixture(scope="module")
def worlds():
    from dexumi.sim.world import World, world_config

    human = World(world_config(240, 240, cameras=2))
    cfg = world_config(240, 240, cameras=2)
    cfg.scene.embodiment = "robot"
    return human, World(cfg)


def _cal(world, cam: str, T: np.ndarray | None = None):
    from dexumi.visual.mount import CameraCalibration, CameraMount, Intrinsics

    spec = world.camera_spec(cam)
    return CameraCalibration(
        cam, Intrinsics.from_spec(spec), CameraMount.from_matrix(spec.T_wrist_cam() if T is None else T)
    )


@pytest.mark.parametrize("cam", ["wrist0", "wrist1"])
def test_mask_iou_true_and_with_mount_error(worlds, cam):
    """Wearer mask (exoskeleton + the hand in it) vs the rig's segmentation: ≥ 0.95 with the true mount (the
    exoskeleton's own parts too), ≥ 0.85 with 2 mm / 1° of mount error in random directions."""
    from dexumi.visual.models import exo_model
    from dexumi.visual.view import HandView

    human, _ = worlds
    r = human.renderer(cam, noise=0)
    names = [j.name for j in human.actuated]
    truth = []
    for t in TIMES:
        human.set_time(t)
        seg = r.segmentation()
        truth.append((human.exo_angles(), (seg == 1), (seg == 1) | (seg == 2) | (seg == 7)))
    r.close()
    spec = human.camera_spec(cam)
    cal = _cal(human, cam)
    view = HandView(exo_model("inspire_exo"), cal.intrinsics, spec.T_wrist_cam())
    for ang, exo_t, wear_t in truth:
        view.set_joints(dict(zip(names, ang)))
        lab = view.labels()
        assert wear_t.mean() > 0.05  # the hand is in view: the test can fail
        assert iou(lab > 0, wear_t) >= 0.95
        assert iou(lab == 1, exo_t) >= 0.95
    for seed in range(3):
        view.set_mount(perturbed(spec.T_wrist_cam(), 2.0, 1.0, seed))
        scores = []
        for ang, _, wear_t in truth:
            view.set_joints(dict(zip(names, ang)))
            scores.append(iou(view.labels() > 0, wear_t))
        assert min(scores) >= 0.85, scores
    # and a gross error is caught by the same measure (the test is not blind)
    view.set_mount(perturbed(spec.T_wrist_cam(), 15.0, 6.0, 0))
    view.set_joints(dict(zip(names, truth[0][0])))
    assert iou(view.labels() > 0, truth[0][2]) < 0.85
    view.close()


@pytest.mark.parametrize("cam", ["wrist0", "wrist1"])
def test_robot_overlay_matches_the_rig_filming_the_robot(worlds, cam):
    """Overlay of the recorded (noisy) image vs the rig rendering the robot hand in the same pose over the same
    scene without the wearer: PSNR ≥ 30 dB inside the hand region, hand region IoU ≥ 0.95."""
    from dexumi.visual.bridge import VisualBridge

    human, robot = worlds
    b = VisualBridge(
        {cam: _cal(human, cam)},
        "inspire_exo",
        "inspire_like",
        [j.name for j in human.actuated],
        list(robot.robot.robot_joint_names),
    )
    rh, rr = human.renderer(cam, noise=2.0, seed=1), robot.renderer(cam, noise=2.0, seed=2)
    for k, t in enumerate(TIMES):
        human.set_time(t)
        robot.set_time(t)
        q = robot.robot_joints()
        raw, truth, seg = rh.bgr(k), rr.bgr(k), rr.segmentation()
        wearer = np.isin(rh.segmentation(), (1, 2, 7))
        out = b.variants(
            cam, raw, human.exo_angles(), [q[n] for n in b.robot_names], ["raw", "exo-masked", "robot-overlay"]
        )
        hand = seg == 9
        assert hand.mean() > 0.05
        err = out["robot-overlay"].astype(np.float64)[hand] - truth.astype(np.float64)[hand]
        psnr = 10 * np.log10(255.0**2 / np.mean(err**2))
        assert psnr >= 30.0, psnr
        _, _, mask = b._views[cam].robot.render()
        assert iou(mask, hand) >= 0.95
        # the raw image there is the human hand: far from the truth (so the PSNR measure discriminates)
        raw_err = raw.astype(np.float64)[hand] - truth.astype(np.float64)[hand]
        assert 10 * np.log10(255.0**2 / np.mean(raw_err**2)) < 25.0
        # exo-masked: where the wearer was and the robot is not, the fill is much nearer the scene behind (the
        # robot world shows it there) than the raw image of the hand and exoskeleton is
        behind = wearer & ~hand
        if behind.sum() > 200:
            d_fill = np.abs(out["exo-masked"].astype(float) - truth.astype(float))[behind].mean()
            d_raw = np.abs(raw.astype(float) - truth.astype(float))[behind].mean()
            assert d_fill < 0.5 * d_raw, (d_fill, d_raw)
    rh.close()
    rr.close()
    b.close()


def _dexumi(*args, cwd=None, timeout=240):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "apps.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or ROOT,
        env=env,
    )


@pytest.fixture(scope="module")
def episode(tmp_path_factory):
    from dexumi.visual.simepisode import write_sim_episode

    d = tmp_path_factory.mktemp("vb")
    return write_sim_episode(d / "episode_0001.h5.partial", 1.0, (240, 240), fps=15, cameras=1)


def test_render_cli_writes_beside_and_export_picks_it(episode, tmp_path):
    import h5py

    from dexumi.episode import derived
    from dexumi.episode.reader import Episode, decode_jpeg
    from dexumi.visual.bridge import VisualBridge, frame_joints

    before = episode.read_bytes()
    r = _dexumi("render", episode, "--json")
    assert r.returncode == 0, r.stderr
    assert episode.read_bytes() == before  # the raw episode is never written
    assert derived.list_derived(episode) == ["visual"] and derived.is_fresh(episode, "visual")
    with derived.open_derived(episode, "visual") as f, Episode.open(episode) as ep:
        raw, exo, q = frame_joints(ep, "wrist0")
        assert len(raw) == len(ep)  # one camera at the main rate: every frame on the timeline
        b = VisualBridge.for_episode(ep)
        for k in (0, len(raw) // 2):
            j = int(raw[k])
            want = b.frame("wrist0", ep.raw_image("wrist0", j), exo[k], q[k], "robot-overlay")
            got = decode_jpeg(f["robot-overlay/wrist0"][j])
            assert np.abs(got.astype(int) - want.astype(int)).mean() < 3  # JPEG q90 of the same frame
            assert np.array_equal(decode_jpeg(f["raw/wrist0"][j]).shape, want.shape)
        b.close()
    from apps.replay.data import load  # replay shows the variants beside the camera

    d = load(episode, markers=False)
    try:
        assert d.cameras == ["wrist0", "wrist0 exo-masked", "wrist0 robot-overlay"]
        assert d.image("wrist0 robot-overlay", 2, reduce=1).shape == (240, 240, 3)
    finally:
        d.ep.close()
    r = _dexumi("export", episode, "--to", "robomimic", "--out", tmp_path / "ds", "--visual", "robot-overlay")
    assert r.returncode == 0, r.stderr
    with (
        h5py.File(tmp_path / "ds" / "dataset.hdf5")
        if (tmp_path / "ds" / "dataset.hdf5").exists()
        else h5py.File(next((tmp_path / "ds").rglob("*.hdf5"))) as f,
        derived.open_derived(episode, "visual") as v,
        Episode.open(episode) as ep,
    ):
        demo = f["data"][sorted(f["data"].keys())[0]]
        img = demo["obs"][sorted(k for k in demo["obs"].keys() if "wrist0" in k)[0]][3]
        j = int(ep.image_indices("wrist0")[3])
        want = cv2.cvtColor(decode_jpeg(v["robot-overlay/wrist0"][j]), cv2.COLOR_BGR2RGB)
        assert np.abs(img.astype(int) - want.astype(int)).mean() < 1.0
        rawimg = cv2.cvtColor(ep.raw_image("wrist0", j), cv2.COLOR_BGR2RGB)
        assert np.abs(img.astype(int) - rawimg.astype(int)).mean() > 3.0  # not the raw image


def test_bad_inputs_are_one_line(tmp_path, episode, capsys):
    from apps.cli.main import main
    from dexumi.visual.simepisode import write_sim_episode

    bare = write_sim_episode(tmp_path / "episode_0002.h5.partial", 0.4, (96, 96), fps=10, mounts=None)
    for args, words in [
        ((bare,), "no calibrated mount"),
        ((episode, "--robot", LEAP, "--force"), "mesh"),
        ((episode, "--robot", tmp_path / "none.urdf", "--force"), "not found"),
        ((episode, "--exo", "xhand_exo", "--force"), "not joints of"),
        ((tmp_path / "missing.h5",), "no such file"),
    ]:
        if "--robot" in args and args[2] == LEAP and not LEAP.exists():
            continue
        capsys.readouterr()
        rc = main(["render", *map(str, args)])
        err = capsys.readouterr().err
        lines = err.strip().splitlines()
        assert rc == 2 and len(lines) == 1 and words in lines[0], (args, err)
    rc = main(["export", str(bare), "--to", "zarr", "--out", str(tmp_path / "z"), "--visual", "exo-masked"])
    err = capsys.readouterr().err
    assert rc == 2 and "dexumi render" in err and len(err.strip().splitlines()) == 1, err


def test_urdf_without_visual_geometry(tmp_path):
    from dexumi.visual.urdf_mjcf import hand_bodies

    p = tmp_path / "bare.urdf"
    p.write_text(
        '<robot name="bare"><link name="base"/><link name="a"/><joint name="j" type="revolute">'
        '<parent link="base"/><child link="a"/><axis xyz="0 0 1"/></joint></robot>'
    )
    with pytest.raises(DexumiError, match="no visual geometry") as e:
        hand_bodies(p, "robot:")
    assert "\n" not in str(e.value)


def test_learned_plugins_behind_the_same_interface(worlds):
    """The plug-in point: a Segmenter/Inpainter object replaces the classical steps (here OpenCV's Telea as a
    stand-in); a real learned model (SAM2/ProPainter class) needs a GPU and is skipped without one."""
    from dexumi.visual.bridge import VisualBridge
    from dexumi.visual.plugins import Inpainter, Segmenter, gpu_available

    class Telea:
        calls = 0

        def inpaint(self, bgr, hole):
            Telea.calls += 1
            return cv2.inpaint(bgr, hole.view(np.uint8), 3, cv2.INPAINT_TELEA)

    class Grow:
        def refine(self, bgr, mask):
            return cv2.dilate(mask.view(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)

    assert isinstance(Telea(), Inpainter) and isinstance(Grow(), Segmenter)
    human, robot = worlds
    b = VisualBridge(
        {"wrist0": _cal(human, "wrist0")},
        "inspire_exo",
        "inspire_like",
        [j.name for j in human.actuated],
        list(robot.robot.robot_joint_names),
        segmenter=Grow(),
        inpainter=Telea(),
    )
    r = human.renderer("wrist0", noise=0)
    human.set_time(4.0)
    out = b.frame("wrist0", r.bgr(0), human.exo_angles(), np.zeros(6), "exo-masked")
    assert Telea.calls == 1 and out.shape == (240, 240, 3)
    r.close()
    b.close()
    ok, why = gpu_available()
    if not ok:
        print(f"learned segmentation/inpainting not run: {why}")
        pytest.skip(f"no GPU for a learned model: {why}")

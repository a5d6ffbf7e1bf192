"""Hand models with real meshes from an installed package (`dexumi.hands.packaged`): the Allegro hand of
example-robot-data by name in the registry, the kinematics, the rig (filmed instead of the wearer, driven by
its retargeting map) and the visual bridge, and the one-line error when the package is missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dexumi.errors import DexumiError

ROOT = Path(__file__).resolve().parents[1]
TIMES = (1.0, 6.0, 12.0)


def _gl_ok() -> bool:
    from dexumi.devices.cameras.world import world_available
    from dexumi.sim.world import setup_gl

    setup_gl()
    return world_available()[0]


def test_allegro_resolves_inside_the_installed_package_with_its_meshes():
    from dexumi.hands import packaged, registry

    path = registry.resolve("allegro_right")
    assert "example-robot-data" in str(path) and path.name == "allegro_right_hand.urdf"
    kin = registry.load("allegro_right")
    assert kin.name == "allegro_right" and kin.nq == 16
    assert {"link_3.0_tip", "link_7.0_tip", "link_11.0_tip", "link_15.0_tip"} <= set(kin.describe()["tips"])
    from dexumi.sim.urdf_mjcf import hand_bodies

    b = hand_bodies(path, "robot:")
    assert len(b.asset_xml) >= 16 and all(".stl" in a.lower() for a in b.asset_xml)
    assert packaged.find("allegro_left") is not None and packaged.find("allegro_left").installed()


def test_a_missing_package_names_what_to_install():
    from dexumi.hands.packaged import PackagedModel

    m = PackagedModel("ghost_hand", "robot", "no-such-distribution-xyz", "x.urdf", "MIT", "", "")
    assert not m.installed()
    with pytest.raises(DexumiError, match="no-such-distribution-xyz package, which is not installed"):
        m.path()


def test_the_allegro_map_keeps_every_joint_inside_its_limits():
    from dexumi.bundled_maps import bundled_map
    from dexumi.hands import registry
    from dexumi.retarget.retargeter import Retargeter

    r = Retargeter.from_map(bundled_map("allegro_right"))
    lim = {j["name"]: (j["lower"], j["upper"]) for j in registry.load("allegro_right").describe()["joints"]}
    exo = registry.load("inspire_exo").describe()["joints"]
    grid = np.stack(np.meshgrid(*[np.linspace(j["lower"], j["upper"], 3) for j in exo], indexing="ij"), -1)
    q = r.retarget(grid.reshape(-1, len(exo)))
    for k, name in enumerate(r.robot_joint_names):
        lo, hi = lim[name]
        assert lo - 1e-9 <= q[:, k].min() and q[:, k].max() <= hi + 1e-9, name
    flex = [r.robot_joint_names.index(n) for n in ("joint_1.0", "joint_5.0", "joint_9.0", "joint_14.0")]
    assert (q[:, flex].max(0) - q[:, flex].min(0) > 1.0).all()  # the fingers really close


@pytest.mark.skipif(not _gl_ok(), reason="no offscreen OpenGL (MUJOCO_GL) here")
@pytest.mark.parametrize("cam", ["wrist0", "wrist1"])
def test_the_rig_films_the_allegro_and_the_bridge_draws_it_alike(cam):
    """The rig with the Allegro meshes instead of the wearer, against the visual bridge drawing the same hand at
    the same joints: hand region IoU ≥ 0.95, PSNR ≥ 30 dB inside it; the fingers move between the times."""
    from dexumi.sim.world import SEG_CLASSES, World, world_config
    from dexumi.visual.bridge import VisualBridge
    from dexumi.visual.mount import CameraCalibration, CameraMount, Intrinsics

    human = World(world_config(240, 240, cameras=2))
    cfg = world_config(240, 240, cameras=2)
    cfg.scene.embodiment, cfg.scene.robot = "robot", "allegro_right"
    robot = World(cfg)
    spec = robot.camera_spec(cam)
    cal = CameraCalibration(cam, Intrinsics.from_spec(spec), CameraMount.from_matrix(spec.T_wrist_cam()))
    b = VisualBridge(
        {cam: cal},
        "inspire_exo",
        "allegro_right",
        [j.name for j in human.actuated],
        list(robot.robot.robot_joint_names),
    )
    rh, rr = human.renderer(cam, noise=0), robot.renderer(cam, noise=0)
    masks = []
    for k, t in enumerate(TIMES):
        human.set_time(t)
        robot.set_time(t)
        q = robot.robot_joints()
        truth, seg = rr.bgr(k), rr.segmentation()
        hand = seg == SEG_CLASSES["robot"]
        assert hand.mean() > 0.05
        out = b.variants(cam, rh.bgr(k), human.exo_angles(), [q[n] for n in b.robot_names], ["robot-overlay"])
        _, _, mask = b._views[cam].robot.render()
        inter, union = (mask & hand).sum(), (mask | hand).sum()
        assert inter / union >= 0.95
        err = out["robot-overlay"].astype(np.float64)[hand] - truth.astype(np.float64)[hand]
        assert 10 * np.log10(255.0**2 / np.mean(err**2)) >= 30.0
        masks.append(hand)
    assert (masks[0] ^ masks[1]).mean() > 0.01  # the retargeted fingers moved
    rh.close()
    rr.close()
    b.close()


def _dexumi(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "apps.cli.main", *map(str, args)], capture_output=True, text=True, timeout=240, env=env
    )


def test_hands_cli_lists_the_packaged_model_with_its_licence():
    res = _dexumi("hands", "allegro_right", "--json")
    assert res.returncode == 0, res.stderr
    (d,) = json.loads(res.stdout)["models"]
    assert d["kind"] == "robot" and d["nq"] == 16
    assert d["package"] == {"distribution": "example-robot-data", "licence": "BSD-3-Clause"}
    names = [m["name"] for m in json.loads(_dexumi("hands", "--json").stdout)["models"]]
    assert "allegro_right" in names and "inspire_like" in names


@pytest.mark.skipif(not _gl_ok(), reason="no offscreen OpenGL (MUJOCO_GL) here")
def test_sim_world_preview_of_the_allegro_and_a_bad_name(tmp_path):
    res = _dexumi(
        "sim-world", "--preview", tmp_path / "pv", "--seconds", "0.5", "--size", "160x120", "--robot", "allegro_right"
    )
    assert res.returncode == 0, res.stderr
    truth = np.load(tmp_path / "pv" / "truth.npz")
    assert len(truth.files) and (tmp_path / "pv" / "preview.mp4").stat().st_size > 1000
    bad = _dexumi("sim-world", "--preview", tmp_path / "bad", "--seconds", "0.5", "--robot", "nosuch_hand")
    assert bad.returncode != 0 and "no bundled hand model 'nosuch_hand'" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "bad").exists()


def test_an_exoskeletons_map_is_its_paired_hands_whatever_sorts_first():
    """allegro.yaml also starts from inspire_exo and sorts before inspire.yaml: calibration must still take the
    channel order and base map of inspire_exo's own pair."""
    from calibration.poses import bundled_map

    assert bundled_map("inspire_exo").name == "inspire.yaml"
    assert bundled_map("xhand_exo").name == "xhand.yaml"
    assert bundled_map("no_such_exo") is None


def test_recording_for_the_allegro_stores_its_joints_retargeted_from_the_exoskeleton(tmp_path):
    from apps.recorder.setup_panel import hand_choices
    from dexumi.bundled_maps import bundled_map
    from dexumi.episode.reader import Episode
    from dexumi.retarget.retargeter import Retargeter

    assert "allegro_right" in hand_choices()
    res = _dexumi("record", "--headless", "--sim", "--hand", "allegro_right", "--out", tmp_path, "--duration", "1.5")
    assert res.returncode == 0, res.stderr
    with Episode.open(tmp_path / "episode_0001.h5") as ep:
        assert ep.attrs["robot_hand"] == "allegro_right" and ep.qpos.shape[1] == 16
        r = Retargeter.from_map(bundled_map("allegro_right"))
        assert ep.action_names == list(r.robot_joint_names)
        np.testing.assert_allclose(ep.qpos, r.retarget(ep.exo_joints), atol=1e-6)
        assert np.ptp(ep.qpos[:, ep.action_names.index("joint_1.0")]) > 0.1  # the index finger moved

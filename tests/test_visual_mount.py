"""Camera ↔ exoskeleton extrinsics: the profile's `camera_mounts` section, and the calibration recovering the
simulated rig's true mount from a CAD prior that is a few millimetres and degrees off."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from calibration.profile import ProfileError, load_profile, profile_from_dict
from dexumi.visual.mount import CameraMount, pose_error


def _doc(mounts=None):
    doc = {
        "format": "dexumi-profile",
        "version": 1,
        "id": "p1",
        "encoder": {"channels": [{"name": "a", "zero_rad": 0.0, "sign": 1, "scale_rad_per_count": 1e-4}]},
    }
    if mounts is not None:
        doc["camera_mounts"] = mounts
    return doc


def test_profile_section_round_trip(tmp_path):
    T = np.eye(4)
    T[:3, :3] = cv2.Rodrigues(np.array([[0.1], [-0.2], [0.3]]))[0]
    T[:3, 3] = (-0.1, 0.012, -0.06)
    prof = profile_from_dict(_doc())
    assert prof.camera_mounts == {} and "camera_mounts" not in prof.to_dict()  # optional: absent stays absent
    prof.camera_mounts["wrist0"] = CameraMount.from_matrix(T, method="caps", residual_px=0.8, frames=12, points=120)
    p = tmp_path / "p.yaml"
    p.write_text(prof.to_yaml())
    back = load_profile(p).camera_mounts["wrist0"]
    assert max(pose_error(back.matrix(), T)) < 1e-9 and back.residual_px == 0.8 and back.method == "caps"
    assert load_profile(p).to_dict()["camera_mounts"]["version"] == 1


@pytest.mark.parametrize(
    "section, words",
    [
        ({"version": 9, "wrist0": {}}, "newer"),
        ({"wrist0": {"xyz_m": [0, 0]}}, "camera_mounts.wrist0.rotvec_rad"),
        ({"wrist0": {"xyz_m": [0, 0, "x"], "rotvec_rad": [0, 0, 0]}}, "camera_mounts.wrist0.xyz_m"),
        ({"wrist0": {"xyz_m": [0, 0, 0], "rotvec_rad": [0, 0, 0], "residual_px": -1}}, "residual_px"),
    ],
)
def test_bad_section_is_one_line(tmp_path, section, words):
    import yaml

    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(_doc(section)))
    with pytest.raises(ProfileError, match=words) as e:
        load_profile(p)
    assert "\n" not in str(e.value)


@pytest.mark.slow
def test_calibration_recovers_the_true_mount():
    """From a prior 5 mm / 3° off, the mount found from the exoskeleton's caps in 12 world frames is within
    2 mm / 1° of the rig's true mount (pinhole camera with distortion, 640×480)."""
    from dexumi.sim.world import World, setup_gl, world_config

    setup_gl()
    from calibration.mount import calibrate_mount
    from dexumi.visual.mount import Intrinsics

    w = World(world_config(640, 480, cameras=1))
    spec = w.camera_spec("wrist0")
    T = spec.T_wrist_cam()
    r = w.renderer("wrist0", noise=2.0)
    imgs, joints = [], []
    for k, t in enumerate(np.linspace(0.5, 20.0, 12)):
        w.set_time(float(t))
        imgs.append(r.bgr(k))
        joints.append(w.exo_angles())
    r.close()
    prior = T.copy()
    prior[:3, :3] = cv2.Rodrigues(np.radians(3.0) * np.array([[0.6], [0.0], [0.8]]))[0] @ T[:3, :3]
    prior[:3, 3] += 0.005 * np.array([0.0, 0.6, -0.8])
    assert pose_error(prior, T)[0] > 4.9
    res = calibrate_mount(imgs, np.array(joints), [j.name for j in w.actuated], Intrinsics.from_spec(spec), prior)
    mm, deg = pose_error(res.T_wrist_cam, T)
    assert mm < 2.0 and deg < 1.0, (mm, deg, res)
    assert res.residual_px < 1.5 and res.points >= 40

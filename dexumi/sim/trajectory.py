"""Scripted 6-DoF wrist trajectories: keyframes joined by smoothstep moves (position) and slerp (rotation).

Scripts (`make_trajectory(name, scene)`):
- `pick` (default): home → reach over the cube → down (grasp) → lift → carry → down (place) → release → up →
  home, then the same back from the place spot (so the cube ends where it started and the script loops).
  `Trajectory.object_pose(t, name, initial)` carries a grasped object rigidly with the wrist.
- `calibration`: the wrist camera looks at the ChArUco board from a hemisphere of viewpoints, holding each
  view (the camera-calibration motion of the wizard), then returns home.
- `still`: the home pose for ever.
Every script loops; poses are 4×4 matrices of the wrist frame in the world.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from dexumi.sim.scene import TABLE_TOP, SceneConfig, look_rotation


@dataclass(frozen=True)
class Key:
    """A pose held from the previous key's arrival: reach it in `move_s`, then hold it for `hold_s`."""

    pos: tuple[float, float, float]
    rot: Rotation
    move_s: float
    hold_s: float = 0.0
    grasp: str | None = None  # the object held from this key's arrival on


def _smooth(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * u * (u * (6 * u - 15) + 10)  # smootherstep: zero velocity and acceleration at the ends


def palm_down(yaw_deg: float = 0.0, pitch_deg: float = 25.0) -> Rotation:
    """Wrist orientation with the palm facing the table, fingers pointing along +y (turned by yaw) and
    tilted down by pitch."""
    p, y = np.radians(pitch_deg), np.radians(yaw_deg)
    fingers = np.array([-np.sin(y) * np.cos(p), np.cos(y) * np.cos(p), -np.sin(p)])
    normal = np.array([0.0, 0.0, -1.0])
    normal = normal - fingers * (normal @ fingers)
    normal /= np.linalg.norm(normal)
    R = np.stack([normal, np.cross(fingers, normal), fingers], axis=1)  # columns: x palm normal, y, z fingers
    return Rotation.from_matrix(R)


def _exp_so3(rv: np.ndarray) -> np.ndarray:
    """Rotation matrix of a rotation vector (Rodrigues)."""
    angle = float(np.linalg.norm(rv))
    if angle < 1e-12:
        return np.eye(3)
    k = rv / angle
    K = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + math.sin(angle) * K + (1.0 - math.cos(angle)) * (K @ K)


@dataclass
class Trajectory:
    """Piecewise keyframe motion of the wrist; `pose(t)` (4×4), `poses(t)` (n, 4, 4), `grasped(t)`."""

    name: str
    keys: list[Key]
    _t: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        ends = []
        t = 0.0
        for k in self.keys:
            t += k.move_s
            ends.append((t, t + k.hold_s))
            t += k.hold_s
        self.arrive = np.array([a for a, _ in ends])
        self.leave = np.array([b for _, b in ends])
        self.period = float(t)
        # slerp from key i-1 to key i as R_{i-1} · exp(s · log(R_{i-1}ᵀ R_i)), precomputed (scipy's Slerp
        # object per call cost ~1 ms a frame)
        self._slerp = []
        for i, b in enumerate(self.keys):
            a = self.keys[i - 1]
            self._slerp.append((a.rot.as_matrix(), (a.rot.inv() * b.rot).as_rotvec()))
        self._arrive_T = [self.pose(a) for a in self.arrive]  # object_pose asks for these every frame

    def _segment(self, t: float) -> tuple[int, float]:
        """(key index i, progress 0..1 of the move from key i-1 to key i; 1 while holding key i)."""
        tm = t % self.period
        i = int(np.searchsorted(self.leave, tm, side="right"))
        i = min(i, len(self.keys) - 1)
        start = self.leave[i - 1] if i > 0 else 0.0
        move = self.keys[i].move_s
        u = 1.0 if move <= 0 else float(np.clip((tm - start) / move, 0.0, 1.0))
        return i, u

    def pose(self, t: float) -> np.ndarray:
        i, u = self._segment(float(t))
        a, b = self.keys[i - 1], self.keys[i]  # key -1 is the last: the loop closes on itself
        s = float(np.clip(_smooth(np.array(u)), 0.0, 1.0))
        T = np.eye(4)
        T[:3, 3] = (1 - s) * np.asarray(a.pos) + s * np.asarray(b.pos)
        Ra, rv = self._slerp[i]
        T[:3, :3] = Ra @ _exp_so3(s * rv)
        return T

    def poses(self, t: np.ndarray) -> np.ndarray:
        return np.stack([self.pose(float(x)) for x in np.atleast_1d(t)])

    def object_pose(self, t: float, name: str, initial: np.ndarray) -> tuple[np.ndarray, bool]:
        """(4×4 pose of object `name` at t, whether the hand holds it). A held object keeps its pose relative
        to the wrist from the grasp key's arrival until a key without that grasp; a script starts and ends
        holding nothing, so the object is back at `initial` every loop."""
        tm = float(t) % self.period
        T_obj = np.asarray(initial, float)
        T_rel = None
        for i, k in enumerate(self.keys):
            if self.arrive[i] > tm:
                break
            if k.grasp == name and T_rel is None:
                T_rel = np.linalg.inv(self._arrive_T[i]) @ T_obj
            elif k.grasp != name and T_rel is not None:
                T_obj = self._arrive_T[i] @ T_rel
                T_rel = None
        if T_rel is not None:
            return self.pose(tm) @ T_rel, True
        return T_obj, False


def _pick(scene: SceneConfig) -> Trajectory:
    cube = next((o for o in scene.objects if o.name == "cube"), scene.objects[0])
    rot = palm_down(0, 0)  # palm parallel to the table top while grasping
    R = rot.as_matrix()
    # where the wrist must be for the object's centre to sit under the fingers, just below the palm
    offset = R @ np.array([0.013 + cube.half_height + 0.004, 0.0, 0.135])

    def at(xy: tuple[float, float], lift: float = 0.0) -> tuple[float, float, float]:
        c = np.array([xy[0], xy[1], TABLE_TOP + cube.half_height + lift])
        return tuple(c - offset)

    a, b = cube.xy, (cube.xy[0] - 0.12, cube.xy[1] - 0.12)
    home = (0.0, -0.42, TABLE_TOP + 0.30)
    keys = []
    for src, dst in ((a, b), (b, a)):
        keys += [
            Key(home, palm_down(0, 15), 1.5, 0.5),
            Key(at(src, 0.10), rot, 1.5, 0.3),
            Key(at(src), rot, 1.0, 0.6, grasp=cube.name),
            Key(at(src, 0.12), rot, 1.0, 0.2, grasp=cube.name),
            Key(at(dst, 0.12), rot, 1.5, 0.2, grasp=cube.name),
            Key(at(dst), rot, 1.0, 0.3, grasp=cube.name),
            Key(at(dst), rot, 0.0, 0.5),
            Key(at(dst, 0.10), rot, 0.8, 0.2),
        ]
    return Trajectory("pick", keys)


def wrist_pose_for_camera(
    scene: SceneConfig,
    cam_pos: np.ndarray,
    target: np.ndarray,
    roll_deg: float = 0.0,
    camera: int = 0,
    up_deg: float = 0.0,
    side_deg: float = 0.0,
) -> tuple[tuple[float, float, float], Rotation]:
    """The wrist pose that puts camera `camera` at `cam_pos` with `target` in view: on the optical axis, or
    `up_deg` above it and `side_deg` to the right of it in the image; the view rolled by roll_deg."""
    cam = scene.cameras[camera]
    R_cam = look_rotation(np.asarray(target) - cam_pos, up=np.array([0.0, 0.0, 1.0]))
    R_cam = R_cam @ Rotation.from_euler("z", roll_deg, degrees=True).as_matrix()
    R_cam = R_cam @ Rotation.from_euler("xy", [-up_deg, -side_deg], degrees=True).as_matrix()
    T_wc = cam.T_wrist_cam()
    R_w = R_cam @ T_wc[:3, :3].T
    p_w = cam_pos - R_w @ T_wc[:3, 3]
    return tuple(p_w), Rotation.from_matrix(R_w)


def _calibration(scene: SceneConfig) -> Trajectory:
    bx, by = scene.board.centre
    target = np.array([bx, by, TABLE_TOP])
    keys = []
    # (tilt about x, about y, distance, roll, side): the hand fills the lower half of a wrist camera's view,
    # so the board is held in the upper half, left to right
    views = [
        (0, 0.0, 0.30, 0, 0),
        (25, 0.0, 0.30, 10, 12),
        (-25, 0.0, 0.30, -10, -12),
        (0, 25, 0.30, 0, 18),
        (0, -25, 0.30, 15, -18),
        (20, 20, 0.26, -15, 8),
        (-20, -20, 0.26, 20, -8),
        (20, -20, 0.34, 5, 22),
        (-20, 20, 0.34, -5, -22),
        (0, 35, 0.36, 0, 5),
        (35, 0, 0.36, 25, -5),
        (-35, 0, 0.36, -25, 15),
    ]
    for k, (ax, ay, dist, roll, side) in enumerate(views):
        # tilted views; the aim moves about the board so its corners reach every part of the image
        d = np.array([np.sin(np.radians(ax)), -np.cos(np.radians(ay)) * 0.35 + np.sin(np.radians(ay)), 1.0])
        d /= np.linalg.norm(d)
        aim = target + np.array([0.03 * np.sin(1.7 * k), 0.025 * np.cos(2.3 * k), 0.0])
        pos, rot = wrist_pose_for_camera(scene, aim + dist * d, aim, roll, up_deg=15.0 + 4.0 * np.sin(k), side_deg=side)
        keys.append(Key(pos, rot, 1.0, 0.6))
    return Trajectory("calibration", keys)


def _shake(scene: SceneConfig) -> Trajectory:
    """The latency-calibration motion: the wrist turns briskly and irregularly (±15° about every axis, a few
    cm, 0.25-0.6 s a move, no holds) over the table, as a collector shakes a camera against its tracker;
    a rotation's image motion does not depend on the scene's depth, so camera and pose agree sharply in time."""
    rng = np.random.default_rng(20261204)  # fixed: the script is part of the world, not of its seed
    home = np.array([0.0, -0.40, TABLE_TOP + 0.28])
    base = palm_down(0, 20)
    keys = []
    for _ in range(36):
        turn = Rotation.from_rotvec(np.radians(rng.uniform(-15.0, 15.0, 3)))
        pos = home + rng.uniform(-0.02, 0.02, 3)
        keys.append(Key(tuple(pos), turn * base, float(rng.uniform(0.25, 0.6)), 0.0))
    return Trajectory("shake", keys)


def _still(scene: SceneConfig) -> Trajectory:
    home = (0.0, -0.42, TABLE_TOP + 0.30)
    return Trajectory("still", [Key(home, palm_down(0, 15), 0.0, 1.0)])


SCRIPTS = {"pick": _pick, "calibration": _calibration, "shake": _shake, "still": _still}


def make_trajectory(name: str, scene: SceneConfig) -> Trajectory:
    if name not in SCRIPTS:
        raise ValueError(f"unknown wrist script {name!r} (one of {', '.join(SCRIPTS)})")
    return SCRIPTS[name](scene)


__all__ = ["SCRIPTS", "Key", "Trajectory", "make_trajectory", "palm_down", "wrist_pose_for_camera"]

"""The simulated rig: one MuJoCo world that is the ground truth of every sensor.

`World(WorldConfig(...))` compiles the scene (`dexumi.sim.scene`), follows a wrist script
(`dexumi.sim.trajectory`) and drives the exoskeleton's fingers with the encoder emulator's own motion model
(`firmware_bridge.emulator.motion.make_motion(motion, channels, seed)`), so at host time t the world shows
exactly the angles the emulator sends for `t - epoch` (the shared motion epoch).

Truth API (what the wrist-pose and tactile issues read; all times are seconds since the epoch):
- `world.set_time(t)` puts the world in its state at t; then
- `world.wrist_pose()` 4×4 wrist frame in the world; `world.camera_pose(name)` 4×4 camera in the world
  (OpenCV axes); `world.camera_spec(name)` intrinsics (`.K()`, `.dist()`, `.lens`);
- `world.exo_angles()` the actuated exoskeleton joints (= the encoder channels, radians);
- `world.contact_forces()` (5,) total normal force (N) on each finger (thumb, index, middle, ring, pinky)
  from touching objects, `world.tip_forces()` (5,) on the fingertip spheres only; zero in free air;
- `world.object_poses()` {name: 4×4};
- `world.truth(times)` all of it at many times as a `WorldTruth` (saved/loaded as .npz, no pickle).
Rendering: `world.renderer(camera)` → `CameraRenderer` (RGB, depth, per-part segmentation, lens, noise).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dexumi.errors import DexumiError
from dexumi.sim.scene import SceneConfig, build_mjcf, default_cameras
from dexumi.sim.trajectory import make_trajectory

if TYPE_CHECKING:
    from dexumi.retarget import Retargeter

log = logging.getLogger(__name__)

FINGER_NAMES = ("thumb", "index", "middle", "ring", "pinky")
#: segmentation part ids (the label image's values); geom name prefixes map onto them
SEG_CLASSES = {
    "background": 0,
    "exo": 1,
    "hand": 2,
    "object": 3,
    "board": 4,
    "marker": 5,
    "table": 6,
    "forearm": 7,
    "floor": 8,
    "robot": 9,
}
_PREFIX = {
    "exo": "exo",
    "hand": "hand",
    "tip": "hand",
    "object": "object",
    "board": "board",
    "marker": "marker",
    "table": "table",
    "floor": "floor",
    "forearm": "forearm",
    "robot": "robot",
}


def setup_gl() -> None:
    """Offscreen rendering on the CPU: EGL on Mesa unless the user chose a backend (MUJOCO_GL)."""
    os.environ.setdefault("MUJOCO_GL", "egl")
    if os.environ["MUJOCO_GL"] == "egl":
        os.environ.setdefault("PYOPENGL_PLATFORM", "egl")


@dataclass
class WorldConfig:
    """The scene plus what moves it: wrist script, finger motion model, channels, seed."""

    scene: SceneConfig = field(default_factory=SceneConfig)
    script: str = "pick"
    motion: str = "grasp"
    channels: int | None = None  # encoder channels (default: the exoskeleton's actuated joints)
    seed: int = 0
    robot_map: str | None = None  # scene.embodiment == "robot": retargeting map (default: the robot's bundled one)


@dataclass
class WorldTruth:
    """Truth streams at `time` (n,): wrist (n, 4, 4), cameras {name: (n, 4, 4)}, exo angles (n, channels),
    contact forces (n, 5), tip forces (n, 5), objects {name: (n, 4, 4)}."""

    time: np.ndarray
    wrist: np.ndarray
    cameras: dict[str, np.ndarray]
    exo_angles: np.ndarray
    contact_forces: np.ndarray
    tip_forces: np.ndarray
    objects: dict[str, np.ndarray]

    def save(self, path) -> None:
        arrays: dict[str, Any] = {
            "time": self.time,
            "wrist": self.wrist,
            "exo_angles": self.exo_angles,
            "contact_forces": self.contact_forces,
            "tip_forces": self.tip_forces,
        }
        arrays.update({f"camera/{k}": v for k, v in self.cameras.items()})
        arrays.update({f"object/{k}": v for k, v in self.objects.items()})
        with open(path, "wb") as f:
            np.savez(f, **arrays)

    @classmethod
    def load(cls, path) -> WorldTruth:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        cams = {k.split("/", 1)[1]: v for k, v in d.items() if k.startswith("camera/")}
        objs = {k.split("/", 1)[1]: v for k, v in d.items() if k.startswith("object/")}
        return cls(d["time"], d["wrist"], cams, d["exo_angles"], d["contact_forces"], d["tip_forces"], objs)


def _mat(pos: np.ndarray, xmat: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = np.asarray(xmat).reshape(3, 3)
    T[:3, 3] = pos
    return T


class World:
    """The MuJoCo model + data of the rig, put into its state at a time by `set_time`."""

    def __init__(self, config: WorldConfig | None = None) -> None:
        setup_gl()
        import mujoco

        from dexumi.hands import author
        from firmware_bridge.emulator.motion import make_motion

        self.mj = mujoco
        self.config = config or WorldConfig()
        sc = self.config.scene
        xml, assets = build_mjcf(sc)
        self.xml = xml
        self.model = mujoco.MjModel.from_xml_string(xml, assets)
        self.data = mujoco.MjData(self.model)
        self.trajectory = make_trajectory(self.config.script, sc)
        self.spec = author.bundled_specs()[sc.hand]
        self.actuated = [j for f in self.spec.fingers for j in f.joints if j.mimic is None]
        self.channels = self.config.channels or len(self.actuated)
        self.motion = make_motion(self.config.motion, self.channels, self.config.seed)
        m = self.model
        self._qadr = {m.joint(i).name: int(m.jnt_qposadr[i]) for i in range(m.njnt)}
        self._range = {m.joint(i).name: tuple(m.jnt_range[i]) for i in range(m.njnt)}
        self._joints = [j for f in self.spec.fingers for j in f.joints]
        self._wrist_mocap = int(m.body_mocapid[m.body("wrist").id])
        self._objects = {o.name: o for o in sc.objects}
        self._obj_mocap = {o.name: int(m.body_mocapid[m.body(o.name).id]) for o in sc.objects}
        self._obj_initial = {}
        for name in self._obj_mocap:
            self._obj_initial[name] = _mat(m.body_pos[m.body(name).id], np.eye(3))
        # geom id -> segmentation class, and -> finger index (-1: not a finger)
        self.geom_class = np.zeros(m.ngeom + 1, np.uint8)
        self.geom_finger = np.full(m.ngeom, -1, np.int64)
        self.geom_tip = np.full(m.ngeom, -1, np.int64)
        finger_of_body = {}
        self.robot: Retargeter | None = (
            None  # embodiment "robot": the retargeter that poses the robot hand from the exo angles
        )
        if sc.embodiment == "robot":
            self._init_robot()
        for fi, f in enumerate(self.spec.fingers if self.robot is None else ()):
            for j in f.joints:
                finger_of_body[m.body(f"{j.name}_link").id] = fi
        for g in range(m.ngeom):
            name = m.geom(g).name
            prefix = name.split(":", 1)[0]
            self.geom_class[g] = SEG_CLASSES[_PREFIX.get(prefix, "background")]
            b = int(m.geom_bodyid[g])
            if b in finger_of_body and prefix in ("hand", "tip"):
                self.geom_finger[g] = finger_of_body[b]
            if prefix == "tip":
                self.geom_tip[g] = (
                    FINGER_NAMES.index(name.split(":", 1)[1])
                    if name.split(":", 1)[1] in FINGER_NAMES
                    else finger_of_body.get(b, -1)
                )
        self._cams = {c.name: c for c in sc.cameras}
        self.time = 0.0
        self._angles = np.zeros(self.channels)
        self.set_time(0.0)

    def _init_robot(self) -> None:
        from dexumi.hands import registry
        from dexumi.retarget import Retargeter
        from dexumi.bundled_maps import choose_map
        from dexumi.sim.urdf_mjcf import hand_bodies

        sc = self.config.scene
        given = Path(self.config.robot_map) if self.config.robot_map is not None else None
        map_path = choose_map(given, sc.robot, self.channels)
        if map_path is None:
            raise DexumiError(f"no retargeting map for robot hand '{sc.robot}': give the world's robot_map")
        self.robot = Retargeter.from_map(map_path)
        self._robot_bodies = hand_bodies(registry.resolve(sc.robot), "robot:")
        self._robot_q: dict[str, float] = {}

    def robot_joints(self) -> dict[str, float]:
        """Embodiment "robot": the robot hand's actuated joints (the retargeted exo angles) now."""
        return dict(self._robot_q)

    # ---------------------------------------------------------------------------------------- state
    def angles_at(self, t: np.ndarray) -> np.ndarray:
        """The encoder channels' angles (n, channels) at times since the epoch (the emulator's motion)."""
        return self.motion.angles(np.atleast_1d(np.asarray(t, np.float64)))

    def set_state(self, wrist: np.ndarray, channels: np.ndarray, objects: dict[str, np.ndarray] | None = None) -> None:
        """Put the wrist at a 4×4 pose and the exoskeleton at encoder angles (channels); objects optional."""
        mj, m, d = self.mj, self.model, self.data
        ch = np.asarray(channels, np.float64)
        self._angles = ch.copy()
        act = {j.name: (float(ch[i]) if i < len(ch) else 0.0) for i, j in enumerate(self.actuated)}
        if self.robot is not None:
            q = self.robot.retarget(np.asarray([[act.get(c, 0.0) for c in self.robot.channels]]))[0]
            self._robot_q = dict(zip(self.robot.robot_joint_names, (float(v) for v in q)))
            for name, v in self._robot_bodies.full_q(self._robot_q).items():
                d.qpos[self._qadr[f"robot:{name}"]] = v
        for j in self._joints if self.robot is None else ():
            v = act[j.mimic.joint] * j.mimic.multiplier + j.mimic.offset if j.mimic is not None else act[j.name]
            lo, hi = self._range[j.name]
            d.qpos[self._qadr[j.name]] = min(max(v, lo), hi)
        d.mocap_pos[self._wrist_mocap] = wrist[:3, 3]
        q = np.empty(4)
        mj.mju_mat2Quat(q, np.ascontiguousarray(wrist[:3, :3]).ravel())
        d.mocap_quat[self._wrist_mocap] = q
        for name, T in (objects or {}).items():
            k = self._obj_mocap[name]
            d.mocap_pos[k] = T[:3, 3]
            mj.mju_mat2Quat(q, np.ascontiguousarray(T[:3, :3]).ravel())
            d.mocap_quat[k] = q
        d.qvel[:] = 0
        mj.mj_forward(m, d)

    def set_time(self, t: float) -> None:
        """The world's state at t seconds since the motion epoch."""
        self.time = float(t)
        wrist = self.trajectory.pose(t)
        objs = {n: self.trajectory.object_pose(t, n, T0)[0] for n, T0 in self._obj_initial.items()}
        self.set_state(wrist, self.angles_at(np.array([t]))[0], objs)

    # ---------------------------------------------------------------------------------------- truth
    def wrist_pose(self) -> np.ndarray:
        b = self.model.body("wrist").id
        return _mat(self.data.xpos[b], self.data.xmat[b])

    def camera_spec(self, name: str):
        return self._cams[name]

    @property
    def camera_names(self) -> list[str]:
        return list(self._cams)

    def camera_pose(self, name: str) -> np.ndarray:
        """4×4 pose of camera `name` in the world, OpenCV axes (x right, y down, z forward)."""
        c = self.model.camera(name).id
        T = _mat(self.data.cam_xpos[c], self.data.cam_xmat[c])
        T[:3, :3] = T[:3, :3] @ np.diag([1.0, -1.0, -1.0])
        return T

    def exo_angles(self) -> np.ndarray:
        return self._angles.copy()

    def object_poses(self) -> dict[str, np.ndarray]:
        return {
            n: _mat(self.data.xpos[self.model.body(n).id], self.data.xmat[self.model.body(n).id]) for n in self._objects
        }

    def _forces(self, per_geom: np.ndarray) -> np.ndarray:
        out = np.zeros(len(FINGER_NAMES))
        f6 = np.zeros(6)
        d = self.data
        for i in range(d.ncon):
            c = d.contact[i]
            for g in (c.geom1, c.geom2):
                k = per_geom[g]
                if k >= 0:
                    self.mj.mj_contactForce(self.model, d, i, f6)
                    out[k] += abs(f6[0])
        return out

    def contact_forces(self) -> np.ndarray:
        """(5,) normal contact force (N) on each finger's links and tip from objects it touches."""
        return self._forces(self.geom_finger)

    def tip_forces(self) -> np.ndarray:
        """(5,) normal contact force (N) on each fingertip sphere (where a tactile pad sits)."""
        return self._forces(self.geom_tip)

    def truth(self, times: np.ndarray) -> WorldTruth:
        times = np.asarray(times, np.float64)
        n = len(times)
        wrist = np.empty((n, 4, 4))
        cams = {c: np.empty((n, 4, 4)) for c in self._cams}
        objs = {o: np.empty((n, 4, 4)) for o in self._objects}
        ang = np.empty((n, self.channels))
        cf, tf = np.empty((n, 5)), np.empty((n, 5))
        for i, t in enumerate(times):
            self.set_time(float(t))
            wrist[i] = self.wrist_pose()
            for c in cams:
                cams[c][i] = self.camera_pose(c)
            for o, T in self.object_poses().items():
                objs[o][i] = T
            ang[i] = self._angles
            cf[i], tf[i] = self.contact_forces(), self.tip_forces()
        return WorldTruth(times, wrist, cams, ang, cf, tf, objs)

    # ------------------------------------------------------------------------------------ rendering
    def renderer(self, camera: str, **kwargs):
        from dexumi.sim.render import CameraRenderer

        return CameraRenderer(self, camera, **kwargs)


def world_config(width: int = 640, height: int = 480, cameras: int = 2, **kwargs) -> WorldConfig:
    """A WorldConfig with `cameras` default wrist cameras of the given size."""
    return WorldConfig(scene=SceneConfig(cameras=default_cameras(width, height, cameras)), **kwargs)

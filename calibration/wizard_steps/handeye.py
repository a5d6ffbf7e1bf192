"""The hand-eye step of the wizard and `calibrate --headless --handeye` (GUI-free logic; docs/pose.md).

The user moves the wrist so the wrist camera sees the board from many viewpoints (tilted, rolled, near and
far) while the pose tracker tracks. Board poses come from the camera's frames (`dexumi.tracking`), tracker
poses from the pose source; `calibration.handeye.calibrate_hand_eye` gives the camera in the tracker frame,
the pose stream's latency and the residuals, stored in the profile's `handeye` section.

`--sim`: the simulated rig's `calibration` wrist script (12 board views, 19.2 s) is rendered at 640×480,
10 fps (offline: slower than real time on two cores), and the tracker is `pose:sim` on the same script with
`sim_pose_latency_s` of latency; the truth (the camera mount `CameraSpec.T_wrist_cam`, the latency) is known.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import numpy as np

from calibration.handeye import HandEyeResult, calibrate_hand_eye, tracker_to_base
from calibration.profile import HandEye
from calibration.wizard_steps.base import Feedback
from dexumi.errors import DexumiError

log = logging.getLogger(__name__)

SIM_FPS = 10.0


def sim_views(
    latency_s: float, fps: float = SIM_FPS, camera: str = "wrist0", size: tuple[int, int] = (640, 480), progress=None
) -> dict[str, Any]:
    """Render the calibration script and track the board; the simulated tracker's stream beside it."""
    import cv2

    from dexumi.devices.pose.board import BoardTracker
    from dexumi.devices.pose.sim import FastTrajectory
    from dexumi.sim.world import World, world_config
    from dexumi.tracking.pnp import Intrinsics
    from dexumi.tracking.target import Target

    world = World(world_config(size[0], size[1], cameras=1 if camera == "wrist0" else 2, script="calibration"))
    spec = world.camera_spec(camera)
    renderer = world.renderer(camera)
    tracker = BoardTracker(Intrinsics.from_camera_spec(spec), Target.from_scene(world.config.scene))
    period = world.trajectory.period
    times = np.arange(0.0, period, 1.0 / fps)
    ft, B = [], []
    try:
        for k, t in enumerate(times):
            world.set_time(float(t))
            img = cv2.imdecode(np.frombuffer(renderer.jpeg(k), np.uint8), cv2.IMREAD_GRAYSCALE)
            assert img is not None, "the renderer's JPEG decodes"
            res = tracker.track(img)
            if res.T_target_cam is not None and res.state == 0:
                ft.append(t)
                B.append(res.T_target_cam)
            if progress is not None:
                progress((k + 1) / len(times))
    finally:
        renderer.close()
    tt = np.arange(-0.5, period + 0.5, 1 / 200.0)
    pos, quat = FastTrajectory(world.trajectory)(tt - latency_s)  # what pose:sim reports at tt
    from scipy.spatial.transform import Rotation

    A = np.tile(np.eye(4), (len(tt), 1, 1))
    A[:, :3, :3] = Rotation.from_quat(quat).as_matrix()
    A[:, :3, 3] = pos
    return {
        "frame_times": np.asarray(ft),
        "T_board_cam": np.asarray(B).reshape(-1, 4, 4),
        "track_times": tt,
        "T_world_tracker": A,
        "T_base_cam": spec.T_wrist_cam(),
        "frames": len(times),
    }


def live_views(camera_spec: str, pose_spec: str, lens, duration_s: float) -> dict[str, Any]:
    """Collect board poses from a live camera and the pose source's samples for `duration_s`."""
    from dexumi.devices.cameras.spec import open_camera
    from dexumi.devices.pose import make_pose, samples_to_arrays
    from dexumi.devices.pose.board import BoardTracker, decode
    from dexumi.pose import pose_times

    src = make_pose(pose_spec).open()
    cam = open_camera(camera_spec)
    samples, stop = [], threading.Event()

    def read_pose() -> None:
        while not stop.is_set():
            s = src.read(0.2)
            if s is not None:
                samples.append(s)

    th = threading.Thread(target=read_pose, daemon=True)
    th.start()
    tracker = BoardTracker(lens)
    ft, B = [], []
    t_end = time.monotonic() + duration_s
    try:
        while time.monotonic() < t_end:
            fr = cam.read()
            if fr is None:
                break
            res = tracker.track(decode(fr))
            if res.T_target_cam is not None and res.state == 0:
                ft.append(fr.device_time if fr.device_time is not None else fr.grab_time)
                B.append(res.T_target_cam)
    finally:
        stop.set()
        th.join(2.0)
        cam.close()
        src.close()
    a = samples_to_arrays([s for s in samples if s.tracking])
    if len(a["index"]) < 2:
        raise DexumiError(f"hand-eye: the pose source {pose_spec} delivered no tracking samples")
    t, _ = pose_times(a["device_time"], a["host_time"], src.clock.final() if hasattr(src, "clock") else None)
    from scipy.spatial.transform import Rotation

    A = np.tile(np.eye(4), (len(t), 1, 1))
    A[:, :3, :3] = Rotation.from_quat(a["orientation"]).as_matrix()
    A[:, :3, 3] = a["position"]
    return {
        "frame_times": np.asarray(ft),
        "T_board_cam": np.asarray(B).reshape(-1, 4, 4),
        "track_times": t,
        "T_world_tracker": A,
        "T_base_cam": None,
        "frames": None,
    }


def profile_section(res: HandEyeResult, tracker: str, camera: str, T_base_cam: np.ndarray | None) -> HandEye:
    rows = lambda T: [[float(v) for v in r] for r in np.asarray(T)]
    X = res.T_tracker_cam.copy()
    X[3] = (0, 0, 0, 1)
    return HandEye(
        tracker,
        camera,
        rows(X),
        float(res.latency_s),
        round(res.rms_mm, 4),
        round(res.rms_deg, 4),
        res.views,
        None if T_base_cam is None else rows(T_base_cam),
        None if T_base_cam is None else rows(tracker_to_base(X, T_base_cam)),
        res.method,
    )


class HandEyeStep:
    """The step object the wizard and `calibrate --headless` drive (begin, update, done, finish)."""

    key = "handeye"
    title = "Hand-eye and pose latency"
    depends_on: tuple[str, ...] = ()

    def __init__(self, options) -> None:
        self.options = options
        self.duration_s = float(getattr(options, "handeye_s", 30.0))
        self.instructions = (
            "Keep the board on the table in view of the wrist camera and move the wrist slowly "
            "through many viewpoints: tilt, roll, nearer and farther, pausing at each."
        )
        self.result: HandEyeResult | None = None
        self.section: HandEye | None = None
        self.summary, self.error = "", None
        self._data: dict[str, Any] | None = None
        self._failure: str | None = None
        self._progress = 0.0
        self._thread: threading.Thread | None = None

    def begin(self, run) -> None:
        o = self.options
        self.result, self.section, self.summary, self.error = None, None, "", None
        self._data, self._failure, self._progress = None, None, 0.0

        def work() -> None:
            try:
                if o.sim:
                    self._data = sim_views(getattr(o, "sim_pose_latency_s", 0.025), progress=self._set_progress)
                else:
                    if not (o.camera and getattr(o, "pose", None)):
                        raise DexumiError("hand-eye needs --camera SPEC and --pose SPEC (or --sim)")
                    lens = _profile_lens(run, o.camera_serial)
                    self._data = live_views(o.camera, o.pose, lens, self.duration_s)
            except DexumiError as exc:
                self._failure = str(exc)
            except Exception as exc:  # noqa: BLE001 - a render or device failure is one line, not a traceback
                self._failure = f"hand-eye capture failed: {exc}"

        self._thread = threading.Thread(target=work, name="handeye", daemon=True)
        self._thread.start()

    def _set_progress(self, p: float) -> None:
        self._progress = p

    def update(self, run):
        return Feedback(self._progress, "rendering the board views" if self.options.sim else "capturing")

    def done(self) -> bool:
        return self._thread is None or not self._thread.is_alive()

    def finish(self, run) -> str:
        if self._thread is not None:
            self._thread.join()
        if self._failure:
            raise DexumiError(self._failure)
        d = self._data
        assert d is not None
        self.result = calibrate_hand_eye(d["track_times"], d["T_world_tracker"], d["frame_times"], d["T_board_cam"])
        tracker = "sim" if self.options.sim else str(self.options.pose)
        self.section = profile_section(self.result, tracker, self.options.camera_name, d["T_base_cam"])
        self.summary = self.result.summary()
        return self.summary

    def reset(self) -> None:
        self.result, self.section, self.summary, self.error = None, None, "", None

    def contribute(self, profile, report: dict[str, Any], run) -> None:
        """The profile's `handeye` section (see `wizard_steps.Step.contribute`)."""
        if self.section is not None:
            profile.handeye = self.section


def _profile_lens(run, serial: str | None):
    """The wrist camera's intrinsics from this run's camera step."""
    from dexumi.tracking.pnp import Intrinsics

    for s in getattr(run, "steps", []):
        if s.key == "camera" and s.result is not None:
            return Intrinsics.from_profile(s.result.intrinsics())
    raise DexumiError("hand-eye needs the camera's intrinsics: run the camera step first")

"""The calibration wizard's steps as GUI-free logic, driven by `dexumi calibrate --headless` and the Qt wizard.

A `CalibrationRun` owns the devices (the encoder, or the simulated rig) and the results. Each `Step` has a
title and instructions, is begun (which fixes its capture window), reports live feedback while it runs,
knows when it is done, and is finished (computing its result, or raising DexumiError with a one-line reason
so the user can redo it). Any step can be redone; steps that depend on it are redone after it.

With `--sim` the emulator plays the calibration script, so each capture step's window is the script's
segment of the same name (the script loops; a redone step waits for its segment's next turn).
"""

from __future__ import annotations

import glob
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from calibration import encoders as enc
from calibration.board import BoardSpec
from calibration.poses import HandPoses, hand_poses
from calibration.profile import Profile, new_profile_id, utc_now
from calibration.sim import SIM_DEVICE_ID
from dexumi.errors import DexumiError

log = logging.getLogger(__name__)


@dataclass
class RunOptions:
    """Everything a calibration run needs to know."""

    exoskeleton: str = "inspire_exo"
    hand: str | None = None  # robot hand; default: the exoskeleton's pair
    port: str | None = None
    sim: bool = False
    protocol: str = "auto"
    hold_s: float = 3.0
    sweep_s: float = 4.0
    move_s: float = 0.8
    wave_s: float = 12.0
    lead_s: float = 1.0  # real devices: countdown before each capture
    # joint map
    map_path: Path | None = None  # base map (default: the bundled map of the exoskeleton)
    pairs_path: Path | None = None  # set-point pairs; default: the models' geometry
    curve: str = "linear"
    # cameras
    camera: str | None = None  # live camera spec for intrinsics and latency
    camera_name: str = "wrist0"
    camera_serial: str | None = None
    camera_model: str = "pinhole"
    board: BoardSpec = field(default_factory=BoardSpec)
    board_images: str | None = None  # glob of board photos (instead of a live camera)
    camera_views: int = 20
    min_views: int = 10
    min_coverage: float = 0.5
    # sim
    sim_latency_s: float = 0.04
    sim_rate_hz: float = 1000.0
    sim_seed: int = 0
    sim_truth: Path | None = None
    skip: tuple[str, ...] = ()  # steps to leave out: camera, latency, jointmap
    # hand-eye (calibration/handeye_step.py): opt-in
    handeye: bool = False
    pose: str | None = None  # pose source spec of the tracker
    handeye_s: float = 30.0
    sim_pose_latency_s: float = 0.025


@dataclass
class Feedback:
    """What a running step shows: progress 0..1, a message, and named data for the display."""

    progress: float
    message: str
    data: dict[str, Any] = field(default_factory=dict)


class Step:
    key: str = ""
    title: str = ""
    instructions: str = ""
    duration_s: float = 0.0
    depends_on: tuple[str, ...] = ()

    def __init__(self) -> None:
        self.t0 = self.t1 = 0.0
        self.result: Any = None
        self.summary = ""
        self.error: str | None = None

    def begin(self, run: CalibrationRun) -> None:
        now = time.monotonic()
        self.t0, self.t1 = now, now + self.duration_s
        self.result, self.summary, self.error = None, "", None

    def update(self, run: CalibrationRun) -> Feedback:
        now = time.monotonic()
        p = 1.0 if self.t1 <= self.t0 else min(1.0, max(0.0, (now - self.t0) / (self.t1 - self.t0)))
        return Feedback(p, "waiting" if now < self.t0 else "capturing")

    def done(self) -> bool:
        return time.monotonic() >= self.t1

    def finish(self, run: CalibrationRun) -> str:
        raise NotImplementedError

    def reset(self) -> None:
        self.result, self.summary, self.error = None, "", None


class CaptureStep(Step):
    """Records encoder samples over a window (a script segment in sim)."""

    segment: str = ""

    def begin(self, run: CalibrationRun) -> None:
        super().begin(run)
        if run.rig is not None:
            self.t0, self.t1 = run.next_window(self.segment)
        else:
            self.t0 = time.monotonic() + run.options.lead_s
            self.t1 = self.t0 + self.duration_s

    def update(self, run: CalibrationRun) -> Feedback:
        fb = super().update(run)
        angles = run.live_angles()
        fb.data["angles"] = angles
        fb.data["joints"] = run.poses.joints
        if time.monotonic() < self.t0:
            fb.message = f"get ready: {self.t0 - time.monotonic():.1f} s"
        return fb


class HoldStep(CaptureStep):
    def __init__(self, pose: str, title: str, instructions: str, duration_s: float) -> None:
        super().__init__()
        self.key = self.segment = pose
        self.title, self.instructions, self.duration_s = title, instructions, duration_s

    def update(self, run: CalibrationRun) -> Feedback:
        fb = super().update(run)
        fb.data["target"] = run.poses.pose(self.key if self.key != "zero_check" else "flat")
        return fb

    def finish(self, run: CalibrationRun) -> str:
        samples = run.buffer.window(self.t0, self.t1)
        ref = run.poses.pose(self.key if self.key != "zero_check" else "flat")
        center = run.centers()
        self.result = enc.capture_hold(samples, ref, self.key, run.encoder_input, center=center)
        motion = math.degrees(float(np.max(self.result.motion_rad)))
        self.summary = f"{self.title}: {self.result.samples} samples, held within {motion:.2f}°"
        return self.summary


class SweepStep(CaptureStep):
    def __init__(self, finger: str, duration_s: float) -> None:
        super().__init__()
        self.key = self.segment = f"sweep_{finger}"
        self.title = f"{finger.capitalize()} through its range"
        self.instructions = (f"Move the {finger} slowly from flat to fully bent and back, as far as it goes; "
                             "keep the other fingers still.")
        self.duration_s = duration_s
        self.finger = finger

    def finish(self, run: CalibrationRun) -> str:
        samples = run.buffer.window(self.t0, self.t1)
        if len(samples) < 10:
            raise DexumiError(f"{self.title}: no encoder samples; is the exoskeleton streaming?")
        self.result = samples
        self.summary = f"{self.title}: {len(samples)} samples"
        return self.summary


class EncoderFitStep(Step):
    key = "encoders"
    title = "Encoder calibration"
    instructions = "Zero, sign and scale of every channel are fitted through the held poses."

    def __init__(self, hold_keys: tuple[str, ...], capture_keys: tuple[str, ...]) -> None:
        super().__init__()
        self.depends_on = capture_keys
        self.hold_keys = hold_keys

    def done(self) -> bool:
        return True

    def finish(self, run: CalibrationRun) -> str:
        holds = [run.step(k).result for k in self.hold_keys]
        centers = run.centers()
        fit = enc.fit_encoders(holds, run.poses.joints, run.encoder_input, centers)
        first = min(run.step(k).t0 for k in self.depends_on)
        last = max(run.step(k).t1 for k in self.depends_on)
        enc.observed_ranges(fit, run.buffer.window(first, last), centers)
        run.fit = fit
        self.result = fit
        worst = max(fit.channels, key=lambda c: c.residual_max_rad)
        self.summary = (f"{len(fit.channels)} channels calibrated; worst residual {math.degrees(worst.residual_max_rad):.3f}° "
                        f"({worst.name}); signs {''.join('+' if c.sign > 0 else '-' for c in fit.channels)}")
        return self.summary


class ZeroCheckStep(HoldStep):
    def __init__(self, duration_s: float) -> None:
        super().__init__("zero_check", "Zero check",
                         "Lay the hand flat again for a moment: the new calibration must read zero.", duration_s)
        self.depends_on = ("encoders",)

    def finish(self, run: CalibrationRun) -> str:
        if run.fit is None:
            raise DexumiError("zero check: calibrate the encoders first")
        samples = run.buffer.window(self.t0, self.t1)
        x = samples.x
        c = run.centers()
        if c is not None:
            x = enc.unwrap_around(x, c, run.encoder_input.period)
        check = enc.zero_check(run.fit.calibration(), enc.EncoderSamples(samples.time, x), run.poses.joints,
                               run.encoder_input, run.poses.flat)
        self.result = check
        self.summary = check.message()
        if not check.ok:
            raise DexumiError(self.summary)
        return self.summary


class JointMapStep(Step):
    key = "jointmap"
    title = "Exoskeleton → robot joint map"
    depends_on = ()

    def __init__(self, options: RunOptions) -> None:
        super().__init__()
        src = f"set points in {options.pairs_path}" if options.pairs_path else "the hand models' geometry"
        self.instructions = f"The joint-mode map is fitted from {src}; residuals are shown per robot joint."
        self.options = options

    def done(self) -> bool:
        return True

    def finish(self, run: CalibrationRun) -> str:
        from calibration import jointmap

        o = self.options
        base = jointmap.base_map(o.map_path or run.poses.model)
        pairs = jointmap.read_pairs(o.pairs_path, base) if o.pairs_path else jointmap.geometry_pairs(base)
        self.result = jointmap.fit_joint_map(base, pairs, o.curve)
        w = self.result.worst
        self.summary = (f"{len(self.result.fits)} joints fitted from {pairs.source}; worst {w.robot}: "
                        f"RMS {math.degrees(w.rms_rad):.2f}°, max {math.degrees(w.max_rad):.2f}°")
        return self.summary


class CameraStep(Step):
    key = "camera"
    title = "Camera intrinsics"

    def __init__(self, options: RunOptions) -> None:
        super().__init__()
        self.options = options
        self.instructions = (f"Show the printed ChArUco board ({options.board.squares_x}×{options.board.squares_y}, "
                             f"{options.board.square_mm:g} mm squares) to the camera at many positions and angles, "
                             "filling the corners of the image too, until the coverage map is full.")
        self.detections: list = []
        self.size: tuple[int, int] | None = None
        self.last_image: np.ndarray | None = None
        self.last_detection = None
        self._source = None
        self._files: list[str] = []
        self._next_grab = 0.0

    def begin(self, run: CalibrationRun) -> None:
        from calibration.camera import BoardDetector

        super().begin(run)
        o = self.options
        self.detector = BoardDetector(o.board)
        self.detections, self.size, self.last_image, self.last_detection = [], None, None, None
        self.serial = o.camera_serial or o.camera or "camera"
        if o.board_images:
            self._files = sorted(glob.glob(o.board_images))
            if not self._files:
                raise DexumiError(f"no board images match {o.board_images!r}")
            self.serial = o.camera_serial or Path(self._files[0]).parent.name
        elif run.options.sim:
            from calibration.boardsim import BoardSimCamera, BoardSimConfig

            self._source = BoardSimCamera(BoardSimConfig(o.camera_name, o.camera_serial or "SIM-CAM-0001",
                                                         run.sim_lens, o.board, max(o.camera_views, 1), 40.0,
                                                         o.sim_seed)).open()
            self.serial = self._source.serial
        elif o.camera:
            from dexumi.devices.cameras.spec import open_camera

            self._source = open_camera(o.camera)
            self.duration_s = max(self.duration_s, 30.0)
        else:
            raise DexumiError("camera intrinsics need --camera SPEC or --board-images GLOB (or --sim, or --skip camera)")
        self.t1 = self.t0 + (self.duration_s if self._source is not None and not run.options.sim else 1e9)

    def _ingest(self, image: np.ndarray) -> None:
        import cv2

        if image.ndim == 1:  # JPEG bytes as an array
            image = cv2.imdecode(image, cv2.IMREAD_GRAYSCALE)
        self.size = (image.shape[1], image.shape[0])
        det = self.detector.detect(image)
        self.last_image, self.last_detection = image, det
        if det is not None:
            self.detections.append(det)

    def update(self, run: CalibrationRun) -> Feedback:
        from calibration.camera import coverage, occupancy

        if self._files:
            import cv2

            path = self._files.pop(0)
            img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
            if img is None:
                raise DexumiError(f"{path}: not an image")
            self._ingest(img)
        elif self._source is not None:
            now = time.monotonic()
            if now >= self._next_grab:
                frame = self._source.read()
                if frame is None:
                    self._source.close()
                    self._source = None
                else:
                    data = frame.data if frame.encoding == "bgr" else np.frombuffer(frame.data, np.uint8)
                    self._ingest(data)
                    self._next_grab = now + (0.0 if run.options.sim else 0.3)
        occ = occupancy(self.detections, self.size) if self.size else np.zeros((6, 8), int)
        p = min(1.0, len(self.detections) / max(1, self.options.min_views))
        return Feedback(p, f"{len(self.detections)} views, coverage {100 * coverage(occ):.0f}%",
                        {"image": self.last_image, "detection": self.last_detection, "occupancy": occ})

    def done(self) -> bool:
        if self._files:
            return False
        if self._source is None:
            return True
        return time.monotonic() >= self.t1

    def finish(self, run: CalibrationRun) -> str:
        from calibration.camera import calibrate

        if self._source is not None:
            self._source.close()
            self._source = None
        if self.size is None:
            raise DexumiError("camera intrinsics: no images were captured")
        o = self.options
        self.result = calibrate(self.detections, self.size, o.camera_model, min_views=o.min_views,
                                min_coverage=o.min_coverage, serial=self.serial)
        self.summary = f"camera {self.serial}: {self.result.summary()}"
        return self.summary


class LatencyStep(CaptureStep):
    key = segment = "wave"
    title = "Camera latency"
    depends_on = ("encoders",)

    def __init__(self, options: RunOptions) -> None:
        super().__init__()
        self.options = options
        self.duration_s = options.wave_s
        self.instructions = ("Hold the exoskeleton in view of the wrist camera and move all fingers irregularly "
                             f"(not in a rhythm) for {options.wave_s:g} s.")
        self.collector = None

    def begin(self, run: CalibrationRun) -> None:
        from calibration.latency import FrameCollector

        super().begin(run)
        o = self.options
        if run.options.sim:
            from dexumi.devices.cameras.sim import SimCamera, SimCameraConfig

            cfg = SimCameraConfig(o.camera_name, o.sim_latency_s, 30.0, 640, 480, o.sim_seed, run.rig.epoch,
                                  motion=run.rig.motion().spec(), joints=len(run.poses.joints))
            src = SimCamera(cfg)
            src.open(start_time=self.t0 - 0.4)
        elif o.camera:
            from dexumi.devices.cameras.spec import open_camera

            src = open_camera(o.camera)
        else:
            raise DexumiError("latency needs a camera: --camera SPEC (or --sim, or --skip latency)")
        self.host_clock = bool(getattr(src, "device_time_is_host_clock", False))
        self.collector = FrameCollector(src, until=self.t1 + 0.3).start()

    def finish(self, run: CalibrationRun) -> str:
        from calibration import latency

        frames = self.collector.stop() if self.collector else []
        if self.collector is not None:
            self.collector.source.close()
        if run.fit is None:
            raise DexumiError("latency: calibrate the encoders first")
        s = run.buffer.window(self.t0 - 0.5, self.t1 + 0.5)
        x = s.x if run.centers() is None else enc.unwrap_around(s.x, run.centers(), run.encoder_input.period)
        angles = run.fit.calibration().apply(x)
        frames = [f for f in frames if self.t0 - 0.3 <= (f.device_time or f.grab_time) <= self.t1 + 0.5]
        if run.options.sim:
            self.result = latency.latency_from_sim_frames(self.options.camera_name, frames, s.time, angles)
        else:
            self.result = latency.latency_from_motion(self.options.camera_name, frames, s.time, angles, self.host_clock)
        self.summary = self.result.summary()
        return self.summary


class CalibrationRun:
    """Devices, steps and results of one calibration; `profile()` assembles the profile."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.poses: HandPoses = hand_poses(options.exoskeleton)
        self.hand = options.hand or _pair_of(options.exoskeleton)
        self.rig = None
        self.driver = None
        self.encoder_input = enc.EncoderInput("v1")
        self.buffer = enc.SampleBuffer(self.encoder_input)
        self.fit: enc.EncoderFit | None = None
        self.device: dict[str, Any] = {}
        self.sim_lens = None
        self._centers: np.ndarray | None = None
        self.steps: list[Step] = self._make_steps()

    # -------------------------------------------------------------------------------------- steps
    def _make_steps(self) -> list[Step]:
        o = self.options
        steps: list[Step] = [HoldStep("flat", "Flat hand", "Lay the hand flat on the table, fingers together and "
                                      "straight, thumb alongside; hold still.", o.hold_s),
                             HoldStep("fist", "Fist", "Make a fist, thumb over the fingers; hold still.", o.hold_s)]
        if "spread" in self.poses.hold_poses:
            steps.append(HoldStep("spread", "Fingers spread", "Spread the fingers as far apart as they go; hold still.",
                                  o.hold_s))
        fingers = ("thumb", "index", "middle", "ring", "little")
        for f in sorted(set(self.poses.fingers)):
            steps.append(SweepStep(fingers[f], o.sweep_s))
        steps.append(HoldStep("opposition", "Thumb opposition", "Touch the tip of the thumb to the little finger's "
                              "base (thumb fully rotated across the palm), other fingers flat; hold still.", o.hold_s))
        captures = tuple(s.key for s in steps)
        steps.append(EncoderFitStep(self.poses.hold_poses, captures))
        steps.append(ZeroCheckStep(o.hold_s))
        if "latency" not in o.skip:  # right after the zero check: in sim, the script's wave follows it
            steps.append(LatencyStep(o))
        if "jointmap" not in o.skip:
            steps.append(JointMapStep(o))
        if "camera" not in o.skip:
            steps.append(CameraStep(o))
        if o.handeye:
            from calibration.handeye_step import HandEyeStep

            steps.append(HandEyeStep(o))
        return steps

    def step(self, key: str) -> Step:
        for s in self.steps:
            if s.key == key:
                return s
        raise DexumiError(f"no step '{key}' (steps: {', '.join(s.key for s in self.steps)})")

    def dependents(self, key: str) -> list[Step]:
        """Steps to redo after `key` is redone (transitively)."""
        out: list[Step] = []
        keys = {key}
        for s in self.steps:
            if set(s.depends_on) & keys:
                out.append(s)
                keys.add(s.key)
        return out

    # ------------------------------------------------------------------------------------ devices
    def open(self) -> CalibrationRun:
        from dexumi.devices.encoder import EncoderConfig, EncoderDriver

        o = self.options
        port = o.port
        protocol = o.protocol
        if o.sim:
            from calibration.boardsim import Lens
            from calibration.sim import SimRig

            protocol = "v1" if protocol == "auto" else protocol
            self.rig = SimRig(self.poses, protocol, o.sim_rate_hz, o.hold_s, o.move_s, o.sweep_s, o.wave_s,
                              o.sim_seed, truth=o.sim_truth).start()
            port = self.rig.port
            self.sim_lens = Lens()
        if port is None:
            raise DexumiError("no encoder: give --port PORT (or --sim)")
        self.driver = EncoderDriver(EncoderConfig(port, protocol, None, o.sim_rate_hz if o.sim else None)).start()
        info = self.driver.info
        self.encoder_input = enc.EncoderInput(self.driver.protocol, info.resolution_bits if info else 24)
        self.buffer = enc.SampleBuffer(self.encoder_input)
        if self.driver.joints != len(self.poses.joints):
            raise DexumiError(f"the device on {port} has {self.driver.joints} joint channels but exoskeleton "
                              f"'{self.poses.model}' has {len(self.poses.joints)} ({', '.join(self.poses.joints)}); "
                              "pick the model with --exoskeleton")
        self.device = {"id": info.device_id if info else (port if not o.sim else SIM_DEVICE_ID),
                       "protocol": self.driver.protocol, "channels": self.driver.channels,
                       "firmware": ".".join(map(str, info.firmware)) if info else None,
                       "resolution_bits": info.resolution_bits if info else None}
        if not o.sim:
            self.device["port"] = port
        return self

    def close(self) -> None:
        if self.driver is not None:
            self.driver.close()
            self.driver = None
        if self.rig is not None:
            self.rig.stop()
            self.rig = None

    def __enter__(self) -> CalibrationRun:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def poll(self, timeout: float = 0.0) -> None:
        """Move what the driver has read into the capture buffer (call often)."""
        if self.driver is not None:
            self.buffer.add(self.driver.read(timeout))
            self._centers = None

    def centers(self) -> np.ndarray | None:
        """Per-channel circular mean of everything captured (wrapping sensors), else None."""
        period = self.encoder_input.period
        if period is None:
            return None
        if self._centers is None:
            self._centers = enc.circular_center(self.buffer.samples().x, period)
        return self._centers

    def live_angles(self) -> np.ndarray | None:
        """Latest joint angles: calibrated once the fit exists, else the board's nominal conversion."""
        x = self.buffer.latest()
        if x is None:
            return None
        if self.fit is not None:
            return self.fit.calibration().apply(x[None, :])[0]
        return x * self.encoder_input.nominal_scale

    def next_window(self, segment: str) -> tuple[float, float]:
        """Sim: the next turn of a script segment that has not started yet."""
        assert self.rig is not None
        now = time.monotonic()
        cycle = 0
        while True:
            t0, t1 = self.rig.segment_window(segment, cycle)
            if t0 >= now - 0.05:
                return t0, t1
            cycle += 1

    # ----------------------------------------------------------------------------------- running
    def run_step(self, step: Step, on_feedback=None, poll_s: float = 0.05) -> str:
        """Begin, capture until done, finish; returns the summary (DexumiError on failure)."""
        step.begin(self)
        try:
            while not step.done():
                self.poll(poll_s)
                fb = step.update(self)
                if on_feedback is not None:
                    on_feedback(step, fb)
            self.poll()
            return step.finish(self)
        except DexumiError as exc:
            step.error = str(exc)
            raise

    # ----------------------------------------------------------------------------------- profile
    def profile(self, mapping: str | None = None) -> Profile:
        if self.fit is None:
            raise DexumiError("the encoders are not calibrated yet")
        device_id = str(self.device.get("id") or "device")
        prof = Profile(new_profile_id(device_id), utc_now(), dict(self.device), self.fit.channel_calibrations(),
                       wrap=self.fit.wrap, encoder_input="ratiometric" if self.encoder_input.protocol == "legacy" else "counts",
                       hand=self.hand, exoskeleton=self.poses.model, mapping=mapping)
        report: dict[str, Any] = {"encoders": self.fit.summary()}
        for s in self.steps:
            if s.key == "zero_check" and s.result is not None:
                report["zero_check_deg"] = [round(math.degrees(v), 4) for v in s.result.drift_rad]
            if s.key == "jointmap" and s.result is not None:
                report["jointmap_residuals"] = s.result.residuals()
            if s.key == "camera" and s.result is not None:
                cal = s.result
                prof.cameras[cal.serial] = cal.intrinsics()
                prof.device.setdefault("cameras", {})[self.options.camera_name] = cal.serial
            if s.key == "wave" and s.result is not None:
                prof.latencies_s[s.result.stream] = float(s.result.latency_s)
                prof.latency_uncertainty_s[s.result.stream] = float(s.result.uncertainty_s)
            if s.key == "handeye" and getattr(s, "section", None) is not None:
                prof.handeye = s.section
        prof.report = report
        return prof


def _pair_of(exoskeleton: str) -> str | None:
    from dexumi.hands import registry

    for m in registry.bundled():
        if m.name == exoskeleton:
            return m.pair
    return None

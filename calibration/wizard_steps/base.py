"""What every calibration step is: options, live feedback, the `Step` life cycle, encoder capture windows."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from calibration.board import BoardSpec

if TYPE_CHECKING:
    from calibration.profile import Profile
    from calibration.wizard_steps.run import CalibrationRun


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
    # hand-eye (calibration/wizard_steps/handeye.py): opt-in
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

    def contribute(self, profile: Profile, report: dict[str, Any], run: CalibrationRun) -> None:
        """Put this step's result into the profile (and its report); steps without one add nothing."""


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

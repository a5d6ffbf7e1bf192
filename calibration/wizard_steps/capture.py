"""Encoder capture steps: a held pose, a finger swept through its range."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from calibration import encoders as enc
from calibration.wizard_steps.base import CaptureStep, Feedback
from dexumi.errors import DexumiError

if TYPE_CHECKING:
    from calibration.wizard_steps.run import CalibrationRun


class HoldStep(CaptureStep):
    """Hold a pose still: `key` names the step and its script segment, `pose` the target (default: the key)."""

    def __init__(self, key: str, title: str, instructions: str, duration_s: float, pose: str | None = None) -> None:
        super().__init__()
        self.key = self.segment = key
        self.pose = pose or key
        self.title, self.instructions, self.duration_s = title, instructions, duration_s

    def update(self, run: CalibrationRun) -> Feedback:
        fb = super().update(run)
        fb.data["target"] = run.poses.pose(self.pose)
        return fb

    def finish(self, run: CalibrationRun) -> str:
        samples = run.buffer.window(self.t0, self.t1)
        ref = run.poses.pose(self.pose)
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
        self.instructions = (
            f"Move the {finger} slowly from flat to fully bent and back, as far as it goes; "
            "keep the other fingers still."
        )
        self.duration_s = duration_s
        self.finger = finger

    def finish(self, run: CalibrationRun) -> str:
        samples = run.buffer.window(self.t0, self.t1)
        if len(samples) < 10:
            raise DexumiError(f"{self.title}: no encoder samples; is the exoskeleton streaming?")
        self.result = samples
        self.summary = f"{self.title}: {len(samples)} samples"
        return self.summary

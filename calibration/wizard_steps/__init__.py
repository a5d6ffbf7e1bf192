"""The calibration wizard's steps as GUI-free logic, driven by `dexumi calibrate --headless` and the Qt wizard.

A `CalibrationRun` owns the devices (the encoder, or the simulated rig) and the results. Each `Step` has a
title and instructions, is begun (which fixes its capture window), reports live feedback while it runs,
knows when it is done, and is finished (computing its result, or raising DexumiError with a one-line reason
so the user can redo it). Any step can be redone; steps that depend on it are redone after it.

With `--sim` the emulator plays the calibration script, so each capture step's window is the script's
segment of the same name (the script loops; a redone step waits for its segment's next turn).

One module per step kind (`capture`: held poses and sweeps, `encoder_fit`: the fit and the zero check,
`jointmap`, `camera`, `latency`, and the opt-in `handeye`); each step puts its own result into the profile
(`Step.contribute`).
`run.CalibrationRun` holds the devices and the steps in order.
"""

from __future__ import annotations

from calibration.wizard_steps.base import CaptureStep as CaptureStep
from calibration.wizard_steps.base import Feedback as Feedback
from calibration.wizard_steps.base import RunOptions as RunOptions
from calibration.wizard_steps.base import Step as Step
from calibration.wizard_steps.camera import CameraStep as CameraStep
from calibration.wizard_steps.capture import HoldStep as HoldStep
from calibration.wizard_steps.capture import SweepStep as SweepStep
from calibration.wizard_steps.encoder_fit import EncoderFitStep as EncoderFitStep
from calibration.wizard_steps.encoder_fit import ZeroCheckStep as ZeroCheckStep
from calibration.wizard_steps.jointmap import JointMapStep as JointMapStep
from calibration.wizard_steps.latency import LatencyStep as LatencyStep
from calibration.wizard_steps.run import CalibrationRun as CalibrationRun

__all__ = [
    "CalibrationRun",
    "CameraStep",
    "CaptureStep",
    "EncoderFitStep",
    "Feedback",
    "HoldStep",
    "JointMapStep",
    "LatencyStep",
    "RunOptions",
    "Step",
    "SweepStep",
    "ZeroCheckStep",
]

"""The encoder fit (zero, sign and scale through the held poses) and the zero check that follows it."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from calibration import encoders as enc
from calibration.wizard_steps.base import Step
from calibration.wizard_steps.capture import HoldStep
from dexumi.errors import DexumiError

if TYPE_CHECKING:
    from calibration.profile import Profile
    from calibration.wizard_steps.run import CalibrationRun


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
        self.summary = (
            f"{len(fit.channels)} channels calibrated; worst residual {math.degrees(worst.residual_max_rad):.3f}° "
            f"({worst.name}); signs {''.join('+' if c.sign > 0 else '-' for c in fit.channels)}"
        )
        return self.summary


class ZeroCheckStep(HoldStep):
    def __init__(self, duration_s: float) -> None:
        super().__init__(
            "zero_check",
            "Zero check",
            "Lay the hand flat again for a moment: the new calibration must read zero.",
            duration_s,
            pose="flat",
        )
        self.depends_on = ("encoders",)

    def finish(self, run: CalibrationRun) -> str:
        if run.fit is None:
            raise DexumiError("zero check: calibrate the encoders first")
        samples = run.buffer.window(self.t0, self.t1)
        x = samples.x
        c = run.centers()
        if c is not None:
            x = enc.unwrap_around(x, c, run.encoder_input.period)
        check = enc.zero_check(
            run.fit.calibration(),
            enc.EncoderSamples(samples.time, x),
            run.poses.joints,
            run.encoder_input,
            run.poses.flat,
        )
        self.result = check
        self.summary = check.message()
        if not check.ok:
            raise DexumiError(self.summary)
        return self.summary

    def contribute(self, profile: Profile, report: dict[str, Any], run: CalibrationRun) -> None:
        if self.result is not None:
            report["zero_check_deg"] = [round(math.degrees(v), 4) for v in self.result.drift_rad]

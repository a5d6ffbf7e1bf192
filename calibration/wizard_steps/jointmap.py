"""The exoskeleton → robot joint map, fitted from set-point pairs or the hand models' geometry."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from calibration.wizard_steps.base import RunOptions, Step

if TYPE_CHECKING:
    from calibration.profile import Profile
    from calibration.wizard_steps.run import CalibrationRun


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
        self.summary = (
            f"{len(self.result.fits)} joints fitted from {pairs.source}; worst {w.robot}: "
            f"RMS {math.degrees(w.rms_rad):.2f}°, max {math.degrees(w.max_rad):.2f}°"
        )
        return self.summary

    def contribute(self, profile: Profile, report: dict[str, Any], run: CalibrationRun) -> None:
        if self.result is not None:
            report["jointmap_residuals"] = self.result.residuals()

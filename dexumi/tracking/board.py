"""Board PnP on one image (`BoardTracker`) and the exact lens of a simulated world camera (`world_lens`): what
the online board pose source (`dexumi.devices.pose.board`) and the offline tracker (`dexumi.tracking.offline`)
share."""

from __future__ import annotations

import numpy as np

from dexumi.errors import DexumiError
from dexumi.tracking.pnp import Intrinsics, PnPResult, solve_pose
from dexumi.tracking.target import Target, TargetDetector

__all__ = ["BoardTracker", "world_lens"]


class BoardTracker:
    """Image → `PnPResult` for one camera (no threads: what the source and the offline command share)."""

    def __init__(self, lens: Intrinsics, target: Target | None = None, tags: str = "auto") -> None:
        self.lens = lens
        self.target = target or Target.from_scene()
        self.detector = TargetDetector(self.target, tags)

    def track(self, image: np.ndarray) -> PnPResult:
        return solve_pose(self.detector.detect(image), self.lens)


def world_lens(camera: str, width: int = 640, height: int = 480) -> Intrinsics:
    """The exact intrinsics of a simulated world camera (wrist0 pinhole, wrist1 fisheye) at a size."""
    from dexumi.sim.scene import default_cameras

    for c in default_cameras(width, height, 2):
        if c.name == camera:
            return Intrinsics.from_camera_spec(c)
    raise DexumiError(f"pose:board: the simulated world has no camera {camera!r} (wrist0, wrist1)")

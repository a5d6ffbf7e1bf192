"""Wrist 6-DoF pose sources: `make_pose("pose:sim")`, `make_pose("pose:udp:9870")` (docs/pose.md)."""

from dexumi.devices.pose.base import (
    LIMITED,
    LOST,
    STATE_NAMES,
    TRACKING,
    PoseLost,
    PoseSample,
    PoseSource,
    samples_to_arrays,
)
from dexumi.devices.pose.spec import list_pose_sources, make_pose, open_pose

__all__ = [
    "LIMITED",
    "LOST",
    "STATE_NAMES",
    "TRACKING",
    "PoseLost",
    "PoseSample",
    "PoseSource",
    "list_pose_sources",
    "make_pose",
    "open_pose",
    "samples_to_arrays",
]

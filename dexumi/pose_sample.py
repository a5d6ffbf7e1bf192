"""A wrist pose sample as a source delivers it, and its tracking states (docs/pose.md).

Data only, below every pose source (`dexumi.devices.pose`) and every reader of a pose stream (`dexumi.pose`,
`dexumi.episode`, `dexumi.tracking`), so that either side can import it.

Conventions: position in metres, orientation a unit quaternion **scalar-last** `(x, y, z, w)` of the
tracked frame in the source's world frame; device time in seconds on the source's own clock; host time =
host monotonic seconds when the sample arrived.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LIMITED", "LOST", "STATE_CODES", "STATE_NAMES", "TRACKING", "PoseSample", "samples_to_arrays"]

#: Tracking states (ARKit's `ARCamera.TrackingState` reduced to three): the pose is good, usable with care
#: (ARKit "limited", a tracker occluded for a moment), or absent.
TRACKING, LIMITED, LOST = 0, 1, 2
STATE_NAMES = {TRACKING: "tracking", LIMITED: "limited", LOST: "lost"}
STATE_CODES = {v: k for k, v in STATE_NAMES.items()}


@dataclass(frozen=True)
class PoseSample:
    """One pose as it arrived. `position` (3,) m, `orientation` (4,) quaternion x, y, z, w.

    `index` is the source's sequence number (a jump is an exact count of dropped samples; -1: unknown).
    `mapped_time` is the device time mapped onto the host clock by the source's online clock fit (NaN
    before there is one); the recording remaps with the final fit (`dexumi.pose.pose_times`).
    When `state` is LOST, position and orientation are NaN.
    """

    index: int
    device_time: float
    host_time: float
    position: np.ndarray
    orientation: np.ndarray
    state: int = TRACKING
    quality: float = 1.0  # 0..1, the source's confidence (1 when it does not say)
    mapped_time: float = float("nan")

    @property
    def tracking(self) -> bool:
        return self.state != LOST


def samples_to_arrays(samples: list[PoseSample]) -> dict[str, np.ndarray]:
    """Column arrays of samples: index, device_time, host_time, mapped_time, position, orientation, state,
    quality (what `/raw/pose/<name>` stores)."""
    n = len(samples)
    return {
        "index": np.fromiter((s.index for s in samples), np.int64, n),
        "device_time": np.fromiter((s.device_time for s in samples), np.float64, n),
        "host_time": np.fromiter((s.host_time for s in samples), np.float64, n),
        "mapped_time": np.fromiter((s.mapped_time for s in samples), np.float64, n),
        "position": np.array([s.position for s in samples], np.float64).reshape(n, 3),
        "orientation": np.array([s.orientation for s in samples], np.float64).reshape(n, 4),
        "state": np.fromiter((s.state for s in samples), np.uint8, n),
        "quality": np.fromiter((s.quality for s in samples), np.float32, n),
    }

"""Hand skeleton from pinocchio FK: bone segments and fingertip points, plus a 2D projection for drawing."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pinocchio as pin

from dexumi.kinematics import HandKinematics


class HandPoser:
    """`pose(q)` → (segments (S, 2, 3), tips (F, 3)) in metres in the hand's base frame."""

    def __init__(self, kin: HandKinematics, tips: Sequence[str] | None = None) -> None:
        self.kin = kin
        m = kin.model
        self.tips = tuple(tips if tips is not None else kin.tip_frames)
        self._tip_ids = [m.getFrameId(t) for t in self.tips]
        self._tip_parent = [m.frames[f].parentJoint for f in self._tip_ids]
        self._pairs = [(int(m.parents[j]), j) for j in range(1, m.njoints)]

    def pose(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m, d = self.kin.model, self.kin.data
        pin.forwardKinematics(m, d, np.asarray(q, dtype=float))
        pin.updateFramePlacements(m, d)
        joints = np.array([d.oMi[j].translation for j in range(m.njoints)])
        tips = np.array([d.oMf[f].translation for f in self._tip_ids]) if self._tip_ids else np.zeros((0, 3))
        segs = [(joints[a], joints[b]) for a, b in self._pairs]
        segs += [(joints[p], tips[k]) for k, p in enumerate(self._tip_parent)]
        return np.array(segs, dtype=float).reshape(-1, 2, 3), tips


def projection(azimuth_deg: float = 35.0, elevation_deg: float = 25.0) -> np.ndarray:
    """A 2x3 orthographic projection looking at the hand from an azimuth/elevation."""
    a, e = np.radians(azimuth_deg), np.radians(elevation_deg)
    right = np.array([np.cos(a), np.sin(a), 0.0])
    up = np.array([-np.sin(e) * np.sin(a), np.sin(e) * np.cos(a), np.cos(e)])
    return np.stack([right, up])


def project(points: np.ndarray, proj: np.ndarray | None = None) -> np.ndarray:
    """(..., 3) → (..., 2)."""
    proj = projection() if proj is None else proj
    return np.asarray(points, dtype=float) @ proj.T

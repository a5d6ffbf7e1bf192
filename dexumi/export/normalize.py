"""Action normalisation to [-1, 1]: by the robot hand's joint limits, else by the data's range."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from dexumi.episode.reader import Episode
from dexumi.export.plan import ExportPlan
from dexumi.validate import models


@dataclass
class ActionNormalization:
    """a_norm = 2 (a − low) / (high − low) − 1, clipped to [−1, 1]; a = low + (a_norm + 1) (high − low) / 2."""

    names: list[str]
    low: list[float]
    high: list[float]
    source: str  # "joint_limits:<hand>" or "data_range"
    type: str = "minmax"

    def apply(self, a: np.ndarray) -> np.ndarray:
        lo, hi = np.asarray(self.low), np.asarray(self.high)
        span = np.where(hi > lo, hi - lo, 1.0)
        return np.clip(2.0 * (a - lo) / span - 1.0, -1.0, 1.0).astype(np.float32)

    def invert(self, a: np.ndarray) -> np.ndarray:
        lo, hi = np.asarray(self.low), np.asarray(self.high)
        return (lo + (np.asarray(a) + 1.0) * (hi - lo) / 2.0).astype(np.float32)

    def to_dict(self) -> dict:
        return asdict(self)


#: the wrist pose's range in normalised actions: relative position within ±1 m of the first frame (an arm's
#: reach), the rotation matrix's entries in [-1, 1]
POSE_POSITION_RANGE_M = 1.0


def for_plan(plan: ExportPlan) -> ActionNormalization:
    norm = _with_pose(plan, _for_joints(plan))
    return norm


def _for_joints(plan: ExportPlan) -> ActionNormalization:
    norm = _for_plan_rad(plan)
    if plan.motor is None:
        return norm
    a, b = plan.motor.apply(np.asarray(norm.low)), plan.motor.apply(np.asarray(norm.high))
    return ActionNormalization(norm.names, np.minimum(a, b).tolist(), np.maximum(a, b).tolist(), norm.source + "+motor")


def _with_pose(plan: ExportPlan, norm: ActionNormalization) -> ActionNormalization:
    """The wrist pose's fixed range in front of the joints' (when the export carries the pose)."""
    if not plan.first.pose:
        return norm
    from dexumi.export.source import POSE_VECTOR_NAMES

    r = POSE_POSITION_RANGE_M
    return ActionNormalization(
        [*POSE_VECTOR_NAMES, *norm.names],
        [-r] * 3 + [-1.0] * 6 + list(norm.low),
        [r] * 3 + [1.0] * 6 + list(norm.high),
        norm.source + "+pose",
    )


def _for_plan_rad(plan: ExportPlan) -> ActionNormalization:
    names = list(plan.first.action_names)
    kin = models.hand(plan.first.hand) if plan.first.hand else None
    if kin is not None and all(n in kin.joint_names for n in names):
        idx = [kin.index(n) for n in names]
        return ActionNormalization(
            names, kin.lower[idx].tolist(), kin.upper[idx].tolist(), f"joint_limits:{plan.first.hand}"
        )
    lo = np.full(len(names), np.inf)
    hi = np.full(len(names), -np.inf)
    for info in plan.episodes:
        with Episode.open(info.path) as ep:
            if info.part is not None:
                ep.select(*info.part)
            a = ep.qpos  # actions are qpos one step ahead: the same range
        lo, hi = np.minimum(lo, a.min(axis=0)), np.maximum(hi, a.max(axis=0))
    return ActionNormalization(names, lo.tolist(), hi.tolist(), "data_range")

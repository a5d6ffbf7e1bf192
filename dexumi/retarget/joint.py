"""``joint`` mode: per-joint curves from exoskeleton channels to actuated robot joints, clamped to limits.

Mimic joints follow their actuated joint inside the robot model (``HandKinematics.full_q`` expands them).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dexumi.errors import DexumiError
from dexumi.kinematics import HandKinematics
from dexumi.retarget.mapfile import JointRule


class JointMapper:
    """Vectorised (N, channels) -> (N, robot nq)."""

    def __init__(
        self,
        robot: HandKinematics,
        channels: Sequence[str],
        rules: Sequence[JointRule],
        defaults: dict[str, float] | None = None,
        source: str = "map",
    ) -> None:
        self.robot = robot
        self.channels = tuple(channels)
        ch = {c: i for i, c in enumerate(self.channels)}
        self._rules = []
        seen: set[str] = set()
        for rule in rules:
            if rule.robot in seen:
                raise DexumiError(f"{source}: joints.{rule.robot}: robot joint mapped twice")
            seen.add(rule.robot)
            try:
                j = robot.index(rule.robot)
            except DexumiError as exc:
                raise DexumiError(f"{source}: joints.{rule.robot}: {exc}") from None
            if rule.exo not in ch:
                raise DexumiError(f"{source}: joints.{rule.robot}.from: channel '{rule.exo}' is not in 'channels'")
            self._rules.append((j, ch[rule.exo], rule.curve))
        base = np.zeros(robot.nq)
        for name, value in (defaults or {}).items():
            try:
                base[robot.index(name)] = value
            except DexumiError as exc:
                raise DexumiError(f"{source}: defaults.{name}: {exc}") from None
        self.default_q = robot.clip(base)
        self.unmapped = tuple(n for n in robot.joint_names if n not in seen)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(N, C) exo channels (radians) -> (N, nq) robot joints within limits."""
        x = np.asarray(x, dtype=float)
        out = np.empty((x.shape[0], self.robot.nq))
        out[:] = self.default_q
        for j, c, curve in self._rules:
            out[:, j] = curve(x[:, c])
        np.clip(out, self.robot.lower, self.robot.upper, out=out)
        return out

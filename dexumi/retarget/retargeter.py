"""One interface for every mode: ``Retargeter.retarget(exo_q_batch) -> robot_q_batch``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from dexumi.errors import DexumiError
from dexumi.hands import registry
from dexumi.kinematics import HandKinematics
from dexumi.retarget.align import Alignment, alignment_from_spec
from dexumi.retarget.filters import LowPassFilter
from dexumi.retarget.joint import JointMapper
from dexumi.retarget.mapfile import MODES, RetargetMap, TipPair, load_map
from dexumi.retarget.solver import FingertipSolver, SolverSettings, SolveStats
from dexumi.vocab import RetargetMode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TipCorrespondence:
    """Matching exoskeleton and robot frames and the transform between the two base frames."""

    exo_frames: tuple[str, ...]
    robot_frames: tuple[str, ...]
    alignment: Alignment


def _load_model(ref: str, what: str, source: str) -> HandKinematics:
    try:
        return registry.load(ref)
    except DexumiError as exc:
        raise DexumiError(f"{source}: {what}: {exc}") from None


class Retargeter:
    """Exoskeleton joint angles (channels of the map, radians) -> robot actuated joints (robot q order)."""

    def __init__(
        self, rmap: RetargetMap, robot: HandKinematics, exo: HandKinematics | None = None, mode: str | None = None
    ) -> None:
        self.map = rmap
        self.mode = mode or rmap.mode
        self.robot, self.exo = robot, exo
        src = str(rmap.path) if rmap.path else "map"
        self.source = src
        if self.mode not in MODES:
            raise DexumiError(f"unknown mode '{self.mode}' (modes: {', '.join(MODES)})")
        self.channels = rmap.channels
        if exo is not None:
            self._check_channels(exo, src)
            self._exo_cols = np.array([self.channels.index(n) for n in exo.joint_names], dtype=int)
        self.tips = self._tip_correspondence(src)
        self.joint_mapper: JointMapper | None = None
        self.solver: FingertipSolver | None = None
        if self.mode == RetargetMode.JOINT:
            if not rmap.joints:
                raise DexumiError(f"{src}: joints: mode 'joint' needs a 'joints' section")
            self.joint_mapper = JointMapper(robot, self.channels, rmap.joints, rmap.defaults, src)
        else:
            if exo is None or not rmap.fingertip.pairs:
                raise DexumiError(f"{src}: mode 'fingertip' needs 'exoskeleton' and 'fingertip.pairs'")
            ft = rmap.fingertip
            settings = SolverSettings(ft.iterations, ft.damping, ft.temporal_weight, ft.tolerance)
            directions = [(t.robot[0], t.robot[1], t.weight) for t in ft.directions]
            self._check_frames(robot, [f for d in ft.directions for f in d.robot], "robot", src)
            self._check_frames(exo, [f for d in ft.directions for f in d.exo], "exoskeleton", src)
            assert self.tips is not None  # an exoskeleton is given: checked above
            self.solver = FingertipSolver(
                robot, self.tips.robot_frames, [p.weight for p in ft.pairs], directions, settings
            )
        self.filter = LowPassFilter(rmap.filter.cutoff_hz, rmap.filter.rate_hz) if rmap.filter else None
        self.last_stats: SolveStats | None = None

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def from_map(cls, rmap: RetargetMap | str | Path, mode: str | None = None) -> Retargeter:
        """Load the map (if a path) and the robot/exoskeleton models it names."""
        if not isinstance(rmap, RetargetMap):
            rmap = load_map(rmap)
        src = str(rmap.path) if rmap.path else "map"
        robot = _load_model(rmap.resolve(rmap.robot), "robot", src)
        exo = _load_model(rmap.resolve(rmap.exoskeleton), "exoskeleton", src) if rmap.exoskeleton else None
        return cls(rmap, robot, exo, mode)

    def _check_channels(self, exo: HandKinematics, src: str) -> None:
        unknown = [c for c in self.channels if c not in exo.joint_names]
        if unknown:
            if unknown[0] in exo.mimics:
                raise DexumiError(
                    f"{src}: channels: '{unknown[0]}' is a mimic joint of exoskeleton '{exo.name}' (no encoder)"
                )
            raise DexumiError(
                f"{src}: channels: '{unknown[0]}' is not a joint of exoskeleton '{exo.name}' "
                f"(joints: {', '.join(exo.joint_names)})"
            )
        missing = [j for j in exo.joint_names if j not in self.channels]
        if missing:
            raise DexumiError(
                f"{src}: channels: the map lists {len(self.channels)} channels but exoskeleton "
                f"'{exo.name}' has {exo.nq} joints; missing '{missing[0]}'"
            )

    @staticmethod
    def _check_frames(kin: HandKinematics, frames: list[str], what: str, src: str) -> None:
        for f in frames:
            if not kin.model.existFrame(f):
                raise DexumiError(
                    f"{src}: fingertip: {what} model '{kin.name}' has no frame '{f}' "
                    f"(fingertip frames: {', '.join(kin.tip_frames)})"
                )

    def _tip_correspondence(self, src: str) -> TipCorrespondence | None:
        if self.exo is None:
            return None
        pairs: tuple[TipPair, ...] = self.map.fingertip.pairs
        if not pairs:  # default: fingertip frames both models share by name
            common = [f for f in self.exo.tip_frames if f in self.robot.tip_frames]
            pairs = tuple(TipPair(f, f) for f in common)
        if not pairs:
            return None
        exo_frames = tuple(p.exo for p in pairs)
        robot_frames = tuple(p.robot for p in pairs)
        self._check_frames(self.exo, list(exo_frames), "exoskeleton", src)
        self._check_frames(self.robot, list(robot_frames), "robot", src)
        align = alignment_from_spec(self.map.fingertip.align, self.exo, self.robot, exo_frames, robot_frames)
        return TipCorrespondence(exo_frames, robot_frames, align)

    # ---- use ----------------------------------------------------------------------------------
    @property
    def robot_joint_names(self) -> tuple[str, ...]:
        return self.robot.joint_names

    def reset(self) -> None:
        """Start a new sequence (forget warm start and filter state)."""
        if self.solver is not None:
            self.solver.reset()
        if self.filter is not None:
            self.filter.reset()

    def check_input(self, exo_q: np.ndarray) -> np.ndarray:
        """(N, C) or (C,) float array with C = number of map channels; DexumiError otherwise."""
        x = np.asarray(exo_q, dtype=float)
        if x.ndim == 1:
            x = x[None, :]
        if x.ndim != 2 or x.shape[1] != len(self.channels):
            raise DexumiError(
                f"input has {x.shape[-1] if x.ndim else 0} channels per frame but the map lists "
                f"{len(self.channels)} ({', '.join(self.channels)})"
            )
        if not np.all(np.isfinite(x)):
            bad = int(np.argwhere(~np.isfinite(x))[0][0])
            raise DexumiError(f"input frame {bad} has a non-finite joint angle")
        return x

    def exo_q(self, exo_channels: np.ndarray) -> np.ndarray:
        """Map channels (N, C) -> exoskeleton model q (N, exo nq)."""
        if self.exo is None:
            raise DexumiError(f"{self.source}: no exoskeleton model in the map")
        return self.check_input(exo_channels)[:, self._exo_cols]

    def fingertip_targets(self, exo_channels: np.ndarray) -> np.ndarray:
        """Exoskeleton fingertips expressed in the robot's base frame: (N, F, 3)."""
        if self.tips is None:
            raise DexumiError(f"{self.source}: no fingertip pairs between exoskeleton and robot")
        pts = self.exo.batch_positions(self.exo_q(exo_channels), self.tips.exo_frames)  # type: ignore[union-attr]
        return self.tips.alignment.apply(pts)

    def direction_targets(self, exo_channels: np.ndarray) -> np.ndarray | None:
        terms = self.map.fingertip.directions
        if not terms:
            return None
        frames = list(dict.fromkeys(f for t in terms for f in t.exo))
        pts = self.exo.batch_positions(self.exo_q(exo_channels), frames)  # type: ignore[union-attr]
        pos = {f: i for i, f in enumerate(frames)}
        out = np.empty((pts.shape[0], len(terms), 3))
        for k, t in enumerate(terms):
            out[:, k] = pts[:, pos[t.exo[1]]] - pts[:, pos[t.exo[0]]]
        out = self.tips.alignment.rotate(out)  # type: ignore[union-attr]
        return out / np.maximum(np.linalg.norm(out, axis=-1, keepdims=True), 1e-12)

    def retarget(self, exo_q: np.ndarray, timestamps: np.ndarray | None = None) -> np.ndarray:
        """(N, C) exoskeleton channels (radians) -> (N, robot nq) robot joints, within limits."""
        x = self.check_input(exo_q)
        if self.joint_mapper is not None:
            out = self.joint_mapper(x)
        else:
            out = self.solve_targets(self.fingertip_targets(x), self.direction_targets(x))
        if self.filter is not None:
            out = self.filter(out, timestamps)
        return out

    def solve_targets(self, targets: np.ndarray, dir_targets: np.ndarray | None = None) -> np.ndarray:
        """Fingertip mode on given (N, F, 3) targets in the robot frame (warm-started across calls)."""
        if self.solver is None:
            self.solver = FingertipSolver(
                self.robot, self.tips.robot_frames if self.tips else self.robot.tip_frames, settings=SolverSettings()
            )
        out, self.last_stats = self.solver.solve_batch(targets, dir_targets)
        return out

    def with_mode(self, mode: str) -> Retargeter:
        """The same map and models in another mode."""
        return Retargeter(replace(self.map, mode=mode), self.robot, self.exo, mode)

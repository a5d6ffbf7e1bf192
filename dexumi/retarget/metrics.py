"""Correspondence metrics between exoskeleton and robot: per frame and per episode.

Fingertip distance exo vs robot (mm, in the robot's base frame after alignment), joint-limit violations,
joint velocity and jerk from timestamps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from dexumi.errors import DexumiError
from dexumi.kinematics import HandKinematics


@dataclass(frozen=True)
class FrameMetrics:
    """Per-frame arrays (N = frames). ``tip_error_mm`` is None when there are no fingertip pairs."""

    tip_names: tuple[str, ...]
    tip_error_mm: np.ndarray | None  # (N, F)
    limit_excess: np.ndarray  # (N, nq) radians beyond a limit (0 inside)
    velocity: np.ndarray | None  # (N, nq) rad/s
    jerk: np.ndarray | None  # (N, nq) rad/s^3


@dataclass(frozen=True)
class EpisodeMetrics:
    """Episode summary (JSON-ready through ``to_dict``)."""

    frames: int
    tip_error_mean_mm: float | None
    tip_error_median_mm: float | None
    tip_error_p95_mm: float | None
    tip_error_max_mm: float | None
    tip_error_mean_per_tip_mm: dict[str, float]
    limit_violation_frames: int
    limit_violation_max_rad: float
    velocity_max_rad_s: float | None
    jerk_rms_rad_s3: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def tip_errors_mm(
    robot: HandKinematics, robot_q: np.ndarray, robot_frames: Sequence[str], targets: np.ndarray
) -> np.ndarray:
    """(N, F) distances in mm between robot frames at ``robot_q`` (N, nq) and ``targets`` (N, F, 3) metres."""
    p = robot.batch_positions(np.atleast_2d(robot_q), robot_frames)
    return 1000.0 * np.linalg.norm(p - np.asarray(targets, dtype=float), axis=-1)


def limit_excess(kin: HandKinematics, q: np.ndarray) -> np.ndarray:
    """(N, nq) how far each joint is outside its limits (radians, 0 inside)."""
    q = np.atleast_2d(np.asarray(q, dtype=float))
    return np.maximum(kin.lower - q, 0.0) + np.maximum(q - kin.upper, 0.0)


def derivatives(q: np.ndarray, timestamps: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(velocity, jerk), each (N, nq), by finite differences on (possibly uneven) timestamps;
    None when there are fewer than 4 frames."""
    q = np.atleast_2d(np.asarray(q, dtype=float))
    t = np.asarray(timestamps, dtype=float)
    if t.shape != (q.shape[0],):
        raise DexumiError(f"{t.size} timestamps for {q.shape[0]} frames")
    if q.shape[0] < 4:
        return None
    if np.any(np.diff(t) <= 0):
        bad = int(np.argmax(np.diff(t) <= 0)) + 1
        raise DexumiError(f"timestamps must increase strictly (frame {bad})")
    vel = np.gradient(q, t, axis=0)
    acc = np.gradient(vel, t, axis=0)
    return vel, np.gradient(acc, t, axis=0)


def frame_metrics(
    robot: HandKinematics,
    robot_q: np.ndarray,
    *,
    robot_frames: Sequence[str] = (),
    targets: np.ndarray | None = None,
    timestamps: np.ndarray | None = None,
) -> FrameMetrics:
    """Per-frame metrics; ``targets`` are the exoskeleton fingertips in the robot frame (N, F, 3)."""
    robot_q = np.atleast_2d(np.asarray(robot_q, dtype=float))
    err = tip_errors_mm(robot, robot_q, robot_frames, targets) if targets is not None and robot_frames else None
    der = derivatives(robot_q, timestamps) if timestamps is not None else None
    return FrameMetrics(
        tuple(robot_frames),
        err,
        limit_excess(robot, robot_q),
        None if der is None else der[0],
        None if der is None else der[1],
    )


def summarize(m: FrameMetrics) -> EpisodeMetrics:
    """Episode summary of per-frame metrics."""
    n = m.limit_excess.shape[0]
    e = m.tip_error_mm

    def stat(fn) -> float | None:
        return None if e is None or e.size == 0 else float(fn(e))

    return EpisodeMetrics(
        frames=n,
        tip_error_mean_mm=stat(np.mean),
        tip_error_median_mm=stat(np.median),
        tip_error_p95_mm=stat(lambda a: np.percentile(a, 95)),
        tip_error_max_mm=stat(np.max),
        tip_error_mean_per_tip_mm={} if e is None else {k: float(v) for k, v in zip(m.tip_names, e.mean(axis=0))},
        limit_violation_frames=int(np.count_nonzero(m.limit_excess.max(axis=1, initial=0.0) > 1e-9)),
        limit_violation_max_rad=float(m.limit_excess.max(initial=0.0)),
        velocity_max_rad_s=None if m.velocity is None else float(np.abs(m.velocity).max()),
        jerk_rms_rad_s3=None if m.jerk is None else float(np.sqrt(np.mean(m.jerk**2))),
    )


def evaluate(
    retargeter, exo_channels: np.ndarray, robot_q: np.ndarray, timestamps: np.ndarray | None = None
) -> tuple[FrameMetrics, EpisodeMetrics]:
    """Metrics of one retargeted episode (a ``Retargeter``'s input and output)."""
    tips = retargeter.tips
    targets = retargeter.fingertip_targets(exo_channels) if tips is not None else None
    fm = frame_metrics(
        retargeter.robot,
        robot_q,
        robot_frames=tips.robot_frames if tips else (),
        targets=targets,
        timestamps=timestamps,
    )
    return fm, summarize(fm)

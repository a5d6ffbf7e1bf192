"""Similarity transform from the exoskeleton's base frame to the robot's: p_robot = s * R @ p_exo + t."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dexumi.errors import DexumiError
from dexumi.kinematics import HandKinematics
from dexumi.retarget.mapfile import AlignSpec


@dataclass(frozen=True)
class Alignment:
    """p_robot = scale * rotation @ p_exo + translation."""

    rotation: np.ndarray
    translation: np.ndarray
    scale: float = 1.0

    @classmethod
    def identity(cls) -> Alignment:
        return cls(np.eye(3), np.zeros(3), 1.0)

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Transform (..., 3) points."""
        return self.scale * (np.asarray(points, dtype=float) @ self.rotation.T) + self.translation

    def rotate(self, vectors: np.ndarray) -> np.ndarray:
        """Rotate (..., 3) direction vectors (no scale, no translation)."""
        return np.asarray(vectors, dtype=float) @ self.rotation.T


def rpy_matrix(rpy: Sequence[float]) -> np.ndarray:
    """URDF convention: R = Rz(yaw) @ Ry(pitch) @ Rx(roll)."""
    r, p, y = rpy
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    rx = np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])
    ry = np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]])
    rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
    return rz @ ry @ rx


def fit_similarity(src: np.ndarray, dst: np.ndarray, with_scale: bool = True) -> Alignment:
    """Least-squares similarity (Umeyama) mapping (K,3) ``src`` points onto ``dst``."""
    src, dst = np.asarray(src, dtype=float).reshape(-1, 3), np.asarray(dst, dtype=float).reshape(-1, 3)
    if src.shape != dst.shape or src.shape[0] < 3:
        raise DexumiError("alignment needs at least 3 corresponding points")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    xs, xd = src - mu_s, dst - mu_d
    cov = xd.T @ xs / src.shape[0]
    u, sv, vt = np.linalg.svd(cov)
    d = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[2] = -1.0
    rot = u @ np.diag(d) @ vt
    var = (xs**2).sum() / src.shape[0]
    scale = float((sv * d).sum() / var) if with_scale and var > 0 else 1.0
    return Alignment(rot, mu_d - scale * rot @ mu_s, scale)


def auto_alignment(
    exo: HandKinematics,
    robot: HandKinematics,
    exo_frames: Sequence[str],
    robot_frames: Sequence[str],
    fractions: Sequence[float] = (0.0, 0.3),
) -> Alignment:
    """Fit the alignment on matching poses of both models: the open hand (q = 0 clipped to limits) and
    the same fraction of each joint's range towards its upper limit. A heuristic for hands that were not
    designed as a pair; prefer an explicit transform when you know it."""
    src: list[np.ndarray] = []
    dst: list[np.ndarray] = []
    for f in fractions:
        for kin, frames, out in ((exo, exo_frames, src), (robot, robot_frames, dst)):
            q0 = kin.clip(np.zeros(kin.nq))
            out.append(kin.frame_positions(q0 + f * (kin.upper - q0), frames))
    return fit_similarity(np.concatenate(src), np.concatenate(dst))


def alignment_from_spec(
    spec: AlignSpec, exo: HandKinematics, robot: HandKinematics, exo_frames: Sequence[str], robot_frames: Sequence[str]
) -> Alignment:
    """The Alignment a map's ``fingertip.align`` asks for."""
    if spec.kind == "identity":
        return Alignment.identity()
    if spec.kind == "auto":
        return auto_alignment(exo, robot, exo_frames, robot_frames)
    return Alignment(rpy_matrix(spec.rpy), np.asarray(spec.xyz, dtype=float), float(spec.scale))

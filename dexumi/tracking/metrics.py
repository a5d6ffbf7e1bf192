"""Trajectory error: APE and RPE with the formulas of `evo` (Grupp 2017), on 4×4 pose arrays.

- APE (absolute pose error), frame i: `E_i = P_ref,i⁻¹ · P_est,i`; translation part `‖trans(E_i)‖` (m),
  rotation part `angle(rot(E_i))` (deg, the angle of the axis-angle form). Reported as RMS over frames.
- RPE (relative pose error) over pairs i, j = i + delta: `E = (P_ref,i⁻¹ P_ref,j)⁻¹ · (P_est,i⁻¹ P_est,j)`.
- Alignment (`align="se3"` or `"sim3"`): Umeyama's least-squares fit of the estimate's positions onto the
  reference (rotation + translation, and scale for sim3), applied to the whole estimate before APE — for
  trajectories without an absolute frame (SfM, VO). Board tracking is compared unaligned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _angles_deg(R: np.ndarray) -> np.ndarray:
    c = (np.trace(R, axis1=-2, axis2=-1) - 1.0) / 2.0
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0)))


def umeyama(src: np.ndarray, dst: np.ndarray, scale: bool = False) -> tuple[float, np.ndarray, np.ndarray]:
    """(s, R, t) minimising Σ‖dst − (s R src + t)‖² over (n, 3) point sets (Umeyama 1991)."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    ms, md = src.mean(0), dst.mean(0)
    xs, xd = src - ms, dst - md
    cov = xd.T @ xs / len(src)
    U, D, Vt = np.linalg.svd(cov)
    S = np.eye(3)
    if np.linalg.det(U) * np.linalg.det(Vt) < 0:
        S[2, 2] = -1
    R = U @ S @ Vt
    s = float(np.trace(np.diag(D) @ S) / np.mean(np.sum(xs**2, 1))) if scale else 1.0
    return s, R, md - s * R @ ms


def align(est: np.ndarray, ref: np.ndarray, mode: str = "se3") -> tuple[np.ndarray, float]:
    """The estimate (n, 4, 4) mapped onto the reference by Umeyama (se3 or sim3); returns (aligned, scale)."""
    s, R, t = umeyama(est[:, :3, 3], ref[:, :3, 3], scale=(mode == "sim3"))
    out = est.copy()
    out[:, :3, :3] = R @ est[:, :3, :3]
    out[:, :3, 3] = (s * (R @ est[:, :3, 3].T)).T + t
    return out, s


@dataclass
class PoseError:
    """RMS, mean, median and max of translation (mm) and rotation (deg) errors over `n` poses."""

    n: int
    trans_rms_mm: float
    trans_mean_mm: float
    trans_median_mm: float
    trans_max_mm: float
    rot_rms_deg: float
    rot_mean_deg: float
    rot_max_deg: float
    scale: float = 1.0

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def _stats(t_err_m: np.ndarray, r_err_deg: np.ndarray, scale: float = 1.0) -> PoseError:
    mm = t_err_m * 1e3
    if len(mm) == 0:
        nan = float("nan")
        return PoseError(0, nan, nan, nan, nan, nan, nan, nan, scale)
    return PoseError(
        len(mm),
        float(np.sqrt(np.mean(mm**2))),
        float(mm.mean()),
        float(np.median(mm)),
        float(mm.max()),
        float(np.sqrt(np.mean(r_err_deg**2))),
        float(r_err_deg.mean()),
        float(r_err_deg.max()),
        scale,
    )


def ape(est: np.ndarray, ref: np.ndarray, align_mode: str | None = None) -> PoseError:
    """Absolute pose error of (n, 4, 4) `est` against `ref` (same frames, same times)."""
    est, ref = np.asarray(est, np.float64), np.asarray(ref, np.float64)
    scale = 1.0
    if align_mode:
        est, scale = align(est, ref, align_mode)
    E = np.linalg.inv(ref) @ est
    return _stats(np.linalg.norm(E[:, :3, 3], axis=1), _angles_deg(E[:, :3, :3]), scale)


def rpe(est: np.ndarray, ref: np.ndarray, delta: int = 1) -> PoseError:
    """Relative pose error over pairs `delta` frames apart."""
    est, ref = np.asarray(est, np.float64), np.asarray(ref, np.float64)
    dr = np.linalg.inv(ref[:-delta]) @ ref[delta:]
    de = np.linalg.inv(est[:-delta]) @ est[delta:]
    E = np.linalg.inv(dr) @ de
    return _stats(np.linalg.norm(E[:, :3, 3], axis=1), _angles_deg(E[:, :3, :3]))

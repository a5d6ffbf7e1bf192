"""Hand-eye calibration: tracker ↔ wrist camera ↔ exoskeleton base, and the pose stream's latency.

Data: a pose stream (times, 4×4 `T_world_tracker`) recorded while the wrist camera films the board from many
viewpoints (board poses `T_board_cam` at frame times, from `dexumi.tracking`). Unknowns: `X = T_tracker_cam`
(the camera in the tracker's frame), `Z = T_world_board` and the tracker's latency `d` relative to the
camera (a pose stamped at t was true at t − d). Every frame k gives `T_world_tracker(t_k + d) · X =
Z · T_board_cam(t_k)`.

1. Latency, first guess: the camera's rotation between consecutive frames equals the tracker's (a rigid mount
   turns both by the same angle), so `d` minimises Σ_k (∠cam(k, k+1) − ∠tracker(t_k + d, t_k+1 + d))²
   (a scan, then a bounded scalar fit).
2. Park–Martin on the frames resampled at `t_k + d` gives X (`cv2.calibrateHandEye` where OpenCV exports
   it — the 4.x wheels; the 5.0 wheels do not, so `park_martin` here does the same); Z follows.
3. A joint least-squares refinement of X, Z and d (scipy `least_squares`, Huber loss; translation in mm and
   rotation in mrad equally weighted) over every frame.
Residuals per frame (mm, deg) are returned and shown. `T_base_cam` (the camera in the exoskeleton base frame,
from the mount's design) combines with X into `T_tracker_base`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np
from scipy.optimize import least_squares, minimize_scalar
from scipy.spatial.transform import Rotation, Slerp

from dexumi.errors import DexumiError

log = logging.getLogger(__name__)

MIN_VIEWS = 8


@dataclass
class HandEyeResult:
    """`T_tracker_cam` (4×4), `T_world_board`, latency (s, + = the tracker is late), residual figures."""

    T_tracker_cam: np.ndarray
    T_world_board: np.ndarray
    latency_s: float
    residual_mm: np.ndarray
    residual_deg: np.ndarray
    views: int
    method: str = "park+refine"
    extra: dict = field(default_factory=dict)

    @property
    def rms_mm(self) -> float:
        return float(np.sqrt(np.mean(self.residual_mm**2)))

    @property
    def rms_deg(self) -> float:
        return float(np.sqrt(np.mean(self.residual_deg**2)))

    def summary(self) -> str:
        t = self.T_tracker_cam[:3, 3] * 1e3
        r = Rotation.from_matrix(self.T_tracker_cam[:3, :3]).as_rotvec(degrees=True)
        return (
            f"camera in tracker frame: t = [{t[0]:.1f}, {t[1]:.1f}, {t[2]:.1f}] mm, "
            f"r = [{r[0]:.2f}, {r[1]:.2f}, {r[2]:.2f}] deg; pose latency {self.latency_s * 1e3:+.1f} ms; "
            f"residual {self.rms_mm:.2f} mm / {self.rms_deg:.2f} deg RMS over {self.views} views"
        )


class PoseTrack:
    """A pose stream resampled at any time: linear position, Slerp orientation (inside its time span)."""

    def __init__(self, times: np.ndarray, poses: np.ndarray) -> None:
        t = np.asarray(times, np.float64)
        ok = np.isfinite(t) & np.all(np.isfinite(poses.reshape(len(poses), -1)), axis=1)
        if ok.sum() < 2:
            raise DexumiError("hand-eye: the pose stream has fewer than two valid samples")
        order = np.argsort(t[ok])
        self.t = t[ok][order]
        self.p = poses[ok][order][:, :3, 3]
        self.slerp = Slerp(self.t, Rotation.from_matrix(poses[ok][order][:, :3, :3]))

    def at(self, times: np.ndarray) -> np.ndarray:
        t = np.clip(np.asarray(times, np.float64), self.t[0], self.t[-1])
        T = np.tile(np.eye(4), (len(t), 1, 1))
        T[:, :3, :3] = self.slerp(t).as_matrix()
        for i in range(3):
            T[:, i, 3] = np.interp(t, self.t, self.p[:, i])
        return T

    def covers(self, times: np.ndarray, margin: float) -> np.ndarray:
        return (times - margin >= self.t[0]) & (times + margin <= self.t[-1])


def _angle(Ra: np.ndarray, Rb: np.ndarray) -> np.ndarray:
    c = (np.einsum("nji,njk->nik", Ra, Rb).trace(axis1=1, axis2=2) - 1) / 2
    return np.arccos(np.clip(c, -1, 1))


def estimate_latency(track: PoseTrack, frame_times: np.ndarray, T_board_cam: np.ndarray, max_s: float = 0.2) -> float:
    """Tracker latency from rotation speeds (step 1 above); consecutive frames only."""
    t = np.asarray(frame_times, np.float64)
    pairs = np.nonzero(np.diff(t) < 0.2)[0]
    cam = _angle(T_board_cam[pairs, :3, :3], T_board_cam[pairs + 1, :3, :3])
    moving = cam > np.radians(0.5)
    if moving.sum() < 10:
        raise DexumiError("hand-eye: the camera hardly turned between frames; move the wrist between views")
    pairs, cam = pairs[moving], cam[moving]

    def cost(d: float) -> float:
        a, b = track.at(t[pairs] + d), track.at(t[pairs + 1] + d)
        return float(np.sum((_angle(a[:, :3, :3], b[:, :3, :3]) - cam) ** 2))

    grid = np.arange(-max_s, max_s + 1e-9, 0.005)
    d0 = float(grid[np.argmin([cost(d) for d in grid])])
    res = minimize_scalar(cost, bounds=(d0 - 0.006, d0 + 0.006), method="bounded", options={"xatol": 1e-5})
    return float(res.x)


def park_martin(A: np.ndarray, C: np.ndarray, min_deg: float = 10.0) -> np.ndarray:
    """X solving A_k X = Z C_k (Park & Martin 1994) from pairs of views: a = A_i⁻¹A_j, b = C_i⁻¹C_j, a X = X b;
    the rotation aligns the motions' axis-angle vectors (log R_a = R_X log R_b, Kabsch), the translation solves
    (R_a − I) t_X = R_X t_b − t_a in least squares. Pairs turning less than `min_deg` are skipped."""
    n = len(A)
    i, j = np.triu_indices(n, 1)
    a = np.linalg.inv(A[i]) @ A[j]
    b = np.linalg.inv(C[i]) @ C[j]
    alpha = Rotation.from_matrix(a[:, :3, :3]).as_rotvec()
    beta = Rotation.from_matrix(b[:, :3, :3]).as_rotvec()
    keep = np.linalg.norm(alpha, axis=1) > np.radians(min_deg)
    if keep.sum() < 3:
        raise DexumiError("hand-eye: too few pairs of views that differ in rotation; tilt the wrist more")
    a, b, alpha, beta = a[keep], b[keep], alpha[keep], beta[keep]
    U, _, Vt = np.linalg.svd(alpha.T @ beta)
    S = np.diag([1.0, 1.0, np.sign(np.linalg.det(U @ Vt))])
    R = U @ S @ Vt
    M = (a[:, :3, :3] - np.eye(3)).reshape(-1, 3)
    rhs = (np.einsum("ij,nj->ni", R, b[:, :3, 3]) - a[:, :3, 3]).reshape(-1)
    t = np.linalg.lstsq(M, rhs, rcond=None)[0]
    X = np.eye(4)
    X[:3, :3], X[:3, 3] = R, t
    return X


def _T(v: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = Rotation.from_rotvec(v[:3]).as_matrix()
    T[:3, 3] = v[3:6]
    return T


def _v(T: np.ndarray) -> np.ndarray:
    return np.concatenate([Rotation.from_matrix(T[:3, :3]).as_rotvec(), T[:3, 3]])


def _residuals(A: np.ndarray, B: np.ndarray, X: np.ndarray, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: translation (m) and rotation (rad) of (Z B)⁻¹ (A X)."""
    E = np.linalg.inv(Z @ B) @ (A @ X)
    return np.linalg.norm(E[:, :3, 3], axis=1), _angle(np.tile(np.eye(3), (len(E), 1, 1)), E[:, :3, :3])


def calibrate_hand_eye(
    track_times: np.ndarray,
    T_world_tracker: np.ndarray,
    frame_times: np.ndarray,
    T_board_cam: np.ndarray,
    max_latency_s: float = 0.2,
) -> HandEyeResult:
    """Solve X = T_tracker_cam, Z = T_world_board and the latency from tracked board views (see above)."""
    ft = np.asarray(frame_times, np.float64)
    B = np.asarray(T_board_cam, np.float64)
    ok = np.isfinite(ft) & np.all(np.isfinite(B.reshape(len(B), -1)), axis=1)
    ft, B = ft[ok], B[ok]
    if len(ft) < MIN_VIEWS:
        raise DexumiError(
            f"hand-eye: only {len(ft)} board views (need {MIN_VIEWS}+): show the board from more "
            "viewpoints while the tracker is tracking"
        )
    track = PoseTrack(track_times, T_world_tracker)
    inside = track.covers(ft, max_latency_s)
    ft, B = ft[inside], B[inside]
    if len(ft) < MIN_VIEWS:
        raise DexumiError("hand-eye: the pose stream does not cover the board views in time")
    d = estimate_latency(track, ft, B, max_latency_s)
    A = track.at(ft + d)
    Rg, tg = list(A[:, :3, :3]), list(A[:, :3, 3])
    Bi = np.linalg.inv(B)  # board in camera (target2cam)
    spread = np.degrees(_angle(A[:1, :3, :3].repeat(len(A), 0), A[:, :3, :3])).max()
    if spread < 10:
        raise DexumiError(
            f"hand-eye: the views differ by only {spread:.0f} deg of rotation (need 10+): tilt and "
            "roll the wrist between views"
        )
    if hasattr(cv2, "calibrateHandEye"):  # OpenCV 4.x; the OpenCV 5 wheels do not export it
        R, t = cv2.calibrateHandEye(Rg, tg, list(Bi[:, :3, :3]), list(Bi[:, :3, 3]), method=cv2.CALIB_HAND_EYE_PARK)
        X = np.eye(4)
        X[:3, :3], X[:3, 3] = R, np.ravel(t)
        method = "opencv-park"
    else:
        X, method = park_martin(A, B), "park"
    Zs = A @ X @ Bi
    Z = np.eye(4)
    Z[:3, :3] = Rotation.from_matrix(Zs[:, :3, :3]).mean().as_matrix()
    Z[:3, 3] = np.median(Zs[:, :3, 3], axis=0)

    def fun(p: np.ndarray) -> np.ndarray:
        Ap = track.at(ft + p[12])
        E = np.linalg.inv(_T(p[6:12]) @ B) @ (Ap @ _T(p[:6]))
        rot = Rotation.from_matrix(E[:, :3, :3]).as_rotvec() * 1e3  # mrad
        return np.concatenate([E[:, :3, 3].ravel() * 1e3, rot.ravel()])  # mm

    p0 = np.concatenate([_v(X), _v(Z), [d]])
    sol = least_squares(
        fun, p0, loss="huber", f_scale=3.0, x_scale=np.r_[[0.01] * 3, [0.01] * 3, [0.01] * 3, [0.01] * 3, [0.005]]
    )
    X, Z, d = _T(sol.x[:6]), _T(sol.x[6:12]), float(sol.x[12])
    rt, rr = _residuals(track.at(ft + d), B, X, Z)
    log.info("hand-eye: %d views, latency %.2f ms, residual %.2f mm", len(ft), d * 1e3, np.sqrt(np.mean(rt**2)) * 1e3)
    return HandEyeResult(X, Z, d, rt * 1e3, np.degrees(rr), len(ft), method + "+refine")


def tracker_to_base(T_tracker_cam: np.ndarray, T_base_cam: np.ndarray) -> np.ndarray:
    """The exoskeleton base in the tracker frame, from the hand-eye result and the camera mount."""
    return np.asarray(T_tracker_cam) @ np.linalg.inv(np.asarray(T_base_cam))

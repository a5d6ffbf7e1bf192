"""Camera pose from target points (PnP) through a pinhole or fisheye lens, with a quality figure.

Image points are first undistorted to normalised coordinates with the camera's own lens model
(`cv2.undistortPoints` / `cv2.fisheye.undistortPoints`), so one PnP path serves both lenses. The points of a
flat target are solved with `SOLVEPNP_IPPE` (both of its solutions tried), refined with Levenberg-Marquardt
(`solvePnPRefineLM`); points reprojecting worse than `OUTLIER_PX` are dropped and the pose solved again.
The reprojection error is measured in pixels through the real lens.

Quality (0..1, `PoseSample.quality`): `min(1, points / 24) · exp(−rms_px / 1.5)`; the state is TRACKING with
at least `MIN_POINTS` points and a reprojection under `MAX_RMS_PX`, LIMITED with 4+ points under
`LIMITED_RMS_PX`, else LOST.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dexumi.pose_sample import LIMITED, LOST, TRACKING
from dexumi.tracking.target import Observation

MIN_POINTS = 12
MAX_RMS_PX = 1.5
LIMITED_RMS_PX = 4.0
OUTLIER_PX = 3.0


@dataclass(frozen=True)
class Intrinsics:
    """A camera's lens: 3×3 matrix, distortion (pinhole k1 k2 p1 p2 k3; fisheye k1..k4), model, size."""

    matrix: np.ndarray
    distortion: np.ndarray
    model: str = "pinhole"
    width: int = 0
    height: int = 0

    @classmethod
    def from_camera_spec(cls, cam) -> Intrinsics:
        """The simulated rig's camera (`dexumi.sim.scene.CameraSpec`): its exact lens."""
        return cls(cam.K(), cam.dist(), cam.lens, cam.width, cam.height)

    @classmethod
    def from_profile(cls, cam) -> Intrinsics:
        """A calibration profile's `CameraIntrinsics`."""
        return cls(
            np.asarray(cam.matrix, np.float64), np.asarray(cam.distortion, np.float64), cam.model, cam.width, cam.height
        )

    def undistort(self, pts: np.ndarray) -> np.ndarray:
        p = np.asarray(pts, np.float64).reshape(-1, 1, 2)
        crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 1e-10)
        if self.model == "fisheye":
            out = cv2.fisheye.undistortPoints(p, self.matrix, self.distortion, criteria=crit)
        else:
            out = cv2.undistortPoints(p, self.matrix, self.distortion, None, None, None, crit)
        return out.reshape(-1, 2)

    def project(self, obj: np.ndarray, rvec: np.ndarray, tvec: np.ndarray) -> np.ndarray:
        o = np.asarray(obj, np.float64).reshape(-1, 1, 3)
        if self.model == "fisheye":
            p, _ = cv2.fisheye.projectPoints(
                o, rvec.reshape(1, 1, 3), tvec.reshape(1, 1, 3), self.matrix, self.distortion
            )
        else:
            p, _ = cv2.projectPoints(o, rvec, tvec, self.matrix, self.distortion)
        return p.reshape(-1, 2)


@dataclass
class PnPResult:
    """`T_target_cam` 4×4 (the camera in the target/board frame, OpenCV axes), or None when not solved."""

    T_target_cam: np.ndarray | None
    points: int
    rms_px: float
    state: int
    quality: float


def _to_T(rvec: np.ndarray, tvec: np.ndarray) -> np.ndarray:
    """Camera in the target frame from the target-in-camera (rvec, tvec)."""
    R, _ = cv2.Rodrigues(rvec)
    T = np.eye(4)
    T[:3, :3] = R.T
    T[:3, 3] = -R.T @ np.ravel(tvec)
    return T


def _solve(obj: np.ndarray, norm: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    eye, none = np.eye(3), np.zeros(0)
    best = None
    try:
        n, rvecs, tvecs, errs = cv2.solvePnPGeneric(obj, norm, eye, none, flags=cv2.SOLVEPNP_IPPE)
    except cv2.error:
        n = 0
    for k in range(int(n)):
        r, t = cv2.solvePnPRefineLM(obj, norm, eye, none, rvecs[k].copy(), tvecs[k].copy())
        err = float(np.mean(np.sum((cv2.projectPoints(obj, r, t, eye, none)[0].reshape(-1, 2) - norm) ** 2, 1)))
        if float(np.ravel(t)[2]) > 0 and (best is None or err < best[0]):
            best = (err, r, t)
    return None if best is None else (best[1], best[2])


def solve_pose(obs: Observation, lens: Intrinsics) -> PnPResult:
    """The camera's pose from one image's target points."""
    if len(obs) < 4:
        return PnPResult(None, len(obs), float("nan"), LOST, 0.0)
    obj = obs.object_points.astype(np.float64)
    norm = lens.undistort(obs.image_points)
    keep = np.ones(len(obj), bool)
    sol = None
    for _ in range(2):
        sol = _solve(obj[keep], norm[keep])
        if sol is None:
            return PnPResult(None, int(keep.sum()), float("nan"), LOST, 0.0)
        err = np.linalg.norm(lens.project(obj, *sol) - obs.image_points, axis=1)
        new = err < OUTLIER_PX
        if new.sum() < 4 or np.array_equal(new, keep) or not (~new & keep).any():
            break
        keep = new
    assert sol is not None  # the loop ran and returned on None
    rvec, tvec = sol
    err = np.linalg.norm(lens.project(obj[keep], rvec, tvec) - obs.image_points[keep], axis=1)
    rms = float(np.sqrt(np.mean(err**2)))
    n = int(keep.sum())
    quality = float(min(1.0, n / 24.0) * np.exp(-rms / 1.5))
    if n >= MIN_POINTS and rms <= MAX_RMS_PX:
        state = TRACKING
    elif n >= 4 and rms <= LIMITED_RMS_PX:
        state = LIMITED
    else:
        return PnPResult(None, n, rms, LOST, 0.0)
    return PnPResult(_to_T(rvec, tvec), n, rms, state, quality)

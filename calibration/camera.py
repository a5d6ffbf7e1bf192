"""Camera intrinsics from ChArUco views: detection, coverage of the image, pinhole or fisheye calibration.

Detection is `cv2.aruco.CharucoDetector`; corners are matched to board points with `matchImagePoints`;
calibration is `cv2.calibrateCamera` (pinhole, k1 k2 p1 p2 k3) or `cv2.fisheye.calibrate` (k1..k4, for wide
wrist lenses). A calibration is refused with a one-line reason when it has too few usable views or the
corners did not cover enough of the image (distortion at the edges would be a guess).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from calibration.board import BoardSpec
from calibration.profile import CameraIntrinsics
from dexumi.errors import DexumiError

log = logging.getLogger(__name__)

MIN_CORNERS = 8  # corners a view needs to be used
COVERAGE_GRID = (8, 6)  # columns, rows of the occupancy map


@dataclass
class Detection:
    """ChArUco corners found in one image: pixel positions (n, 2), ids (n,), board points (n, 3) in metres."""

    corners: np.ndarray
    ids: np.ndarray
    object_points: np.ndarray
    markers: int

    def __len__(self) -> int:
        return len(self.ids)


class BoardDetector:
    """Finds the board's corners in images (grey or BGR)."""

    def __init__(self, spec: BoardSpec) -> None:
        self.spec = spec
        self.board = spec.board()
        params = cv2.aruco.CharucoParameters()
        params.tryRefineMarkers = True
        self.detector = cv2.aruco.CharucoDetector(self.board, params)

    def detect(self, image: np.ndarray) -> Detection | None:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        corners, ids, marker_corners, marker_ids = self.detector.detectBoard(gray)
        if ids is None or corners is None or len(ids) < 4:
            return None
        obj, img = self.board.matchImagePoints(corners, ids)  # type: ignore[call-overload, unused-ignore]  # OpenCV's stub wants a list; the array is what detectBoard gives
        return Detection(
            np.asarray(img, np.float64).reshape(-1, 2),
            np.asarray(ids).ravel(),
            np.asarray(obj, np.float64).reshape(-1, 3),
            0 if marker_ids is None else len(marker_ids),
        )


def occupancy(
    detections: Sequence[Detection], size: tuple[int, int], grid: tuple[int, int] = COVERAGE_GRID
) -> np.ndarray:
    """Corner counts per cell of a `grid` (cols, rows) laid over the image (width, height): (rows, cols)."""
    cols, rows = grid
    w, h = size
    occ = np.zeros((rows, cols), np.int64)
    for d in detections:
        cx = np.clip((d.corners[:, 0] / w * cols).astype(int), 0, cols - 1)
        cy = np.clip((d.corners[:, 1] / h * rows).astype(int), 0, rows - 1)
        np.add.at(occ, (cy, cx), 1)
    return occ


def coverage(occ: np.ndarray) -> float:
    """Fraction of grid cells that saw at least one corner."""
    return float(np.count_nonzero(occ)) / occ.size


@dataclass
class CameraCalibration:
    """The result, with the figures that say whether to trust it."""

    model: str
    width: int
    height: int
    matrix: np.ndarray
    distortion: np.ndarray
    rms_px: float
    per_view_rms_px: np.ndarray
    views: int
    occupancy: np.ndarray
    serial: str = ""
    rejected_views: int = 0
    flags: dict = field(default_factory=dict)

    @property
    def coverage(self) -> float:
        return coverage(self.occupancy)

    def intrinsics(self) -> CameraIntrinsics:
        return CameraIntrinsics(
            self.model,
            self.width,
            self.height,
            [[float(v) for v in r] for r in self.matrix],
            [float(v) for v in np.ravel(self.distortion)],
            float(self.rms_px),
            self.views,
            round(self.coverage, 4),
        )

    def summary(self) -> str:
        k = self.matrix
        return (
            f"{self.model} {self.width}x{self.height}: fx {k[0, 0]:.2f} fy {k[1, 1]:.2f} cx {k[0, 2]:.2f} "
            f"cy {k[1, 2]:.2f}; reprojection {self.rms_px:.3f} px RMS over {self.views} views; "
            f"coverage {100 * self.coverage:.0f}% of the image"
        )


def calibrate(
    detections: Sequence[Detection | None],
    size: tuple[int, int],
    model: str = "pinhole",
    *,
    min_views: int = 10,
    min_coverage: float = 0.5,
    serial: str = "",
) -> CameraCalibration:
    """Intrinsics from board detections in images of `size` (width, height). DexumiError with a clear reason
    when there are too few usable views or the corners covered too little of the image."""
    if model not in ("pinhole", "fisheye"):
        raise DexumiError(f"camera model must be pinhole or fisheye, not {model!r}")
    usable = [d for d in detections if d is not None and len(d) >= MIN_CORNERS]
    rejected = len(detections) - len(usable)
    if len(usable) < min_views:
        raise DexumiError(
            f"only {len(usable)} usable board views (need at least {min_views}, each with "
            f"{MIN_CORNERS}+ corners): show the board at more positions and angles"
        )
    occ = occupancy(usable, size)
    cov = coverage(occ)
    if cov < min_coverage:
        raise DexumiError(
            f"the board covered only {100 * cov:.0f}% of the image (need {100 * min_coverage:.0f}%): "
            "move it into the corners and edges too"
        )
    w, h = size
    obj = [d.object_points.astype(np.float32) for d in usable]
    img = [d.corners.astype(np.float32) for d in usable]
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-9)
    if model == "pinhole":
        rms, k, dist, rvecs, tvecs = cv2.calibrateCamera(obj, img, (w, h), None, None, criteria=crit)
        dist = np.ravel(dist)[:5]
    else:
        k0 = np.array([[w / 2.0, 0, w / 2.0], [0, w / 2.0, h / 2.0], [0, 0, 1]])
        try:
            rms, k, dist, rvecs, tvecs = cv2.fisheye.calibrate(
                [o.reshape(1, -1, 3).astype(np.float64) for o in obj],
                [i.reshape(1, -1, 2).astype(np.float64) for i in img],
                (w, h),
                k0,
                np.zeros(4),
                flags=cv2.CALIB_RECOMPUTE_EXTRINSIC | cv2.CALIB_FIX_SKEW,
                criteria=crit,
            )
        except cv2.error as exc:
            raise DexumiError(
                f"fisheye calibration did not converge ({str(exc).strip().splitlines()[-1][:120]}); "
                "capture more varied views"
            ) from None
        dist = np.ravel(dist)
    per_view = []
    for o, i, r, t in zip(obj, img, rvecs, tvecs):
        if model == "pinhole":
            p, _ = cv2.projectPoints(o, r, t, k, dist)
        else:
            p, _ = cv2.fisheye.projectPoints(o.reshape(1, -1, 3).astype(np.float64), r, t, k, dist)
        per_view.append(float(np.sqrt(np.mean(np.sum((p.reshape(-1, 2) - i) ** 2, axis=1)))))
    if not math.isfinite(rms):
        raise DexumiError("camera calibration failed (non-finite error); capture more varied views")
    log.info("camera %s: %s rms %.3f px over %d views", serial, model, rms, len(usable))
    return CameraCalibration(
        model,
        w,
        h,
        np.asarray(k, np.float64),
        np.asarray(dist, np.float64),
        float(rms),
        np.asarray(per_view),
        len(usable),
        occ,
        serial,
        rejected,
    )


def draw_detection(image: np.ndarray, det: Detection | None) -> np.ndarray:
    """A BGR copy of `image` with the detected corners drawn (for the wizard's live view)."""
    out = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()
    if det is not None and len(det):
        cv2.aruco.drawDetectedCornersCharuco(
            out, det.corners.reshape(-1, 1, 2).astype(np.float32), det.ids.reshape(-1, 1).astype(np.int32), (0, 255, 0)
        )
    return out

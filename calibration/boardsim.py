"""Render the ChArUco board as a camera with known intrinsics and lens distortion sees it.

Every output pixel is traced back through the lens (OpenCV's own inverse of the distortion model, pinhole or
fisheye; computed once per camera), intersected with the board plane and sampled from a high-resolution
board texture, with 2× supersampling. Used by tests (known intrinsics must come back) and as the `--sim`
camera of the calibration wizard.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from calibration.board import BoardSpec
from dexumi.devices.cameras.base import CameraSettings, CameraSource
from dexumi.errors import DexumiError
from dexumi.types import CameraFrame

BACKGROUND = 110


@dataclass
class Lens:
    """A camera's true intrinsics: OpenCV matrix and distortion (pinhole: k1 k2 p1 p2 k3; fisheye: k1..k4)."""

    width: int = 640
    height: int = 480
    fx: float = 520.0
    fy: float = 515.0
    cx: float = 322.0
    cy: float = 236.0
    distortion: tuple[float, ...] = (-0.22, 0.06, 0.0008, -0.0005, 0.0)
    model: str = "pinhole"

    @property
    def matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], np.float64)

    @property
    def dist(self) -> np.ndarray:
        return np.asarray(self.distortion, np.float64)

    def project(self, pts: np.ndarray, rvec: np.ndarray, tvec: np.ndarray) -> np.ndarray:
        pts = np.asarray(pts, np.float64).reshape(-1, 1, 3)
        if self.model == "fisheye":
            out, _ = cv2.fisheye.projectPoints(
                pts, rvec.reshape(1, 1, 3), tvec.reshape(1, 1, 3), self.matrix, self.dist
            )
        else:
            out, _ = cv2.projectPoints(pts, rvec, tvec, self.matrix, self.dist)
        return out.reshape(-1, 2)

    def rays(self, supersample: int) -> np.ndarray:
        """Undistorted normalised image coordinates (h·s, w·s, 2) of every (super)pixel centre."""
        s = supersample
        u = (np.arange(self.width * s) + 0.5) / s - 0.5
        v = (np.arange(self.height * s) + 0.5) / s - 0.5
        uu, vv = np.meshgrid(u, v)
        pts = np.stack([uu, vv], -1).reshape(-1, 1, 2)
        if self.model == "fisheye":
            und = cv2.fisheye.undistortPoints(
                pts, self.matrix, self.dist, criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-10)
            )
        else:
            und = cv2.undistortPoints(
                pts,
                self.matrix,
                self.dist,
                None,
                None,
                None,
                (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-10),
            )
        return und.reshape(self.height * s, self.width * s, 2).astype(np.float64)


class BoardRenderer:
    """Renders `spec` through `lens` at poses (rvec, tvec) of the board frame in the camera (metres)."""

    def __init__(
        self,
        spec: BoardSpec,
        lens: Lens,
        supersample: int = 2,
        px_per_mm: float = 8.0,
        noise: float = 1.5,
        seed: int = 0,
    ) -> None:
        self.spec, self.lens, self.s = spec, lens, supersample
        pps = int(round(spec.square_mm * px_per_mm))
        self.px_per_mm = pps / spec.square_mm
        self.margin_px = int(round(6 * self.px_per_mm))
        self.texture = spec.image(pps, self.margin_px)
        self.rays = lens.rays(supersample)
        self.noise = noise
        self.rng = np.random.default_rng(seed)

    def render(self, rvec: np.ndarray, tvec: np.ndarray) -> np.ndarray:
        """Grey uint8 image (height, width)."""
        rot, _ = cv2.Rodrigues(np.asarray(rvec, np.float64))
        h = np.column_stack([rot[:, 0], rot[:, 1], np.asarray(tvec, np.float64).ravel()])
        hinv = np.linalg.inv(h)
        x, y = self.rays[..., 0], self.rays[..., 1]
        bx = hinv[0, 0] * x + hinv[0, 1] * y + hinv[0, 2]
        by = hinv[1, 0] * x + hinv[1, 1] * y + hinv[1, 2]
        bw = hinv[2, 0] * x + hinv[2, 1] * y + hinv[2, 2]
        valid = bw > 1e-9  # the board is in front of the camera along this ray
        with np.errstate(divide="ignore", invalid="ignore"):
            mx = (bx / bw * 1000.0) * self.px_per_mm + self.margin_px - 0.5
            my = (by / bw * 1000.0) * self.px_per_mm + self.margin_px - 0.5
        mx[~valid] = -1e6
        my[~valid] = -1e6
        big = cv2.remap(
            self.texture,
            mx.astype(np.float32),
            my.astype(np.float32),
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=BACKGROUND,
        )
        img = cv2.resize(big, (self.lens.width, self.lens.height), interpolation=cv2.INTER_AREA)
        if self.noise:
            img = np.clip(img + self.rng.normal(0, self.noise, img.shape), 0, 255).astype(np.uint8)
        return img


def board_in_view(spec: BoardSpec, lens: Lens, rvec: np.ndarray, tvec: np.ndarray, margin: float = 8.0) -> bool:
    """True when all four board corners project inside the image (with a margin, in pixels)."""
    w, h = spec.size_mm
    outline = np.array([[0, 0, 0], [w, 0, 0], [w, h, 0], [0, h, 0]], np.float64) / 1000.0
    p = lens.project(outline, np.asarray(rvec, np.float64), np.asarray(tvec, np.float64))
    return bool(
        np.all(np.isfinite(p))
        and np.all(p[:, 0] > margin)
        and np.all(p[:, 1] > margin)
        and np.all(p[:, 0] < lens.width - margin)
        and np.all(p[:, 1] < lens.height - margin)
    )


def view_poses(
    spec: BoardSpec, lens: Lens, n: int, seed: int = 0, tilt_deg: float = 35.0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """`n` board poses spread over the image (centre of the board aimed at a grid of image points), tilted
    up to `tilt_deg` about both axes, every board corner in view."""
    rng = np.random.default_rng(seed)
    w_m, h_m = (v / 1000.0 for v in spec.size_mm)
    centre = np.array([w_m / 2, h_m / 2, 0.0])
    fov_w = lens.width / lens.fx
    targets = [(gx, gy) for gy in (0.25, 0.5, 0.75) for gx in (0.22, 0.5, 0.78)]
    poses: list[tuple[np.ndarray, np.ndarray]] = []
    attempts = 0
    while len(poses) < n:
        attempts += 1
        if attempts > 200 * n:
            raise DexumiError("could not place the board in view; is the lens field of view tiny?")
        gx, gy = targets[len(poses) % len(targets)]
        fill = rng.uniform(0.45, 0.75)
        z = w_m / (fill * fov_w)
        ang = np.radians(rng.uniform(-tilt_deg, tilt_deg, 2))
        rot, _ = cv2.Rodrigues(np.array([ang[0], ang[1], rng.uniform(-0.3, 0.3)]))
        ux = (gx * lens.width - lens.cx) / lens.fx
        uy = (gy * lens.height - lens.cy) / lens.fy
        tvec = z * np.array([ux, uy, 1.0]) - rot @ centre
        rvec = cv2.Rodrigues(rot)[0].ravel()
        if board_in_view(spec, lens, rvec, tvec):
            poses.append((rvec, tvec))
    return poses


@dataclass
class BoardSimConfig:
    name: str = "wrist0"
    serial: str = "SIM-CAM-0001"
    lens: Lens = field(default_factory=Lens)
    board: BoardSpec = field(default_factory=BoardSpec)
    views: int = 24
    fps: float = 10.0
    seed: int = 0


class BoardSimCamera(CameraSource):
    """A camera that films the board at `views` poses, one per frame, then ends (a finite source)."""

    counts_frames = True
    device_time_is_host_clock = True

    def __init__(self, config: BoardSimConfig | None = None) -> None:
        self.config = config or BoardSimConfig()
        super().__init__(self.config.name, f"sim-board:{self.config.serial}")
        self.serial = self.config.serial
        self.renderer: BoardRenderer | None = None
        self.poses: list[tuple[np.ndarray, np.ndarray]] = []
        self._k = 0
        self._t0 = 0.0

    def open(self) -> BoardSimCamera:
        c = self.config
        self.renderer = BoardRenderer(c.board, c.lens, seed=c.seed)
        self.poses = view_poses(c.board, c.lens, c.views, c.seed)
        self.granted = CameraSettings(c.lens.width, c.lens.height, c.fps, "GREY")
        self._k, self._t0 = 0, time.monotonic()
        self.opened = True
        return self

    def read(self) -> CameraFrame | None:
        if not self.opened or self.renderer is None:
            raise DexumiError(f"camera {self.spec!r} is not open")
        if self._k >= len(self.poses):
            return None
        rvec, tvec = self.poses[self._k]
        due = self._t0 + self._k / self.config.fps
        if due > time.monotonic():
            time.sleep(due - time.monotonic())
        img = cv2.cvtColor(self.renderer.render(rvec, tvec), cv2.COLOR_GRAY2BGR)
        frame = CameraFrame(self.name, self._k, time.monotonic(), img, "bgr", img.shape[1], img.shape[0], due)
        self._k += 1
        return frame

    def close(self) -> None:
        self.opened = False

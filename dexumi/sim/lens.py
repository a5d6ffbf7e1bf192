"""Lens distortion applied to a rendered image as a real lens would.

MuJoCo renders an ideal pinhole image. A distorted camera is rendered on a wider *canvas* with the same focal
length; each output pixel (u, v) is traced back through the lens model (OpenCV pinhole k1 k2 p1 p2 k3, or the
OpenCV fisheye k1..k4) to its undistorted direction, and looked up in the canvas (`cv2.remap`). Pixels whose
ray falls outside the canvas (beyond `MAX_CANVAS` × the image) are black, like a fisheye's vignetted corners.
Projecting a world point with `cv2.projectPoints` / `cv2.fisheye.projectPoints` and `CameraSpec.K()`,
`CameraSpec.dist()` gives exactly where the renderer draws it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    from dexumi.sim.scene import CameraSpec

MAX_CANVAS = 1.6  # the canvas is at most this many times the image size per side


def undistorted_rays(K: np.ndarray, dist: np.ndarray, fisheye: bool, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Normalised undistorted image coordinates (n, 2) of pixels (u, v) of an OpenCV pinhole or fisheye lens."""
    pts = np.stack([u, v], axis=-1).reshape(-1, 1, 2).astype(np.float64)
    K, dist = np.asarray(K, np.float64), np.asarray(dist, np.float64)
    if fisheye:
        crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 30, 1e-10)
        out = cv2.fisheye.undistortPoints(pts, K, dist, criteria=crit)
    else:
        out = cv2.undistortPoints(
            pts, K, dist, None, None, None, (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 40, 1e-10)
        )
    return out.reshape(-1, 2)


def canvas_half_size(
    width: int, height: int, focal_px: float, rays_of: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> tuple[float, float]:
    """Half width and height (px, at `focal_px`) of the pinhole canvas that holds the rays of the image's corners
    and edge midpoints (`rays_of(u, v)`), at least the image and at most `MAX_CANVAS` times it per side."""
    w, h = width, height
    cx, cy = (w - 1) / 2, (h - 1) / 2
    edge = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1], [cx, 0], [cx, h - 1], [0, cy], [w - 1, cy]])
    rays = rays_of(edge[:, 0].astype(np.float64), edge[:, 1].astype(np.float64))
    half_w = min(MAX_CANVAS * w / 2, float(np.max(np.abs(rays[:, 0]))) * focal_px + 2)
    half_h = min(MAX_CANVAS * h / 2, float(np.max(np.abs(rays[:, 1]))) * focal_px + 2)
    return max(half_w, w / 2), max(half_h, h / 2)


def _undistorted_rays(cam: CameraSpec, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return undistorted_rays(cam.K(), cam.dist(), cam.lens == "fisheye", u, v)


def needs_lens(cam: CameraSpec) -> bool:
    return cam.lens == "fisheye" or any(abs(d) > 0 for d in cam.distortion)


@dataclass
class Canvas:
    width: int
    height: int
    focal_px: float

    @property
    def fovy_deg(self) -> float:
        return math.degrees(2 * math.atan(self.height / 2.0 / self.focal_px))


def canvas(cam: CameraSpec) -> Canvas:
    """The ideal pinhole image to render for `cam` (same focal length, wide enough for its distortion)."""
    if not needs_lens(cam):
        return Canvas(cam.width, cam.height, cam.focal_px)
    half_w, half_h = canvas_half_size(cam.width, cam.height, cam.focal_px, lambda u, v: _undistorted_rays(cam, u, v))
    f = cam.focal_px
    s = min(max(float(cam.canvas_scale), 0.25), 1.0)
    return Canvas(int(math.ceil(half_w * s)) * 2, int(math.ceil(half_h * s)) * 2, f * s)


def render_fovy_deg(cam: CameraSpec) -> float:
    return canvas(cam).fovy_deg


class Lens:
    """Maps a canvas render to the distorted image (`apply`), nearest-neighbour for labels and depth."""

    def __init__(self, cam: CameraSpec) -> None:
        self.cam = cam
        self.canvas = canvas(cam)
        self.identity = not needs_lens(cam)
        if self.identity:
            return
        u, v = np.meshgrid(np.arange(cam.width, dtype=np.float64), np.arange(cam.height, dtype=np.float64))
        rays = _undistorted_rays(cam, u.ravel(), v.ravel())
        c = self.canvas
        mx = rays[:, 0] * c.focal_px + (c.width - 1) / 2.0
        my = rays[:, 1] * c.focal_px + (c.height - 1) / 2.0
        self.map_x = mx.reshape(cam.height, cam.width).astype(np.float32)
        self.map_y = my.reshape(cam.height, cam.width).astype(np.float32)
        self.map_x_i, self.map_y_i = cv2.convertMaps(self.map_x, self.map_y, cv2.CV_16SC2)
        # the same lookup into a canvas stored bottom row first (OpenGL's order): the flip comes for free
        self.gl_map_x, self.gl_map_y = cv2.convertMaps(self.map_x, (c.height - 1) - self.map_y, cv2.CV_16SC2)

    def apply_gl(self, image: np.ndarray) -> np.ndarray:
        """`apply` for a canvas read from OpenGL (bottom row first), bilinear: one pass, no separate flip."""
        if self.identity:
            return cv2.flip(image, 0)
        return cv2.remap(
            image, self.gl_map_x, self.gl_map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )

    def apply(self, image: np.ndarray, nearest: bool = False) -> np.ndarray:
        if self.identity:
            return image
        if nearest:
            return cv2.remap(
                image, self.map_x, self.map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0
            )
        return cv2.remap(
            image, self.map_x_i, self.map_y_i, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )

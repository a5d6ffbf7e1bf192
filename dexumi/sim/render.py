"""Rendering one wrist camera of the world: RGB, depth, per-part segmentation, lens, exposure and noise.

`CameraRenderer(world, "wrist0")` renders the world's current state. The ideal pinhole render (MuJoCo, EGL on
Mesa llvmpipe) is taken through the camera's lens (`dexumi.sim.lens`), then exposure (a gain) and sensor noise
(Gaussian read noise + shot noise, seeded by frame number, so the same seed gives the same bytes) are applied.
`jpeg()` gives what an MJPG camera would send.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from dexumi.sim.lens import Lens


class CameraRenderer:
    def __init__(self, world, camera: str, exposure: float = 1.0, noise: float = 2.0, seed: int = 0,
                 quality: int = 80) -> None:
        import mujoco

        self.world, self.camera = world, camera
        self.spec = world.camera_spec(camera)
        self.lens = Lens(self.spec)
        c = self.lens.canvas
        self.exposure, self.noise, self.seed, self.quality = exposure, noise, seed, quality
        self._r = mujoco.Renderer(world.model, c.height, c.width)
        self._seg: Any = None  # mujoco.Renderer, made on first use
        self._depth: Any = None  # mujoco.Renderer, made on first use

    def close(self) -> None:
        for r in (self._r, self._seg, self._depth):
            if r is not None:
                r.close()

    def _canvas_rgb(self) -> np.ndarray:
        self._r.update_scene(self.world.data, self.camera)
        return self._r.render()

    def rgb(self, frame: int = 0) -> np.ndarray:
        """The camera's image (H, W, 3) RGB uint8 after lens, exposure and noise (noise seeded by `frame`)."""
        img = self.lens.apply(self._canvas_rgb())
        if self.exposure != 1.0 or self.noise > 0:
            x = img.astype(np.float32) * self.exposure
            if self.noise > 0:
                rng = np.random.default_rng([self.seed, frame, 7])
                x += rng.standard_normal(x.shape, np.float32) * (self.noise * np.sqrt(1.0 + x / 64.0))
            img = np.clip(x + 0.5, 0, 255).astype(np.uint8)
        return img

    def bgr(self, frame: int = 0) -> np.ndarray:
        return cv2.cvtColor(self.rgb(frame), cv2.COLOR_RGB2BGR)

    def jpeg(self, frame: int = 0) -> bytes:
        ok, buf = cv2.imencode(".jpg", self.bgr(frame), [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        return buf.tobytes()

    def depth(self) -> np.ndarray:
        """Depth (H, W) float32 in metres along the optical axis (0 where nothing is seen)."""
        import mujoco

        if self._depth is None:
            c = self.lens.canvas
            self._depth = mujoco.Renderer(self.world.model, c.height, c.width)
            self._depth.enable_depth_rendering()
        self._depth.update_scene(self.world.data, self.camera)
        d = self._depth.render().astype(np.float32)
        d[d > 0.99 * self.world.model.vis.map.zfar * self.world.model.stat.extent] = 0
        return self.lens.apply(d, nearest=True)

    def segmentation(self) -> np.ndarray:
        """Part ids (H, W) uint8 (`dexumi.sim.world.SEG_CLASSES`: exo, hand, object, board, ...)."""
        return self.world.geom_class[self.geom_ids()]

    def geom_ids(self) -> np.ndarray:
        """MuJoCo geom id under each pixel (H, W) int (-1: nothing)."""
        import mujoco

        if self._seg is None:
            c = self.lens.canvas
            self._seg = mujoco.Renderer(self.world.model, c.height, c.width)
            self._seg.enable_segmentation_rendering()
        self._seg.update_scene(self.world.data, self.camera)
        s = self._seg.render()
        ids = np.where(s[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM), s[..., 0], -1).astype(np.int32)
        if self.lens.identity:
            return ids
        return self.lens.apply(ids + 1, nearest=True) - 1  # outside the canvas: -1 (nothing)

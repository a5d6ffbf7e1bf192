"""Rendering one wrist camera of the world: RGB, depth, per-part segmentation, lens, exposure and noise.

`CameraRenderer(world, "wrist0")` renders the world's current state. The ideal pinhole render (MuJoCo, EGL on
Mesa llvmpipe) is taken through the camera's lens (`dexumi.sim.lens`), then exposure (a gain) and sensor noise
(Gaussian read noise + shot noise, seeded by frame number, so the same seed gives the same bytes) are applied.
`jpeg()` gives what an MJPG camera would send.

Speed (llvmpipe renders on the CPU, so every pass counts): the RGB pass reads the GL buffer into a reused
array and the lens remap also undoes OpenGL's bottom-up row order (no separate flip); depth and segmentation
renderers are only created when asked for; textures are sampled from one mipmap level; the noise is drawn
once per renderer into a bank of Gaussian samples (twice a frame's size) and each frame takes a window of it
at a seeded offset, scaled per pixel by a lookup table (read + shot noise by intensity) — the same statistics
as drawing afresh, at a fraction of the cost (drawing ~1 M normals per frame cost as much as rendering it).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

import cv2
import numpy as np

from dexumi.sim.lens import Lens

if TYPE_CHECKING:
    import mujoco

log = logging.getLogger(__name__)

SHOT_SCALE = 64.0  # noise sigma = noise * sqrt(1 + level / SHOT_SCALE): read noise + shot noise


def _sample_one_mip_level(renderer) -> None:
    """2-D textures sampled from one mipmap level (GL_LINEAR_MIPMAP_NEAREST) instead of blending two
    (MuJoCo's trilinear GL_LINEAR_MIPMAP_LINEAR): on llvmpipe texture sampling is most of a frame's cost and
    this takes ~25 % off it; still bilinear and mipmapped, so the board's squares neither alias nor blur."""
    try:
        from OpenGL import GL

        ctx, gl = renderer._mjr_context, renderer._gl_context
        gl.make_current()
        for i in range(ctx.ntexture):
            if int(ctx.textureType[i]) == 0:  # mjTEXTURE_2D
                GL.glBindTexture(GL.GL_TEXTURE_2D, int(ctx.texture[i]))
                GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR_MIPMAP_NEAREST)
        GL.glBindTexture(GL.GL_TEXTURE_2D, 0)
    except Exception as exc:  # noqa: BLE001 - a speed setting: without it the render is only slower
        log.debug("texture filter left at MuJoCo's default: %s", exc)


class CameraRenderer:
    def __init__(
        self, world, camera: str, exposure: float = 1.0, noise: float = 2.0, seed: int = 0, quality: int = 80
    ) -> None:
        import mujoco

        self.world, self.camera = world, camera
        self.spec = world.camera_spec(camera)
        self.lens = Lens(self.spec)
        c = self.lens.canvas
        self.exposure, self.noise, self.seed, self.quality = exposure, noise, seed, quality
        self._r = mujoco.Renderer(world.model, c.height, c.width)
        if os.environ.get("DEXUMI_SIM_FAST_TEXTURES") == "1":  # opt-in: ~25 % faster, but board PnP loses
            _sample_one_mip_level(self._r)  # ~0.1 mm of accuracy (pose tests need trilinear's fidelity)
        self._raw = np.empty((c.height, c.width, 3), np.uint8)  # the GL buffer, bottom row first
        self._seg: mujoco.Renderer | None = None  # made on the first geom_ids()
        self._depth: mujoco.Renderer | None = None  # made on the first depth()
        level = np.clip(np.arange(256) * exposure, 0, 255)
        self._gain_lut = np.clip(level + 0.5, 0, 255).astype(np.uint8)  # exposure (a gain), rounded
        self._sigma_lut = (noise * np.sqrt(1.0 + level / SHOT_SCALE)).astype(np.float32)
        self._bank: np.ndarray | None = None

    def close(self) -> None:
        for r in (self._r, self._seg, self._depth):
            if r is not None:
                r.close()

    def _canvas_raw(self) -> np.ndarray:
        """The ideal pinhole render as OpenGL leaves it (bottom row first), in a reused buffer."""
        import mujoco

        r = self._r
        r.update_scene(self.world.data, self.camera)
        rect, scene, ctx = (getattr(r, a, None) for a in ("_rect", "_scene", "_mjr_context"))
        gl = getattr(r, "_gl_context", None)
        if rect is None or scene is None or ctx is None or gl is None:  # another mujoco.Renderer: its own path
            self._raw[:] = r.render()[::-1]
            return self._raw
        gl.make_current()
        mujoco.mjr_render(rect, scene, ctx)
        mujoco.mjr_readPixels(self._raw, None, rect, ctx)
        return self._raw

    def _noise_window(self, n: int, frame: int) -> np.ndarray:
        if self._bank is None or len(self._bank) < 2 * n:
            self._bank = np.random.default_rng([self.seed, 7]).standard_normal(2 * n, np.float32)
        off = int(np.random.default_rng([self.seed, frame, 7]).integers(0, len(self._bank) - n + 1))
        return self._bank[off : off + n]

    def rgb(self, frame: int = 0) -> np.ndarray:
        """The camera's image (H, W, 3) RGB uint8 after lens, exposure and noise (noise seeded by `frame`)."""
        img = self.lens.apply_gl(self._canvas_raw())
        if self.exposure != 1.0:
            img = cv2.LUT(img, self._gain_lut)
        if self.noise > 0:
            n = self._noise_window(img.size, frame).reshape(img.shape)
            sigma = cv2.LUT(img, self._sigma_lut)
            img = cv2.add(cv2.multiply(sigma, n), img, dtype=cv2.CV_8U)  # rounded, saturated
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

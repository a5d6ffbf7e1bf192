"""Composition: remove the exoskeleton and the hand wearing it, fill the hole, put the robot hand in.

Variants (`MODES`):
- `raw`: the camera image as recorded;
- `exo-masked`: the wearer (exoskeleton + hand, the rendered mask dilated by `margin_px`) removed and the hole
  filled from the surrounding image;
- `robot-overlay`: `exo-masked` with the robot hand rendered at the retargeted joints composited on top,
  with the render's own coverage as alpha (anti-aliased edges where the lens resamples).

The fill is a push-pull (pyramid) interpolation: the known pixels are averaged down an image pyramid with
their validity as weight, and every hole pixel takes the finest level that has data there, blended upwards.
It is O(pixels) whatever the size of the hole (cv2.inpaint's Telea/NS march over every hole pixel with a
neighbourhood and cost several milliseconds for a hand-sized hole at 240×240), gives a smooth fill of the
local background colours, and never copies skin or exoskeleton pixels into the hole (they are weight 0).
`inpaint="telea"` uses OpenCV's instead. Learned inpainting plugs in through `dexumi.visual.plugins`.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["MARGIN_PX_PER_240", "MODES", "Layers", "compose", "dilate", "fill", "margin_px", "overlay", "pushpull_fill"]

MODES = ("raw", "exo-masked", "robot-overlay")
MARGIN_PX_PER_240 = 2.0  # the wearer mask is dilated by 2 px per 240 px of image width (covers 2 mm / 1° error)


def margin_px(width: int) -> int:
    """The documented dilation margin at an image width."""
    return max(1, int(round(MARGIN_PX_PER_240 * width / 240.0)))


def dilate(mask: np.ndarray, px: int) -> np.ndarray:
    if px <= 0:
        return mask
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.dilate(mask.view(np.uint8), k).astype(bool)


def pushpull_fill(img: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """`img` with the `hole` pixels interpolated from the others (push-pull over an image pyramid).

    Push: the image premultiplied by its validity and the validity itself are reduced level by level
    (cv2.pyrDown; the first level in uint8, the rest in float32). Pull: from the coarsest level up, a level's
    own average is kept where it has data (weight ≥ 1/4) and the coarser estimate fills in elsewhere. Hole
    pixels of the full image take the upsampled half-size estimate."""
    known = cv2.bitwise_not(hole.view(np.uint8) * np.uint8(255))
    pm = cv2.bitwise_and(img, img, mask=known)  # premultiplied by a 0/1 weight: exact in uint8
    x: np.ndarray = cv2.merge([cv2.pyrDown(pm), cv2.pyrDown(known)]).astype(np.float32) * np.float32(1.0 / 255.0)
    levels = [x]
    while min(x.shape[:2]) > 4:
        x = cv2.pyrDown(x)
        levels.append(x)
    c: np.ndarray | None = None
    for x in reversed(levels):
        w = x[..., 3:4]
        own = x[..., :3] / np.maximum(w, 1e-4)
        if c is None:
            c = own
            continue
        up = cv2.pyrUp(c, dstsize=(x.shape[1], x.shape[0]))
        a = np.minimum(w * 4.0, 1.0)
        c = up + a * (own - up)
    assert c is not None  # `levels` holds at least the half-size level
    full = cv2.convertScaleAbs(cv2.resize(c, (img.shape[1], img.shape[0]), interpolation=cv2.INTER_LINEAR), alpha=255.0)
    out = img.copy()
    cv2.copyTo(full, hole.view(np.uint8), out)
    return out


def fill(img: np.ndarray, hole: np.ndarray, method: str = "pushpull") -> np.ndarray:
    if not hole.any():
        return img
    if method == "telea":
        return cv2.inpaint(img, hole.view(np.uint8), 3, cv2.INPAINT_TELEA)
    return pushpull_fill(img, hole)


@dataclass
class Layers:
    """What the renders give for one frame: the wearer's mask and the robot's premultiplied RGB + alpha."""

    wearer: np.ndarray  # bool H×W: exoskeleton ∪ hand (undilated)
    robot_rgb: np.ndarray | None = None  # uint8 H×W×3, RGB, premultiplied by coverage
    robot_alpha: np.ndarray | None = None  # float32 H×W


def overlay(background: np.ndarray, layers: Layers) -> np.ndarray:
    """The robot's premultiplied render over a BGR background, its coverage as alpha."""
    alpha, rgb = layers.robot_alpha, layers.robot_rgb
    assert alpha is not None and rgb is not None, "overlay needs the robot layers"
    x, y, w, h = cv2.boundingRect(np.greater(alpha, 0).view(np.uint8))
    out = background.copy()
    if w == 0:
        return out
    roi = (slice(y, y + h), slice(x, x + w))
    a = alpha[roi][..., None]
    robot = cv2.cvtColor(rgb[roi], cv2.COLOR_RGB2BGR).astype(np.float32)
    out[roi] = cv2.convertScaleAbs(robot + (1.0 - a) * background[roi].astype(np.float32))
    return out


def compose(bgr: np.ndarray, layers: Layers, mode: str, margin: int, method: str = "pushpull") -> np.ndarray:
    """The frame of variant `mode` from the camera's BGR image and the rendered layers."""
    if mode == "raw":
        return bgr
    filled = fill(bgr, dilate(layers.wearer, margin), method)
    return filled if mode == "exo-masked" else overlay(filled, layers)

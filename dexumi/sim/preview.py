"""A short look at the world for a person: an MP4 of every camera (image | segmentation overlay) and PNGs.

`write_preview(out, seconds, fps, ...)` renders the world at `fps` for `seconds`, writes `preview.mp4`
(cameras side by side, each as RGB above its segmentation overlay), for a few instants per camera
`<cam>_rgb_<k>.png`, `<cam>_seg_<k>.png` (part colours over the image), `<cam>_zdepth_<k>.png` (depth
colour-mapped over the image), and `truth.npz` (the world's truth streams at the frame times).
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from dexumi.sim.world import SEG_CLASSES, World, WorldConfig

log = logging.getLogger(__name__)

#: BGR colour of each segmentation part in overlays
PART_BGR = {
    "background": (0, 0, 0),
    "exo": (255, 0, 255),
    "hand": (0, 200, 255),
    "object": (0, 255, 0),
    "board": (255, 255, 0),
    "marker": (255, 120, 0),
    "table": (40, 80, 160),
    "forearm": (0, 120, 255),
    "floor": (90, 90, 90),
    "robot": (255, 255, 255),
}
_LUT = np.zeros((256, 3), np.uint8)
for _name, _id in SEG_CLASSES.items():
    _LUT[_id] = PART_BGR[_name]


def seg_overlay(bgr: np.ndarray, seg: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    return cv2.addWeighted(bgr, 1 - alpha, _LUT[seg], alpha, 0)


def depth_overlay(bgr: np.ndarray, depth: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    valid = depth > 0
    lo, hi = (float(depth[valid].min()), float(depth[valid].max())) if valid.any() else (0.0, 1.0)
    d8 = np.clip((depth - lo) / max(hi - lo, 1e-6) * 255, 0, 255).astype(np.uint8)
    cm = cv2.applyColorMap(d8, cv2.COLORMAP_TURBO)
    cm[~valid] = 0
    return cv2.addWeighted(bgr, 1 - alpha, cm, alpha, 0)


def write_preview(out: Path, config: WorldConfig, seconds: float = 4.0, fps: float = 10.0, stills: int = 3) -> dict:
    """Render and write the preview files into `out`; returns {"mp4": path, "png": [paths], "truth": path}."""
    import av
    from tqdm import tqdm

    world = World(config)  # first: a bad config leaves no folder behind
    out.mkdir(parents=True, exist_ok=True)
    cams = world.camera_names
    renderers = {c: world.renderer(c, seed=config.seed) for c in cams}
    n = max(1, int(round(seconds * fps)))
    times = np.arange(n) / fps
    still_at = set(np.linspace(0, n - 1, stills).round().astype(int).tolist())
    spec0 = world.camera_spec(cams[0])
    W, H = spec0.width * len(cams), spec0.height * 2
    mp4 = out / "preview.mp4"
    pngs: list[Path] = []
    container = av.open(str(mp4), "w")
    try:
        stream = container.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=int(fps))
        stream.width, stream.height, stream.pix_fmt = W + W % 2, H + H % 2, "yuv420p"
        for i, t in enumerate(tqdm(times, desc="sim-world preview", unit="frame", disable=None)):
            world.set_time(float(t))
            cols = []
            for c, r in renderers.items():
                bgr = r.bgr(i)
                seg = r.segmentation()
                over = seg_overlay(bgr, seg)
                cols.append(np.vstack([bgr, over]))
                if i in still_at:
                    k = sorted(still_at).index(i)
                    for kind, img in (("rgb", bgr), ("seg", over), ("zdepth", depth_overlay(bgr, r.depth()))):
                        p = out / f"{c}_{kind}_{k}.png"
                        cv2.imwrite(str(p), img)
                        pngs.append(p)
            frame = np.hstack(cols)
            frame = np.asarray(cv2.copyMakeBorder(frame, 0, H % 2, 0, W % 2, cv2.BORDER_CONSTANT), np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    finally:
        container.close()
        for r in renderers.values():
            r.close()
    truth = out / "truth.npz"
    world.truth(times).save(truth)
    log.info("wrote %s, %d PNGs and %s", mp4, len(pngs), truth)
    return {"mp4": mp4, "png": pngs, "truth": truth}

"""Zarr (v2 format) exports read by replay-buffer trainers.

`--layout replay-buffer` (diffusion_policy's / UMI's `ReplayBuffer`): every frame of every episode back to back
under `data/<key>`, `meta/episode_ends` (int64, exclusive end index of each episode):

    data/action (N, A) float32           qpos one step ahead (the next control step's command)
    data/state (N, A) float32            robot-hand joints at t
    data/valid (N,) bool                 no encoder gap around t
    data/timestamp (N,) float64          seconds from the episode's start, k / fps
    data/camera<i>_rgb (N, H, W, 3)      uint8 RGB, one JPEG (or JPEG-XL) chunk per frame (imagecodecs)
    data/privileged_exo_joints (N, J)    only with --privileged
    data/<role> (N, C) float32           each tactile board (tactile_right, ...; dexumi.export.tactile)

`--layout dexumi` (DexUMI's per-episode groups): `episode_<n>/hand_action` (also as `action`),
`episode_<n>/proprioception`,
`episode_<n>/camera_<i>/rgb`, `episode_<n>/valid`, `episode_<n>/timestamp`; `pose` joins once a wrist-pose
stream exists (see docs/replay-validate-export.md).

Readers must register the image codecs first: `imagecodecs.numcodecs.register_codecs()`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dexumi.errors import DexumiError
from dexumi.export.episodes import export_meta
from dexumi.export.plan import ExportPlan
from dexumi.export.prepared import Loop, Prepared, local_loop
from dexumi.export.source import SourceInfo


def _codecs():
    try:
        import numcodecs
        import zarr
        from imagecodecs.numcodecs import Jpeg, Jpegxl, register_codecs
    except ImportError as exc:  # pragma: no cover - both are dependencies
        raise DexumiError(f"--to zarr needs zarr<3 and imagecodecs ({exc})") from None
    register_codecs(verbose=False)
    return zarr, numcodecs, Jpeg, Jpegxl


def _image_compressor(plan: ExportPlan):
    _, _, Jpeg, Jpegxl = _codecs()
    q = plan.opts.jpeg_quality if plan.opts else 90
    if plan.opts is not None and plan.opts.image_codec == "jpegxl":
        return Jpegxl(level=q, numthreads=1)
    return Jpeg(level=q)


class _ReplayBuffer:
    def __init__(self, plan: ExportPlan, root, tick: Callable[[int], None]) -> None:
        zarr, numcodecs, _, _ = _codecs()
        self.plan, self.tick = plan, tick
        self.data = root.require_group("data")
        self.meta = root.require_group("meta")
        self.ends: list[int] = []
        A, J = len(plan.first.action_names), len(plan.first.exo_names)
        comp = numcodecs.Blosc(cname="zstd", clevel=3)
        vec = {"action": (A,), "state": (A,), "valid": (), "timestamp": ()}
        if plan.opts is not None and plan.opts.privileged:
            vec["privileged_exo_joints"] = (J,)
        from dexumi.export.tactile import feature_key, names

        total = bool(plan.opts and plan.opts.tactile_total)
        self.touch = {e: feature_key(e, "") for e in plan.first.tactile}  # data/<role>: each tactile board
        vec.update({key: (len(names(e, total)),) for e, key in self.touch.items()})
        dt = {"valid": bool, "timestamp": np.float64}
        self.vec = {
            k: self.data.zeros(k, shape=(0, *s), chunks=(4096, *s), dtype=dt.get(k, np.float32), compressor=comp)
            for k, s in vec.items()
        }
        img = _image_compressor(plan)
        self.img = {}
        for i, c in enumerate(plan.cameras):
            w, h = plan.sizes[c]
            self.img[c] = self.data.zeros(
                f"camera{i}_rgb", shape=(0, h, w, 3), chunks=(1, h, w, 3), dtype=np.uint8, compressor=img
            )
            self.img[c].attrs["camera"] = c
        self.total = 0

    def episode(self, p: Prepared, i: int, info: SourceInfo) -> dict:
        r = p.r
        T = len(r)
        for k0, k1, imgs in p.image_blocks(self.plan.cameras):
            for c in self.plan.cameras:
                self.img[c].append(imgs[c])
            self.tick(k1 - k0)
        cols = {"action": r.action, "state": r.qpos, "valid": r.valid, "timestamp": r.t, "privileged_exo_joints": r.exo}
        cols.update({key: r.tactile[e] for e, key in self.touch.items()})
        for k, arr in self.vec.items():
            arr.append(cols[k])
        self.total += T
        self.ends.append(self.total)
        return {"frames": T, "outcome": info.outcome}

    def undo(self, i: int) -> None:
        for arr in [*self.vec.values(), *self.img.values()]:
            if arr.shape[0] > self.total:
                arr.resize(self.total, *arr.shape[1:])

    def close(self, rows: list[dict]) -> None:
        self.meta.array("episode_ends", np.asarray(self.ends, np.int64), dtype=np.int64, overwrite=True)
        self.meta.attrs["outcome"] = [r["outcome"] for r in rows]
        self.meta.attrs["source"] = [Path(r["source"]).name for r in rows]


class _DexUMI:
    def __init__(self, plan: ExportPlan, root, tick: Callable[[int], None]) -> None:
        self.plan, self.root, self.tick = plan, root, tick

    def episode(self, p: Prepared, i: int, info: SourceInfo) -> dict:
        _, numcodecs, _, _ = _codecs()
        o = self.plan.opts
        r = p.r
        T = len(r)
        g = self.root.create_group(f"episode_{i}")
        comp = numcodecs.Blosc(cname="zstd", clevel=3)
        g.array("hand_action", r.action, compressor=comp)
        g.array("action", r.action, compressor=comp)  # the same; DexUMI's base ReplayBuffer reads `action`
        g.array("proprioception", r.qpos, compressor=comp)
        g.array("valid", r.valid, compressor=comp)
        g.array("timestamp", r.t, compressor=comp)
        if o is not None and o.privileged:
            g.array("privileged_exo_joints", r.exo, compressor=comp)
        for e, x in r.tactile.items():  # each tactile board as <role>; DexUMI's own `fsr` key: its FSR board
            g.array(e.split(":")[0], x, compressor=comp)
            if e.endswith(":fsr") and "fsr" not in g:
                g.array("fsr", x[:, -2:] if x.shape[1] > 2 else x, compressor=comp)
        g.attrs.update(
            {"source": p.attrs["source"], "outcome": info.outcome, "task": info.task, "operator": info.operator}
        )
        img = _image_compressor(self.plan)
        for ci, c in enumerate(self.plan.cameras):
            w, h = self.plan.sizes[c]
            ds = g.require_group(f"camera_{ci}").zeros(
                "rgb", shape=(T, h, w, 3), chunks=(1, h, w, 3), dtype=np.uint8, compressor=img
            )
            ds.attrs["camera"] = c
        for k0, k1, imgs in p.image_blocks(self.plan.cameras):
            for ci, c in enumerate(self.plan.cameras):
                g[f"camera_{ci}/rgb"][k0:k1] = imgs[c]
            self.tick(k1 - k0)
        return {"frames": T, "outcome": info.outcome}

    def undo(self, i: int) -> None:
        if f"episode_{i}" in self.root:
            del self.root[f"episode_{i}"]

    def close(self, rows: list[dict]) -> None:
        pass


def write(plan: ExportPlan, out: Path, tick: Callable[[int], None], loop: Loop | None = None) -> list[dict]:
    """The store from every episode `loop` adds (default: each planned episode, read here)."""
    zarr, _, _, _ = _codecs()
    root = zarr.open_group(str(out), mode="a")  # "w" would empty the staging folder, marker included
    layout = plan.opts.layout if plan.opts else "replay-buffer"
    w = _DexUMI(plan, root, tick) if layout == "dexumi" else _ReplayBuffer(plan, root, tick)
    rows = (loop or local_loop(plan))(w.episode, w.undo)
    w.close(rows)
    root.attrs["dexumi_export"] = json.loads(json.dumps(export_meta(plan)))
    root.attrs["layout"] = layout
    root.attrs["cameras"] = plan.cameras
    root.attrs["image_codec"] = "jpegxl" if plan.opts and plan.opts.image_codec == "jpegxl" else "jpeg"
    for r in rows:
        r.pop("outcome", None)
    return rows

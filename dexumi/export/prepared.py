"""One episode read for a store writer (robomimic, zarr): resampled onto the export grid, its images decoded and
resized block by block. The one-process export prepares each episode as it writes it; `dexumi export --engine`
prepares each in a batch task, saves it into a shard folder (`save`) and the driver writes the store from the
shards (`load`) with the same writer calls, so the store has the same bytes either way."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dexumi.episode.reader import Episode
from dexumi.export.episodes import each_episode
from dexumi.export.plan import ExportPlan, blocks
from dexumi.export.source import ImageSource, Resampled, SourceInfo, resample

ARRAYS = ("t", "action", "qpos", "exo", "valid")
META = "prepared.json"


@dataclass
class Prepared:
    """`r`: the episode on the grid; `frames(camera, k0, k1)`: its images k0..k1 at the export size (RGB uint8);
    `attrs`: the episode's source name, task, operator and outcome."""

    r: Resampled
    frames: Callable[[str, int, int], np.ndarray]
    attrs: dict[str, str]

    def __len__(self) -> int:
        return len(self.r)

    def image_blocks(self, cameras: list[str]) -> Iterator[tuple[int, int, dict[str, np.ndarray]]]:
        """(k0, k1, camera → frames k0..k1) in the export's blocks."""
        for k0, k1 in blocks(len(self.r)):
            yield k0, k1, {c: self.frames(c, k0, k1) for c in cameras}


def prepare(ep: Episode, plan: ExportPlan, pose: str) -> Prepared:
    """The episode as a store writer needs it (`pose`: the wrist-pose stream in front of the joints, or "")."""
    o = plan.opts
    r = resample(ep, plan.fps, o.action_horizon if o else 1, plan.motor, pose, plan.first.tactile, o)
    srcs = {
        c: ImageSource(ep, c, plan.sizes[c], o.image_fit if o else "crop", o.visual if o else "raw")
        for c in plan.cameras
    }
    attrs = {
        "source": ep.path.name,
        **{k: str(ep.attrs.get(k, "unknown" if k == "outcome" else "")) for k in ("task", "operator", "outcome")},
    }
    return Prepared(r, lambda c, k0, k1: srcs[c].block(r.images[c][k0:k1]), attrs)


def save(p: Prepared, plan: ExportPlan, d: Path, tick: Callable[[int], None]) -> dict:
    """Arrays of `p` as .npy files in folder `d` (images written block by block, never all in memory); returns
    the metadata `load` needs."""
    for k in ARRAYS:
        np.save(d / f"{k}.npy", getattr(p.r, k), allow_pickle=False)
    tactile = list(p.r.tactile)
    for j, e in enumerate(tactile):
        np.save(d / f"tactile-{j}.npy", p.r.tactile[e], allow_pickle=False)
    T = len(p)
    outs = {}
    for ci, c in enumerate(plan.cameras):
        w, h = plan.sizes[c]
        outs[c] = np.lib.format.open_memmap(d / f"camera-{ci}.npy", "w+", np.uint8, (T, h, w, 3))
    for k0, k1, imgs in p.image_blocks(plan.cameras):
        for c, x in imgs.items():
            outs[c][k0:k1] = x
        tick(k1 - k0)
    for m in outs.values():
        m.flush()
    del outs
    meta = {"frames": T, "fps": p.r.fps, "tactile": tactile, "attrs": p.attrs}
    (d / META).write_text(json.dumps(meta))
    return meta


def load(d: Path, plan: ExportPlan) -> Prepared:
    """What `save` wrote into `d` (images memory-mapped)."""
    meta = json.loads((d / META).read_text())
    a = {k: np.load(d / f"{k}.npy", allow_pickle=False) for k in ARRAYS}
    tactile = {e: np.load(d / f"tactile-{j}.npy", allow_pickle=False) for j, e in enumerate(meta["tactile"])}
    r = Resampled(float(meta["fps"]), a["t"], a["action"], a["qpos"], a["exo"], a["valid"], {}, tactile)
    imgs = {c: np.load(d / f"camera-{ci}.npy", mmap_mode="r", allow_pickle=False) for ci, c in enumerate(plan.cameras)}
    return Prepared(r, lambda c, k0, k1: np.ascontiguousarray(imgs[c][k0:k1]), dict(meta["attrs"]))


Add = Callable[[Prepared, int, SourceInfo], dict]
Loop = Callable[[Add, Callable[[int], None]], list[dict]]


def store_pose(plan: ExportPlan) -> str:
    """The wrist-pose stream a store format carries: robomimic the plan's, zarr none."""
    return plan.first.pose if plan.opts is not None and plan.opts.fmt == "robomimic" else ""


def local_loop(plan: ExportPlan) -> Loop:
    """The one-process loop: each planned episode opened, prepared and added; one that fails is undone and
    skipped (dexumi.export.episodes.each_episode)."""

    def loop(add: Add, undo: Callable[[int], None]) -> list[dict]:
        return each_episode(plan, lambda ep, i, info: add(prepare(ep, plan, store_pose(plan)), i, info), undo)

    return loop

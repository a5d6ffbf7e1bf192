"""ACT / ALOHA layout: one `episode_N.hdf5` per episode, raw RGB images chunked one frame per chunk."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from dexumi.episode.reader import Episode
from dexumi.export.plan import ExportPlan, blocks
from dexumi.export.source import ImageSource, resample


def _velocity(q: np.ndarray, fps: float) -> np.ndarray:
    return np.gradient(q, 1.0 / fps, axis=0).astype(np.float32) if len(q) > 1 else np.zeros_like(q)


def write_episode(ep: Episode, index: int, plan: ExportPlan, out: Path, tick: Callable[[int], None]) -> dict:
    r = resample(ep, plan.fps)
    T, A = r.action.shape
    path = out / f"episode_{index}.hdf5"
    with h5py.File(path, "w") as f:
        f.attrs["sim"] = False
        f.attrs["compress"] = False
        f.attrs["fps"] = plan.fps
        f.attrs["source"] = ep.path.name
        f.attrs["robot_hand"] = plan.first.hand
        f.attrs["action_names"] = json.dumps(list(plan.first.action_names))
        f.attrs["task"] = str(ep.attrs.get("task", ""))
        f.attrs["outcome"] = str(ep.attrs.get("outcome", "unknown"))
        f.create_dataset("action", data=r.action)
        f.create_dataset("timestamps", data=r.t)
        obs = f.create_group("observations")
        obs.create_dataset("qpos", data=r.qpos)
        obs.create_dataset("qvel", data=_velocity(r.qpos, plan.fps))
        obs.create_dataset("effort", data=np.zeros_like(r.qpos))
        obs.create_dataset("exo_joints", data=r.exo)
        imgs = obs.create_group("images")
        sources = {c: ImageSource(ep, c, plan.sizes[c]) for c in plan.cameras}
        dsets = {c: imgs.create_dataset(c, (T, plan.sizes[c][1], plan.sizes[c][0], 3), dtype=np.uint8,
                                        chunks=(1, plan.sizes[c][1], plan.sizes[c][0], 3)) for c in plan.cameras}
        for k0, k1 in blocks(T):
            for c in plan.cameras:
                dsets[c][k0:k1] = sources[c].block(r.images[c][k0:k1])
            tick(k1 - k0)
    return {"file": path.name, "frames": T, "action_dim": A}


def write(plan: ExportPlan, out: Path, tick: Callable[[int], None]) -> list[dict]:
    rows = []
    for i, info in enumerate(plan.episodes):
        with Episode.open(info.path) as ep:
            rows.append({"source": str(info.path), "index": i, **write_episode(ep, i, plan, out, tick)})
    return rows

"""robomimic layout: one HDF5 with /data/demo_N (actions in [-1, 1], obs, next_obs, rewards, dones, states)
and /mask/{train,valid}. Image next_obs are virtual datasets over obs (no second copy of the pixels)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from dexumi.export.episodes import export_meta
from dexumi.export.h5out import h5_output
from dexumi.export.normalize import for_plan
from dexumi.export.plan import ExportOptions, ExportPlan
from dexumi.export.prepared import Loop, Prepared, local_loop
from dexumi.vocab import Outcome
from dexumi.export.tactile import feature_key

FILE = "dataset.hdf5"


def image_key(cam: str) -> str:
    return f"{cam}_image"


def _next(x: np.ndarray) -> np.ndarray:
    return np.concatenate([x[1:], x[-1:]], axis=0) if len(x) else x


class _UntimedLayout(h5py.VirtualLayout):
    """A virtual dataset without HDF5's object times (h5py gives them to virtual datasets only): the same export
    gives the same bytes, whenever and wherever it runs."""

    def _get_dcpl(self, dst_filename: str) -> Any:
        dcpl = super()._get_dcpl(dst_filename)
        dcpl.set_obj_track_times(False)
        return dcpl


def _virtual_next(g: h5py.Group, name: str, src: h5py.Dataset) -> None:
    """next_obs[name][t] = obs[name][min(t + 1, T − 1)] as an HDF5 virtual dataset."""
    T = src.shape[0]
    layout = _UntimedLayout(shape=src.shape, dtype=src.dtype)
    vs = h5py.VirtualSource(".", src.name, shape=src.shape)
    if T > 1:
        layout[0 : T - 1] = vs[1:T]
    layout[T - 1] = vs[T - 1]
    g.create_virtual_dataset(name, layout)


def split(n: int, valid_fraction: float) -> tuple[list[int], list[int]]:
    """Evenly spread validation demos; at least one training demo."""
    n_valid = min(n - 1, max(1, round(n * valid_fraction))) if n >= 2 and valid_fraction > 0 else 0
    valid = sorted({int(round(x)) for x in np.linspace(n - 1, 0, n_valid, endpoint=False)}) if n_valid else []
    return [i for i in range(n) if i not in valid], valid


def write_demo(data: h5py.Group, p: Prepared, index: int, plan: ExportPlan, norm, tick: Callable[[int], None]) -> dict:
    o = plan.opts
    r = p.r
    T, A = r.action.shape
    g = data.create_group(f"demo_{index}")
    g.attrs["num_samples"] = T
    for k in ("source", "task", "operator", "outcome"):
        g.attrs[k] = p.attrs[k]
    g.create_dataset("valid", data=r.valid.astype(np.uint8))
    g.create_dataset("actions", data=norm.apply(r.action))
    g.create_dataset("actions_raw", data=r.action)
    g.create_dataset("states", data=r.qpos.astype(np.float64))
    rewards = np.zeros(T, np.float64)
    if p.attrs["outcome"] == Outcome.SUCCESS:
        rewards[-1] = 1.0
    dones = np.zeros(T, np.int64)
    dones[-1] = 1
    g.create_dataset("rewards", data=rewards)
    g.create_dataset("dones", data=dones)
    g.create_dataset("timestamps", data=r.t)
    obs, nxt = g.create_group("obs"), g.create_group("next_obs")
    low = [("qpos", r.qpos)] + ([("privileged_exo_joints", r.exo)] if o is not None and o.privileged else [])
    low += [(feature_key(e, ""), x) for e, x in r.tactile.items()]  # touch: obs/<role> (tactile_right, ...)
    for key, x in low:
        obs.create_dataset(key, data=x)
        nxt.create_dataset(key, data=_next(x))
    dsets = {}
    for c in plan.cameras:
        w, h = plan.sizes[c]
        dsets[c] = obs.create_dataset(image_key(c), (T, h, w, 3), dtype=np.uint8, chunks=(1, h, w, 3))
    for k0, k1, imgs in p.image_blocks(plan.cameras):
        for c in plan.cameras:
            dsets[c][k0:k1] = imgs[c]
        tick(k1 - k0)
    for c in plan.cameras:
        _virtual_next(nxt, image_key(c), dsets[c])
    return {
        "group": f"demo_{index}",
        "frames": T,
        "action_dim": A,
        "outcome": g.attrs["outcome"],
        "all_valid": bool(r.valid.all()),
    }


def write(
    plan: ExportPlan, out: Path, tick: Callable[[int], None], opts: ExportOptions, loop: Loop | None = None
) -> list[dict]:
    """The dataset file from every episode `loop` adds (default: each planned episode, read here)."""
    norm = for_plan(plan)
    with h5_output(out / FILE) as f:
        data = f.create_group("data")

        def undo(i: int) -> None:
            if f"demo_{i}" in data:
                del data[f"demo_{i}"]

        rows = (loop or local_loop(plan))(lambda p, i, info: write_demo(data, p, i, plan, norm, tick), undo)
        data.attrs["total"] = int(sum(r["frames"] for r in rows))
        data.attrs["env_args"] = json.dumps(
            {
                "env_name": f"dexumi_{plan.first.hand or 'hand'}",
                "type": 2,
                "env_kwargs": {
                    "robot_hand": plan.first.hand,
                    "fps": plan.fps,
                    "cameras": plan.cameras,
                    "image_size": {c: list(s) for c, s in plan.sizes.items()},
                },
            }
        )
        data.attrs["action_normalization"] = json.dumps(norm.to_dict())
        data.attrs["action_names"] = json.dumps(list(plan.first.vector_names))
        data.attrs["export"] = json.dumps(export_meta(plan))
        train, valid = split(len(rows), opts.valid_fraction)
        mask = f.create_group("mask")
        keys = {
            "train": train,
            "valid": valid,
            "success": [r["index"] for r in rows if r["outcome"] == Outcome.SUCCESS],
            "failure": [r["index"] for r in rows if r["outcome"] == Outcome.FAILURE],
            "unknown": [r["index"] for r in rows if r["outcome"] not in (Outcome.SUCCESS, Outcome.FAILURE)],
            "all_valid": [r["index"] for r in rows if r["all_valid"]],
        }
        for name, ids in keys.items():  # robomimic filter keys (filter_by_attribute=NAME)
            mask.create_dataset(name, data=np.array([f"demo_{i}".encode() for i in ids], dtype="S"))
    for r in rows:
        r.pop("outcome", None)
        r.pop("all_valid", None)
    return rows

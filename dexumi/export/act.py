"""ACT / ALOHA layout: one `episode_N.hdf5` per episode, every episode written to one common length.

ACT's `get_norm_stats` stacks all episodes, so they must share a length: L = `--act-length` or the longest
episode. Longer episodes keep their first L frames; shorter ones repeat their last frame, flagged in `/is_pad`.
Images are raw RGB (one frame per chunk), or with `--act-compress` mobile-ALOHA's compressed variant: JPEG bytes
zero-padded to the longest, `compress_len` (cameras, L) holding each frame's byte count, attr compress=True."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import cv2
import h5py
import numpy as np

from dexumi.episode.reader import Episode
from dexumi.export.h5out import h5_output
from dexumi.export.episodes import each_episode, export_meta
from dexumi.export.plan import ExportPlan, blocks
from dexumi.export.source import ImageSource, SourceInfo, resample
from dexumi.export.tactile import feature_key


def _velocity(q: np.ndarray, fps: float) -> np.ndarray:
    return np.gradient(q, 1.0 / fps, axis=0).astype(np.float32) if len(q) > 1 else np.zeros_like(q)


def fit_length(x: np.ndarray, L: int) -> np.ndarray:
    """First L rows, or the last row repeated up to L."""
    if len(x) >= L:
        return x[:L]
    return np.concatenate([x, np.repeat(x[-1:], L - len(x), axis=0)], axis=0)


def common_length(plan: ExportPlan) -> int:
    o = plan.opts
    if o is not None and o.act_length:
        return int(o.act_length)
    return max(
        int(np.floor((e.span_s if e.span_s else (e.frames - 1) / max(e.nominal_fps, 1e-9)) * plan.fps + 1e-6)) + 1
        for e in plan.episodes
    )


def write_episode(ep: Episode, index: int, plan: ExportPlan, out: Path, tick: Callable[[int], None], L: int) -> dict:
    o = plan.opts
    r = resample(ep, plan.fps, o.action_horizon if o else 1, plan.motor, plan.first.pose, plan.first.tactile, o)
    T, A = r.action.shape
    n = min(T, L)
    path = out / f"episode_{index}.hdf5"
    compress = bool(o and o.act_compress)
    with h5_output(path) as f:
        f.attrs["sim"] = False
        f.attrs["compress"] = compress
        f.attrs["fps"] = plan.fps
        f.attrs["source"] = ep.path.name
        f.attrs["robot_hand"] = plan.first.hand
        f.attrs["action_names"] = json.dumps(list(plan.first.vector_names))
        f.attrs["task"] = str(ep.attrs.get("task", ""))
        f.attrs["operator"] = str(ep.attrs.get("operator", ""))
        f.attrs["outcome"] = str(ep.attrs.get("outcome", "unknown"))
        f.attrs["source_frames"] = T
        f.attrs["export"] = json.dumps(export_meta(plan))
        f.create_dataset("action", data=fit_length(r.action, L))
        f.create_dataset("timestamps", data=np.arange(L, dtype=np.float64) / plan.fps)
        pad = np.arange(L) >= T
        f.create_dataset("is_pad", data=pad)
        f.create_dataset("valid", data=fit_length(r.valid, L) & ~pad)
        obs = f.create_group("observations")
        q = fit_length(r.qpos, L)
        obs.create_dataset("qpos", data=q)
        qv = _velocity(r.qpos, plan.fps)
        obs.create_dataset("qvel", data=np.where(pad[:, None], 0.0, fit_length(qv, L)).astype(np.float32))
        obs.create_dataset("effort", data=np.zeros_like(q))
        if o is not None and o.privileged:
            obs.create_dataset("privileged_exo_joints", data=fit_length(r.exo, L))
        for e, x in r.tactile.items():  # touch: observations/tactile/<role>
            obs.create_dataset(feature_key(e, "tactile/"), data=fit_length(x, L))
        imgs = obs.create_group("images")
        sources = {
            c: ImageSource(ep, c, plan.sizes[c], o.image_fit if o else "crop", o.visual if o else "raw")
            for c in plan.cameras
        }
        idx = {c: fit_length(r.images[c], L) for c in plan.cameras}
        if compress:
            _compressed_images(f, imgs, sources, idx, plan, L, tick, n, o.jpeg_quality if o else 90)
        else:
            dsets = {
                c: imgs.create_dataset(
                    c,
                    (L, plan.sizes[c][1], plan.sizes[c][0], 3),
                    dtype=np.uint8,
                    chunks=(1, plan.sizes[c][1], plan.sizes[c][0], 3),
                )
                for c in plan.cameras
            }
            for k0, k1 in blocks(L):
                for c in plan.cameras:
                    dsets[c][k0:k1] = sources[c].block(idx[c][k0:k1])
                tick(max(0, min(k1, n) - k0))
    return {
        "file": path.name,
        "frames": n,
        "length": L,
        "padded": int(max(0, L - T)),
        "cropped": int(max(0, T - L)),
        "action_dim": A,
    }


def _compressed_images(
    f: h5py.File,
    imgs: h5py.Group,
    sources: dict[str, ImageSource],
    idx: dict[str, np.ndarray],
    plan: ExportPlan,
    L: int,
    tick: Callable[[int], None],
    n: int,
    quality: int,
) -> None:
    """JPEG per frame (RGB arrays encoded as they are, so cv2.imdecode gives RGB back, as ACT's loader expects)."""
    cams = plan.cameras
    comp_len = np.zeros((len(cams), L), np.float32)
    encoded: dict[str, list[bytes]] = {c: [] for c in cams}
    for k0, k1 in blocks(L):
        for ci, c in enumerate(cams):
            for k, fr in enumerate(sources[c].block(idx[c][k0:k1])):
                buf = cv2.imencode(".jpg", fr, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()
                encoded[c].append(buf)
                comp_len[ci, k0 + k] = len(buf)
        tick(max(0, min(k1, n) - k0))
    width = int(comp_len.max()) if L else 0
    for c in cams:
        ds = imgs.create_dataset(c, (L, width), dtype=np.uint8, chunks=(1, width))
        row = np.zeros((min(L, 64), width), np.uint8)
        for k0, k1 in blocks(L):
            row[:] = 0
            for k in range(k0, k1):
                b = encoded[c][k]
                row[k - k0, : len(b)] = np.frombuffer(b, np.uint8)
            ds[k0:k1] = row[: k1 - k0]
    f.create_dataset("compress_len", data=comp_len)


def write(plan: ExportPlan, out: Path, tick: Callable[[int], None]) -> list[dict]:
    L = common_length(plan)

    def one(ep: Episode, i: int, info: SourceInfo) -> dict:
        return write_episode(ep, i, plan, out, tick, L)

    def undo(i: int) -> None:
        (out / f"episode_{i}.hdf5").unlink(missing_ok=True)

    return each_episode(plan, one, undo)

"""Export as per-episode batch tasks (`dexumi export --engine local|ray`): each task converts one planned
episode into a shard folder; the driver then assembles the dataset from the shards in plan order and publishes
it through the usual staging (dexumi.export.staging.StagedDir): the same bytes as the one-process export.

Shards live in a work folder beside --out (`.<out>.batch/`, or --work-dir) on storage every worker sees, with
the resume manifest (dexumi.batch.manifest). A shard is written under a temporary name and renamed into place:
a task run twice (its first worker died after finishing) finds its shard there and keeps it, so nothing is
duplicated or half-written. A rerun after an interrupted job converts only the episodes without a shard.
The work folder is removed once the dataset is published.

Formats: lerobot (per-episode videos + the rows assembled here), act (one file per episode), robomimic and zarr
(one store every episode appends to: a task reads, resamples, decodes and resizes its episode into a shard of
arrays, dexumi.export.prepared; the driver writes the store from the shards with the one-process writer)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from pathlib import Path

import numpy as np

from dexumi.batch import Engine, Manifest, Task, run_tasks
from dexumi.episode.reader import Episode
from dexumi.errors import DexumiError
from dexumi.export.plan import ExportOptions, ExportPlan, make_plan
from dexumi.export.source import SourceInfo, opencv_serial
from dexumi.export.staging import StagedDir
from dexumi.export.writer import ExportSummary, check_space, output_bytes, write_dataset

log = logging.getLogger(__name__)

SHARDED = ("lerobot", "act", "robomimic", "zarr")
STORES = ("robomimic", "zarr")  # one store for all episodes: written here from the tasks' prepared shards
SHARD_META = "shard.json"


def work_dir(out: Path, given: str | Path | None = None) -> Path:
    if given:
        return Path(given).expanduser().resolve()
    out = Path(out).expanduser().resolve()
    return out.parent / f".{out.name}.batch"


def _key(info: SourceInfo) -> str:
    return f"{Path(info.path).resolve()}#{info.part_index}"


def _shard_name(key: str) -> str:
    return hashlib.sha1(key.encode()).hexdigest()[:20]


def _params(plan: ExportPlan, opts: ExportOptions) -> dict:
    o = {
        k: (str(v) if isinstance(v, Path) else v)
        for k, v in vars(opts).items()
        if k not in ("out", "force", "progress")
    }
    return {
        "opts": o,
        "fps": plan.fps,
        "sizes": plan.sizes,
        "motor": plan.motor.to_dict() if plan.motor else None,
        "first": [plan.first.hand, list(plan.first.action_names), list(plan.first.exo_names)],
        "act_length": _act_length(plan) if opts.fmt == "act" else None,
    }


def _act_length(plan: ExportPlan) -> int:
    from dexumi.export.act import common_length

    return common_length(plan)


def convert_one(plan: ExportPlan, info: SourceInfo, shard: str, length: int | None) -> dict:
    """The batch task: episode → shard folder (published by rename). Returns the shard's metadata."""
    final = Path(shard)
    if (final / SHARD_META).exists():  # an earlier run of this task finished it
        return json.loads((final / SHARD_META).read_text())
    tmp = final.with_name(f"{final.name}.partial-{uuid.uuid4().hex[:8]}")
    tmp.mkdir(parents=True)
    try:
        with Episode.open(info.path) as ep, opencv_serial():
            extra = {}
            if info.part is not None:
                ep.select(*info.part)
                extra = {"part": info.part_index, "source_frames": list(info.part)}
            assert plan.opts is not None  # a plan being exported carries its options
            if plan.opts.fmt == "lerobot":
                meta = _lerobot_shard(plan, ep, info, tmp)
            elif plan.opts.fmt in STORES:
                from dexumi.export import prepared

                meta = prepared.save(prepared.prepare(ep, plan, prepared.store_pose(plan)), plan, tmp, lambda n: None)
            else:
                from dexumi.export.act import write_episode

                assert length is not None  # run() gives ACT tasks the common episode length
                meta = write_episode(ep, 0, plan, tmp, lambda n: None, int(length))
        meta = {"row": {**extra, **meta}}
        (tmp / SHARD_META).write_text(json.dumps(meta))
        try:
            os.rename(tmp, final)
        except OSError:  # another run of this task published first: keep that one
            if not (final / SHARD_META).exists():
                raise
            meta = json.loads((final / SHARD_META).read_text())
        return meta
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _lerobot_shard(plan: ExportPlan, ep: Episode, info: SourceInfo, d: Path) -> dict:
    from dexumi.export.lerobot import encode

    e = encode(plan, ep, info, {c: d / f"video-{k}.mp4" for k, c in enumerate(plan.cameras)}, lambda n: None)
    arrays = {"action": e.action, "qpos": e.qpos, "valid": e.valid}
    if e.exo is not None:
        arrays["exo"] = e.exo
    for k, c in enumerate(plan.cameras):
        if e.samples[c]:
            arrays[f"samples-{k}"] = np.stack(e.samples[c])
    for k, b in enumerate(e.tactile):
        arrays[f"tactile-{k}"] = e.tactile[b]
    np.savez(
        d / "arrays.npz", allow_pickle=False, **arrays
    )  # numeric arrays only: nothing written can need pickle to read
    return {
        "frames": e.T,
        "task": e.task,
        "source": e.source,
        "outcome": e.outcome,
        "operator": e.operator,
        "info_task": e.info_task,
    }


def _shard_loop(plan: ExportPlan, good: list[tuple[SourceInfo, dict, Path]]):
    """The store writers' episode loop over finished shards, in plan order (rows as dexumi.export.episodes
    makes them)."""
    from dexumi.export import prepared

    def loop(add, undo) -> list[dict]:
        rows = []
        for i, (info, meta, d) in enumerate(good):
            extra = {k: v for k, v in meta["row"].items() if k in ("part", "source_frames")}
            rows.append({"source": str(info.path), "index": i, **extra, **add(prepared.load(d, plan), i, info)})
        return rows

    return loop


def _load_encoded(plan: ExportPlan, d: Path, meta: dict):
    from dexumi.export.lerobot import Encoded, _tactile

    with np.load(d / "arrays.npz", allow_pickle=False) as z:
        a = {k: z[k] for k in z.files}
    samples = {c: list(a[f"samples-{k}"]) if f"samples-{k}" in a else [] for k, c in enumerate(plan.cameras)}
    r = meta["row"]
    tactile = {b: a[f"tactile-{k}"] for k, (b, _, _) in enumerate(_tactile(plan)) if f"tactile-{k}" in a}
    return Encoded(
        int(r["frames"]),
        a["action"],
        a["qpos"],
        a["valid"],
        a.get("exo"),
        samples,
        r["task"],
        r["source"],
        r["outcome"],
        r["operator"],
        r.get("info_task"),
        tactile,
    )


def export_sharded(paths: list[str | Path], opts: ExportOptions, engine: Engine, work: str | Path | None = None):
    """Plan here, convert each episode as a batch task on `engine`, assemble and publish here."""
    if opts.fmt not in SHARDED:
        raise DexumiError(f"--engine: the batch engines export {', '.join(SHARDED)}, not --to {opts.fmt}")
    t0 = time.perf_counter()
    plan = make_plan(paths, opts)
    staged = StagedDir(
        opts.out,
        opts.force,
        "export",
        inputs=[Path(p) for p in paths],
        info={"format": opts.fmt, "layout": opts.layout if opts.fmt == "zarr" else None},
    )
    check_space(plan, opts)
    wd = work_dir(opts.out, work)
    shards = wd / "shards"
    try:
        shards.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DexumiError(f"cannot create {shards}: {exc.strerror or exc}") from None
    length = _act_length(plan) if opts.fmt == "act" else None
    man = Manifest(wd / "manifest.jsonl", "export", _params(plan, opts))
    keys = [_key(i) for i in plan.episodes]
    for k in list(man.entries):  # a recorded shard that is gone is converted again
        if not (shards / _shard_name(k) / SHARD_META).exists():
            man.entries.pop(k)
    tasks = [
        Task(k, convert_one, (plan, info, str(shards / _shard_name(k)), length), source=str(info.path))
        for k, info in zip(keys, plan.episodes)
    ]
    try:
        outs = run_tasks(tasks, engine, f"export {opts.fmt}", opts.progress, man)
    finally:
        man.close()
    summary = ExportSummary(opts.fmt, opts.out, plan.fps, plan.sizes)
    with staged as tmp:
        summary.episodes = _assemble(plan, tmp, outs, [shards / _shard_name(k) for k in keys])
    summary.skipped = list(plan.skipped)
    shutil.rmtree(wd, ignore_errors=True)
    summary.bytes = output_bytes(opts.out)
    summary.seconds = time.perf_counter() - t0
    return summary


def _assemble(plan: ExportPlan, out: Path, outs, dirs: list[Path]) -> list[dict]:
    good = []
    for info, o, d in zip(plan.episodes, outs, dirs):
        if o.ok:
            good.append((info, o.value, d))
        else:
            plan.skipped.append(o.error if str(info.path) in o.error else f"{info.path}: {o.error}")
    if not good:
        raise DexumiError("no episode could be exported" + (f": {plan.skipped[-1]}" if plan.skipped else ""))
    rows = []
    assert plan.opts is not None  # a plan being exported carries its options
    if plan.opts.fmt in STORES:
        return write_dataset(plan, out, plan.opts, lambda n: None, _shard_loop(plan, good))
    if plan.opts.fmt == "act":
        for i, (info, meta, d) in enumerate(good):
            os.replace(d / "episode_0.hdf5", out / f"episode_{i}.hdf5")
            rows.append({"source": str(info.path), "index": i, **meta["row"], "file": f"episode_{i}.hdf5"})
        return rows
    from dexumi.export import lerobot

    with lerobot.open_dataset(plan, out) as w:
        for i, (info, meta, d) in enumerate(good):
            e = _load_encoded(plan, d, meta)
            for k, c in enumerate(plan.cameras):
                dst = lerobot._video(out, c, i)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(d / f"video-{k}.mp4"), dst)
            row = {kk: v for kk, v in meta["row"].items() if kk in ("part", "source_frames")}
            rows.append({"source": str(info.path), "index": i, **row, **w.add(e, i)})
        return lerobot.finish(plan, out, w, rows)

"""LeRobot dataset v3.0, written with pyarrow and PyAV (no lerobot import): one data parquet, one H.264 video per
camera holding every episode back to back, meta/info.json, stats.json, tasks.parquet, episodes parquet.

Timestamps are exactly frame_index / fps (LeRobot's loader checks them within 1e-4 s)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dexumi.episode.reader import Episode
from dexumi.export.plan import ExportPlan, blocks
from dexumi.export.source import ImageSource, resample
from dexumi.export.stats import ImageStats, vector_stats
from dexumi.export.video import H264Writer

CODEBASE_VERSION = "v3.0"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-000/file-000.parquet"
DEFAULT_TASK = "dexterous manipulation demonstration"
INDEX_FEATURES = {
    "timestamp": {"dtype": "float32", "shape": [1], "names": None},
    "frame_index": {"dtype": "int64", "shape": [1], "names": None},
    "episode_index": {"dtype": "int64", "shape": [1], "names": None},
    "index": {"dtype": "int64", "shape": [1], "names": None},
    "task_index": {"dtype": "int64", "shape": [1], "names": None},
}


def video_key(cam: str) -> str:
    return f"observation.images.{cam}"


def features(plan: ExportPlan) -> dict:
    A, J = list(plan.first.action_names), list(plan.first.exo_names)
    feats: dict = {
        "action": {"dtype": "float32", "shape": [len(A)], "names": A},
        "observation.state": {"dtype": "float32", "shape": [len(A)], "names": A},
        "observation.exo_joints": {"dtype": "float32", "shape": [len(J)], "names": J},
    }
    for c in plan.cameras:
        w, h = plan.sizes[c]
        feats[video_key(c)] = {
            "dtype": "video", "shape": [h, w, 3], "names": ["height", "width", "channels"],
            "info": {"video.height": h, "video.width": w, "video.codec": "h264", "video.pix_fmt": "yuv420p",
                     "video.is_depth_map": False, "video.fps": int(round(plan.fps)), "video.channels": 3,
                     "has_audio": False}}
    feats.update(INDEX_FEATURES)
    return feats


def _vec(x: np.ndarray) -> pa.Array:
    x = np.ascontiguousarray(x, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(x.ravel(), pa.float32()), x.shape[1])


def _data_schema(plan: ExportPlan) -> pa.Schema:
    A, J = len(plan.first.action_names), len(plan.first.exo_names)
    return pa.schema([("action", pa.list_(pa.float32(), A)), ("observation.state", pa.list_(pa.float32(), A)),
                      ("observation.exo_joints", pa.list_(pa.float32(), J)), ("timestamp", pa.float32()),
                      ("frame_index", pa.int64()), ("episode_index", pa.int64()), ("index", pa.int64()),
                      ("task_index", pa.int64())])


def _tasks_table(tasks: list[str]) -> pa.Table:
    """meta/tasks.parquet as pandas writes it: task strings are the index, `task_index` the column."""
    meta = {"index_columns": ["__index_level_0__"],
            "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode", "numpy_type": "object",
                                "metadata": {"encoding": "UTF-8"}}],
            "columns": [{"name": "task_index", "field_name": "task_index", "pandas_type": "int64",
                         "numpy_type": "int64", "metadata": None},
                        {"name": None, "field_name": "__index_level_0__", "pandas_type": "unicode",
                         "numpy_type": "object", "metadata": None}],
            "attributes": {}, "creator": {"library": "pyarrow", "version": pa.__version__}, "pandas_version": "2.2.0"}
    t = pa.table({"task_index": pa.array(range(len(tasks)), pa.int64()), "__index_level_0__": pa.array(tasks)})
    return t.replace_schema_metadata({b"pandas": json.dumps(meta).encode()})


def write(plan: ExportPlan, out: Path, tick: Callable[[int], None]) -> list[dict]:
    fps = int(round(plan.fps))
    (out / "meta" / "episodes" / "chunk-000").mkdir(parents=True)
    (out / "data" / "chunk-000").mkdir(parents=True)
    writers: dict[str, H264Writer] = {}
    for c in plan.cameras:
        p = out / VIDEO_PATH.format(video_key=video_key(c), chunk_index=0, file_index=0)
        p.parent.mkdir(parents=True)
        writers[c] = H264Writer(p, plan.sizes[c], fps)
    img_stats = {c: ImageStats() for c in plan.cameras}
    tasks: list[str] = []
    episodes: list[dict] = []
    all_vec: dict[str, list[np.ndarray]] = {"action": [], "observation.state": [], "observation.exo_joints": []}
    total = 0
    data_path = out / DATA_PATH.format(chunk_index=0, file_index=0)
    try:
        with pq.ParquetWriter(data_path, _data_schema(plan)) as pw:
            for i, info in enumerate(plan.episodes):
                with Episode.open(info.path) as ep:
                    r = resample(ep, plan.fps)
                    T = len(r)
                    task = info.task or DEFAULT_TASK
                    if task not in tasks:
                        tasks.append(task)
                    ti = tasks.index(task)
                    frame_index = np.arange(T, dtype=np.int64)
                    ts = (frame_index / fps).astype(np.float32)
                    pw.write_table(pa.Table.from_arrays(
                        [_vec(r.action), _vec(r.qpos), _vec(r.exo), pa.array(ts, pa.float32()),
                         pa.array(frame_index), pa.array(np.full(T, i, np.int64)),
                         pa.array(np.arange(total, total + T, dtype=np.int64)), pa.array(np.full(T, ti, np.int64))],
                        schema=_data_schema(plan)))
                    sources = {c: ImageSource(ep, c, plan.sizes[c]) for c in plan.cameras}
                    starts = {c: writers[c].n for c in plan.cameras}
                    for k0, k1 in blocks(T):
                        for c in plan.cameras:
                            frames = sources[c].block(r.images[c][k0:k1])
                            for k, fr in enumerate(frames):
                                writers[c].write(fr)
                                if (k0 + k) % 15 == 0:
                                    img_stats[c].add(fr)
                            img_stats[c].frames(k1 - k0)
                        tick(k1 - k0)
                row = {"episode_index": i, "tasks": [task], "length": T, "data/chunk_index": 0, "data/file_index": 0,
                       "dataset_from_index": total, "dataset_to_index": total + T}
                for c in plan.cameras:
                    row.update({f"videos/{video_key(c)}/chunk_index": 0, f"videos/{video_key(c)}/file_index": 0,
                                f"videos/{video_key(c)}/from_timestamp": starts[c] / fps,
                                f"videos/{video_key(c)}/to_timestamp": (starts[c] + T) / fps})
                for key, x in (("action", r.action), ("observation.state", r.qpos), ("observation.exo_joints", r.exo)):
                    all_vec[key].append(x)
                    for s, v in vector_stats(x).items():
                        row[f"stats/{key}/{s}"] = v
                row.update({"meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0, "source": info.path.name})
                episodes.append(row)
                total += T
    finally:
        for w in writers.values():
            w.close()
    pq.write_table(pa.Table.from_pylist(episodes), out / EPISODES_PATH)
    pq.write_table(_tasks_table(tasks), out / "meta" / "tasks.parquet")
    stats: dict = {k: vector_stats(np.concatenate(v)) for k, v in all_vec.items()}
    stats.update({video_key(c): s.result() for c, s in img_stats.items()})
    idx = np.arange(total)
    ep_idx = np.concatenate([np.full(e["length"], e["episode_index"]) for e in episodes])
    fr_idx = np.concatenate([np.arange(e["length"]) for e in episodes])
    stats.update({"timestamp": vector_stats(fr_idx / fps), "frame_index": vector_stats(fr_idx),
                  "episode_index": vector_stats(ep_idx), "index": vector_stats(idx),
                  "task_index": vector_stats(np.zeros(total))})
    (out / "meta" / "stats.json").write_text(json.dumps(stats, indent=1))
    info = {"codebase_version": CODEBASE_VERSION, "robot_type": plan.first.hand or None,
            "total_episodes": len(episodes), "total_frames": total, "total_tasks": len(tasks), "chunks_size": 1000,
            "data_files_size_in_mb": 100, "video_files_size_in_mb": 200, "fps": fps,
            "splits": {"train": f"0:{len(episodes)}"}, "data_path": DATA_PATH,
            "video_path": VIDEO_PATH if plan.cameras else None, "features": features(plan)}
    (out / "meta" / "info.json").write_text(json.dumps(info, indent=4))
    return [{"source": e["source"], "index": e["episode_index"], "frames": e["length"]} for e in episodes]

"""LeRobot dataset v3.0, written with pyarrow and PyAV (no lerobot import): one data parquet, one H.264 video per
camera and episode (file_index = episode index within its chunk: a damaged episode is dropped without touching
the others), meta/info.json, stats.json, tasks.parquet, episodes parquet.

Timestamps are exactly frame_index / fps (LeRobot's loader checks them within 1e-4 s)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dexumi.episode.reader import Episode
from dexumi.export.episodes import each_episode, export_meta
from dexumi.export.plan import ExportPlan, blocks
from dexumi.export.source import ImageSource, SourceInfo, resample
from dexumi.export.stats import ImageStats, vector_stats
from dexumi.export.video import H264Writer

CODEBASE_VERSION = "v3.0"
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-000/file-000.parquet"
CHUNKS_SIZE = 1000
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


PRIVILEGED_EXO = "observation.privileged.exo_joints"
VALID = "valid"


def _privileged(plan: ExportPlan) -> bool:
    return bool(plan.opts and plan.opts.privileged)


def _tactile(plan: ExportPlan) -> list[tuple[str, str, list[str]]]:
    """(board entry, feature key, channel names) of every tactile board: observation.tactile.<role>."""
    from dexumi.export.tactile import feature_key, names

    total = bool(plan.opts and plan.opts.tactile_total)
    return [(e, feature_key(e), names(e, total)) for e in plan.first.tactile]


def features(plan: ExportPlan) -> dict:
    A, J = list(plan.first.vector_names), list(plan.first.exo_names)
    feats: dict = {
        "action": {"dtype": "float32", "shape": [len(A)], "names": A},
        "observation.state": {"dtype": "float32", "shape": [len(A)], "names": A},
    }
    if _privileged(plan):
        feats[PRIVILEGED_EXO] = {"dtype": "float32", "shape": [len(J)], "names": J}
    for _, key, nm in _tactile(plan):
        feats[key] = {"dtype": "float32", "shape": [len(nm)], "names": nm}
    feats[VALID] = {"dtype": "bool", "shape": [1], "names": None}
    for c in plan.cameras:
        w, h = plan.sizes[c]
        feats[video_key(c)] = {
            "dtype": "video",
            "shape": [h, w, 3],
            "names": ["height", "width", "channels"],
            "info": {
                "video.height": h,
                "video.width": w,
                "video.codec": "h264",
                "video.pix_fmt": "yuv420p",
                "video.is_depth_map": False,
                "video.fps": int(round(plan.fps)),
                "video.channels": 3,
                "has_audio": False,
            },
        }
    feats.update(INDEX_FEATURES)
    return feats


def _vec(x: np.ndarray) -> pa.Array:
    x = np.ascontiguousarray(x, dtype=np.float32)
    return pa.FixedSizeListArray.from_arrays(pa.array(x.ravel(), pa.float32()), x.shape[1])


def _data_schema(plan: ExportPlan) -> pa.Schema:
    A, J = len(plan.first.vector_names), len(plan.first.exo_names)
    cols = [("action", pa.list_(pa.float32(), A)), ("observation.state", pa.list_(pa.float32(), A))]
    if _privileged(plan):
        cols.append((PRIVILEGED_EXO, pa.list_(pa.float32(), J)))
    cols += [(key, pa.list_(pa.float32(), len(nm))) for _, key, nm in _tactile(plan)]
    return pa.schema(
        cols
        + [
            (VALID, pa.bool_()),
            ("timestamp", pa.float32()),
            ("frame_index", pa.int64()),
            ("episode_index", pa.int64()),
            ("index", pa.int64()),
            ("task_index", pa.int64()),
        ]
    )


def _tasks_table(tasks: list[str]) -> pa.Table:
    """meta/tasks.parquet as pandas writes it: task strings are the index, `task_index` the column."""
    meta = {
        "index_columns": ["__index_level_0__"],
        "column_indexes": [
            {
                "name": None,
                "field_name": None,
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": {"encoding": "UTF-8"},
            }
        ],
        "columns": [
            {
                "name": "task_index",
                "field_name": "task_index",
                "pandas_type": "int64",
                "numpy_type": "int64",
                "metadata": None,
            },
            {
                "name": None,
                "field_name": "__index_level_0__",
                "pandas_type": "unicode",
                "numpy_type": "object",
                "metadata": None,
            },
        ],
        "attributes": {},
        "creator": {"library": "pyarrow", "version": pa.__version__},
        "pandas_version": "2.2.0",
    }
    t = pa.table({"task_index": pa.array(range(len(tasks)), pa.int64()), "__index_level_0__": pa.array(tasks)})
    return t.replace_schema_metadata({b"pandas": json.dumps(meta).encode()})


def _video(out: Path, cam: str, i: int) -> Path:
    return out / VIDEO_PATH.format(video_key=video_key(cam), chunk_index=i // CHUNKS_SIZE, file_index=i % CHUNKS_SIZE)


@dataclass
class Encoded:
    """One episode converted, before it gets its place in the dataset: the videos are written, the rows not yet
    (`_Writer.add` gives them their indices). What a batch task ships back (dexumi.export.sharded)."""

    T: int
    action: np.ndarray
    qpos: np.ndarray
    valid: np.ndarray
    exo: np.ndarray | None
    samples: dict[str, list[np.ndarray]]
    task: str
    source: str
    outcome: str
    operator: str
    info_task: str | None = None  # the episode's own task attribute (may be empty)
    tactile: dict[str, np.ndarray] = field(default_factory=dict)  # board entry → (T, channels)


def encode(
    plan: ExportPlan, ep: Episode, info: SourceInfo, videos: dict[str, Path], tick: Callable[[int], None]
) -> Encoded:
    """Resample `ep` and write each camera's H.264 video to `videos[cam]`."""
    o = plan.opts
    fps = int(round(plan.fps))
    r = resample(ep, plan.fps, o.action_horizon if o else 1, plan.motor, plan.first.pose, plan.first.tactile, o)
    T = len(r)
    sources = {
        c: ImageSource(ep, c, plan.sizes[c], o.image_fit if o else "crop", o.visual if o else "raw")
        for c in plan.cameras
    }
    writers: dict[str, H264Writer] = {}
    samples: dict[str, list[np.ndarray]] = {c: [] for c in plan.cameras}
    try:
        for c in plan.cameras:
            p = videos[c]
            p.parent.mkdir(parents=True, exist_ok=True)
            writers[c] = H264Writer(p, plan.sizes[c], fps)

        def encode_block(c: str, frames: np.ndarray, k0: int) -> None:
            for k, fr in enumerate(frames):
                writers[c].write(fr)
                if (k0 + k) % 15 == 0:
                    samples[c].append(fr)

        # pipelined: block k is encoded (one thread per camera; libx264 runs without the GIL) while
        # block k+1 is decoded
        pending: dict[str, Future] = {}
        with ThreadPoolExecutor(max_workers=max(1, len(plan.cameras)), thread_name_prefix="encode") as pool:
            for k0, k1 in blocks(T):
                for c in plan.cameras:
                    frames = sources[c].block(r.images[c][k0:k1])
                    if c in pending:
                        pending.pop(c).result()
                    pending[c] = pool.submit(encode_block, c, frames, k0)
                tick(k1 - k0)
            for f in pending.values():
                f.result()
    finally:
        for w in writers.values():
            w.close()
    return Encoded(
        T,
        r.action,
        r.qpos,
        r.valid,
        r.exo if _privileged(plan) else None,
        samples,
        info.task or DEFAULT_TASK,
        info.path.name,
        info.outcome,
        info.operator,
        info.task,
        {b: r.tactile[b] for b, _, _ in _tactile(plan)},
    )


class _Writer:
    """Streams episodes into the data parquet and per-episode videos; keeps what the metadata needs."""

    def __init__(self, plan: ExportPlan, out: Path, tick: Callable[[int], None], pw: pq.ParquetWriter) -> None:
        self.plan, self.out, self.tick, self.pw = plan, out, tick, pw
        self.fps = int(round(plan.fps))
        self.img_stats = {c: ImageStats() for c in plan.cameras}
        self.tasks: list[str] = []
        self.episodes: list[dict] = []
        keys = (
            ["action", "observation.state", VALID]
            + ([PRIVILEGED_EXO] if _privileged(plan) else [])
            + [key for _, key, _ in _tactile(plan)]
        )
        self.all_vec: dict[str, list[np.ndarray]] = {k: [] for k in keys}
        self.total = 0

    def episode(self, ep: Episode, i: int, info: SourceInfo) -> dict:
        enc = encode(self.plan, ep, info, {c: _video(self.out, c, i) for c in self.plan.cameras}, self.tick)
        return self.add(enc, i)

    def add(self, e: Encoded, i: int) -> dict:
        """Episode `i`'s rows, stats and metadata (its videos are in place)."""
        plan = self.plan
        T = e.T
        # the episode's images are complete: now its rows (nothing of it is written before this point)
        task = e.task
        if task not in self.tasks:
            self.tasks.append(task)
        ti = self.tasks.index(task)
        frame_index = np.arange(T, dtype=np.int64)
        ts = (frame_index / self.fps).astype(np.float32)
        vec = {"action": e.action, "observation.state": e.qpos, VALID: e.valid.astype(np.float32)[:, None]}
        cols = [_vec(e.action), _vec(e.qpos)]
        if _privileged(plan):
            assert e.exo is not None  # encode() keeps the exoskeleton joints of a privileged plan
            vec[PRIVILEGED_EXO] = e.exo
            cols.append(_vec(e.exo))
        for board, key, _ in _tactile(plan):  # touch: observation.tactile.<role>
            vec[key] = e.tactile[board]
            cols.append(_vec(e.tactile[board]))
        self.pw.write_table(
            pa.Table.from_arrays(
                cols
                + [
                    pa.array(e.valid.astype(bool), pa.bool_()),
                    pa.array(ts, pa.float32()),
                    pa.array(frame_index),
                    pa.array(np.full(T, i, np.int64)),
                    pa.array(np.arange(self.total, self.total + T, dtype=np.int64)),
                    pa.array(np.full(T, ti, np.int64)),
                ],
                schema=_data_schema(plan),
            )
        )
        for c in plan.cameras:
            for fr in e.samples[c]:
                self.img_stats[c].add(fr)
            self.img_stats[c].frames(T)
        row = {
            "episode_index": i,
            "tasks": [task],
            "length": T,
            "data/chunk_index": 0,
            "data/file_index": 0,
            "dataset_from_index": self.total,
            "dataset_to_index": self.total + T,
        }
        for c in plan.cameras:
            row.update(
                {
                    f"videos/{video_key(c)}/chunk_index": i // CHUNKS_SIZE,
                    f"videos/{video_key(c)}/file_index": i % CHUNKS_SIZE,
                    f"videos/{video_key(c)}/from_timestamp": 0.0,
                    f"videos/{video_key(c)}/to_timestamp": T / self.fps,
                }
            )
        for key, x in vec.items():
            self.all_vec[key].append(x)
            for s, v in vector_stats(x).items():
                row[f"stats/{key}/{s}"] = v
        row.update(
            {
                "meta/episodes/chunk_index": 0,
                "meta/episodes/file_index": 0,
                "source": e.source,
                "outcome": e.outcome,
                "operator": e.operator,
                "task": e.info_task,
                "valid_fraction": float(e.valid.mean()) if T else 0.0,
            }
        )
        self.episodes.append(row)
        self.total += T
        return {"frames": T}

    def undo(self, i: int) -> None:
        for c in self.plan.cameras:
            _video(self.out, c, i).unlink(missing_ok=True)


def write(plan: ExportPlan, out: Path, tick: Callable[[int], None]) -> list[dict]:
    with open_dataset(plan, out, tick) as w:
        rows = each_episode(plan, w.episode, w.undo)
        return finish(plan, out, w, rows)


@contextmanager
def open_dataset(plan: ExportPlan, out: Path, tick: Callable[[int], None] = lambda n: None) -> Iterator[_Writer]:
    """The dataset's folders and its data parquet, open for `_Writer.episode`/`add`."""
    (out / "meta" / "episodes" / "chunk-000").mkdir(parents=True)
    (out / "data" / "chunk-000").mkdir(parents=True)
    data_path = out / DATA_PATH.format(chunk_index=0, file_index=0)
    with pq.ParquetWriter(data_path, _data_schema(plan)) as pw:
        yield _Writer(plan, out, tick, pw)


def finish(plan: ExportPlan, out: Path, w: _Writer, rows: list[dict]) -> list[dict]:
    """meta/: episodes, tasks, stats, info."""
    fps = int(round(plan.fps))
    episodes, tasks, total = w.episodes, w.tasks, w.total
    pq.write_table(pa.Table.from_pylist(episodes), out / EPISODES_PATH)
    pq.write_table(_tasks_table(tasks), out / "meta" / "tasks.parquet")
    stats: dict = {k: vector_stats(np.concatenate(v)) for k, v in w.all_vec.items()}
    stats.update({video_key(c): s.result() for c, s in w.img_stats.items()})
    idx = np.arange(total)
    ep_idx = np.concatenate([np.full(e["length"], e["episode_index"]) for e in episodes])
    fr_idx = np.concatenate([np.arange(e["length"]) for e in episodes])
    task_idx = np.concatenate([np.full(e["length"], tasks.index(e["tasks"][0])) for e in episodes])
    stats.update(
        {
            "timestamp": vector_stats(fr_idx / fps),
            "frame_index": vector_stats(fr_idx),
            "episode_index": vector_stats(ep_idx),
            "index": vector_stats(idx),
            "task_index": vector_stats(task_idx),
        }
    )
    (out / "meta" / "stats.json").write_text(json.dumps(stats, indent=1))
    info = {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": plan.first.hand or None,
        "total_episodes": len(episodes),
        "total_frames": total,
        "total_tasks": len(tasks),
        "chunks_size": CHUNKS_SIZE,
        "data_files_size_in_mb": 100,
        "video_files_size_in_mb": 200,
        "fps": fps,
        "splits": {"train": f"0:{len(episodes)}"},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH if plan.cameras else None,
        "features": features(plan),
        "dexumi_export": export_meta(plan),
    }
    (out / "meta" / "info.json").write_text(json.dumps(info, indent=4))
    return rows

"""Validation and export throughput on a long synthetic episode, with peak memory; and our LeRobot export against
LeRobot's own writer (`LeRobotDataset.create` + `add_frame` + `save_episode`, in its cached venv
/tmp/dexumi-venvs/lerobot, created on first use like tests/test_export_loaders.py does): the same frames (decoded
from our export), the same image size and fps, the same codec (H.264), LeRobot-record's 4 image-writer threads
per camera. Without that venv the writer figures are null.

    python benchmarks/validate_export.py [--quick]

The episode (10 minutes; --quick: 1 minute) is written through the episode writer API: 1 kHz encoder with six
joints moving smoothly inside the exoskeleton's range, two 640x480 JPEG cameras at 30 fps (a cycle of 90
pre-encoded frames), finalised with the bundled Inspire retargeting map. Each measured step runs in its own
process so its peak RSS is its own. Every run ends with the day's-folder figures of benchmarks/day_folder.py
(`day_validate_export_s`, `day_scale`, `export_s_per_episode_n10`, `export_s_per_episode_n50`; --quick: a day
extrapolated from 1 and 3 one-minute episodes); `--day` runs only those, from 1 and 20 episodes. Last stdout
line: one JSON object.

    python benchmarks/validate_export.py --day [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_episode(folder: Path, seconds: float, fps: float = 30.0, rate: float = 1000.0) -> Path:
    import cv2

    from dexumi.episode.layout import CameraLayout, EncoderLayout, EpisodeMeta
    from dexumi.episode.writer import EpisodeWriter
    from dexumi.session.retarget import bundled_map, load_retargeter
    from dexumi.types import CameraFrame, EncoderBatch

    rt, map_text = load_retargeter(bundled_map("inspire_like"), 6)
    folder.mkdir(parents=True, exist_ok=True)
    meta = EpisodeMeta(
        number=1,
        task="benchmark",
        robot_hand="inspire_like",
        exoskeleton="inspire_exo",
        nominal_fps=fps,
        retarget_map_yaml=map_text,
        main_camera="wrist0",
        software_version="benchmark",
    )
    enc = EncoderLayout(channels=6, joint_names=tuple(rt.channels), nominal_rate_hz=rate)
    cams = [CameraLayout(c, 640, 480, fps=fps) for c in ("wrist0", "wrist1")]
    w = EpisodeWriter(folder / "episode_0001.h5.partial", meta, enc, cams, action_names=tuple(rt.robot_joint_names))
    rng = np.random.default_rng(0)
    jpegs = []
    for k in range(90):
        img = np.full((480, 640, 3), 40, np.uint8)
        cv2.rectangle(img, (20 + 6 * k, 150), (120 + 6 * k, 330), (200, 200, 200), -1)
        img = cv2.add(img, rng.integers(0, 25, img.shape, dtype=np.uint8))
        jpegs.append(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
    hi = np.array([1.3, 0.6, 1.4, 1.4, 1.4, 1.4])  # inside inspire_exo's range, map channel order
    t0 = 1000.0
    n_cam = 0
    for s in range(int(seconds)):
        idx = np.arange(s * rate, (s + 1) * rate, dtype=np.int64)
        t = t0 + idx / rate
        phase = 2 * np.pi * t[:, None] / np.array([3.1, 4.3, 2.7, 3.3, 3.7, 4.1])
        ang = 0.05 + (hi - 0.05) * (0.5 - 0.5 * np.cos(phase))
        w.append_encoder([EncoderBatch(idx, idx * int(1e6 / rate), t, t, (ang * 1e5).astype(np.int32), ang)])
        while n_cam / fps < s + 1:
            for c in ("wrist0", "wrist1"):
                w.append_frames(
                    c, [CameraFrame(c, n_cam, t0 + n_cam / fps + 0.002, jpegs[n_cam % 90], "jpeg", 640, 480)]
                )
            n_cam += 1
        w.maybe_flush()
    return w.finalize("success", retargeter=rt)


def peak_rss_mb() -> float:
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(self_kb, child_kb) / 1024, 1)


def cpu_s() -> float:
    """CPU seconds (user + system) of this process, its threads and its finished children."""
    return sum(
        getattr(resource.getrusage(w), f)
        for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        for f in ("ru_utime", "ru_stime")
    )


def step(kind: str, args: list[str]) -> dict:
    """One measured step in this process (called through a subprocess)."""
    t = time.perf_counter()
    if kind == "validate":
        from dexumi.validate import validate_paths

        files = [Path(a) for a in args[1:]]
        res = validate_paths(files, workers=int(args[0]), progress=False)
        out = {
            "files": len(files),
            "failed": res.failed(),
            "checks": {c.check: c.level for c in res.episodes[0].checks},
        }
    else:
        from dexumi.export import ExportOptions, export_paths

        fmt, src, dst, fps, size, keep = (*args, "0")[:6]
        w, h = (int(v) for v in size.split("x"))
        s = export_paths([src], ExportOptions(fmt, Path(dst), float(fps), (w, h), force=True, progress=False))
        out = {"frames": s.frames, "mb_written": round(s.bytes / 2**20, 1)}
    out["seconds"] = round(time.perf_counter() - t, 3)
    if kind != "validate" and keep != "keep":
        shutil.rmtree(dst, ignore_errors=True)
    out["cpu_s"] = round(cpu_s(), 3)
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def measure(kind: str, *args: object) -> dict:
    p = subprocess.run(
        [sys.executable, __file__, "--step", kind, *map(str, args)], capture_output=True, text=True, cwd=REPO
    )
    if p.returncode != 0:
        raise SystemExit(f"step {kind} failed: {p.stderr[-800:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


LEROBOT_WRITER = r"""
import json, sys, time, shutil
import av, numpy as np, pyarrow.parquet as pq
from pathlib import Path
from lerobot.datasets.lerobot_dataset import LeRobotDataset
src, dst, limit, vcodec = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
info = json.loads((src / "meta/info.json").read_text())
fps = info["fps"]
t = pq.read_table(src / "data/chunk-000/file-000.parquet").to_pydict()
n = min(limit, len(t["index"]))
cams = [k for k, v in info["features"].items() if v["dtype"] == "video"]
frames = {}
for k in cams:
    out = []
    for mp4 in sorted((src / "videos" / k).rglob("*.mp4")):
        with av.open(str(mp4)) as c:
            for fr in c.decode(video=0):
                out.append(fr.to_ndarray(format="rgb24"))
                if len(out) >= n:
                    break
        if len(out) >= n:
            break
    frames[k] = out
feats = {k: {"dtype": "float32", "shape": tuple(info["features"][k]["shape"]), "names": info["features"][k]["names"]}
         for k in ("action", "observation.state")}
for k in cams:
    h, w, _ = info["features"][k]["shape"]
    feats[k] = {"dtype": "video", "shape": (h, w, 3), "names": ["height", "width", "channels"]}
act, st, ep = np.asarray(t["action"], np.float32), np.asarray(t["observation.state"], np.float32), t["episode_index"]
t0 = time.perf_counter()
kw = {} if vcodec == "default" else {"vcodec": vcodec}
ds = LeRobotDataset.create("local/bench", fps, feats, root=dst, use_videos=True, image_writer_threads=4 * len(cams),
                           **kw)
for i in range(n):
    if i and ep[i] != ep[i - 1]:
        ds.save_episode()
    ds.add_frame({"action": act[i], "observation.state": st[i], "task": "benchmark",
                  **{k: frames[k][i] for k in cams}})
ds.save_episode()
ds.finalize()
sec = time.perf_counter() - t0
print(json.dumps({"frames": n, "seconds": round(sec, 3), "frames_per_s": round(n / sec, 1)}))
"""


def lerobot_writer(export_dir: Path, dst: Path, limit: int, vcodec: str) -> dict | None:
    """LeRobot's own writer on the frames of our export, in its venv; None (with the reason on stderr) without it."""
    py = Path("/tmp/dexumi-venvs/lerobot/bin/python")
    if not (py.parent.parent / ".ok").exists():
        print("lerobot venv absent (/tmp/dexumi-venvs/lerobot): run tests/test_export_loaders.py once", file=sys.stderr)
        return None
    p = subprocess.run(
        [str(py), "-c", LEROBOT_WRITER, str(export_dir), str(dst), str(limit), vcodec],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if p.returncode != 0:
        print(f"LeRobot writer failed: {p.stderr[-600:]}", file=sys.stderr)
        return None
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="a 1-minute episode instead of 10 minutes")
    ap.add_argument("--step", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--fps", type=float, default=15.0, help="export rate (training rate)")
    ap.add_argument("--image-size", default="224x224", help="export image size")
    ap.add_argument("--day", action="store_true", help="only the day's-folder figures, at a larger scale")
    a = ap.parse_args()
    if a.step:
        print(json.dumps(step(a.step[0], a.step[1:])))
        return
    if a.day:
        from day_folder import day_figures

        print(json.dumps(day_figures(quick=a.quick, fps=a.fps, size=a.image_size)))
        return
    seconds = 60 if a.quick else 600
    work = Path(tempfile.mkdtemp(prefix="dexumi-bench-ve-"))
    try:
        t = time.perf_counter()
        ep = make_episode(work / "eps", seconds)
        gen = time.perf_counter() - t
        mb = ep.stat().st_size / 2**20
        v1 = measure("validate", 1, ep)
        twin = work / "eps2" / "episode_0002.h5"
        twin.parent.mkdir()
        os.link(ep, twin)  # a second file for the parallel run, no extra disk
        v2 = measure("validate", 2, ep, twin)
        result: dict = {
            "episode_s": seconds,
            "file_mb": round(mb, 1),
            "generate_s": round(gen, 2),
            "validate": {
                "seconds": v1["seconds"],
                "episodes_per_min": round(60 / v1["seconds"], 2),
                "mb_per_s": round(mb / v1["seconds"], 1),
                "peak_rss_mb": v1["peak_rss_mb"],
                "passed": not v1["failed"],
            },
            "validate_2_files_2_workers": {
                "seconds": v2["seconds"],
                "episodes_per_min": round(2 * 60 / v2["seconds"], 2),
                "mb_per_s": round(2 * mb / v2["seconds"], 1),
                "peak_rss_mb": v2["peak_rss_mb"],
            },
            "export_settings": {"fps": a.fps, "image_size": a.image_size},
            "export": {},
        }
        for fmt in ("act", "robomimic", "lerobot", "zarr"):
            r = measure(
                "export", fmt, ep, work / f"out-{fmt}", a.fps, a.image_size, "keep" if fmt == "lerobot" else "drop"
            )
            result["export"][fmt] = {
                "seconds": r["seconds"],
                "frames": r["frames"],
                "frames_per_s": round(r["frames"] / r["seconds"], 1),
                "episode_s_per_s": round(seconds / r["seconds"], 2),
                "input_mb_per_s": round(mb / r["seconds"], 1),
                "mb_written": r["mb_written"],
                "peak_rss_mb": r["peak_rss_mb"],
            }
        result["zarr_frames_per_s"] = result["export"]["zarr"]["frames_per_s"]
        ours = result["export"]["lerobot"]["frames_per_s"]
        # LeRobot's writer as `LeRobotDataset.create` sets it up (its default codec, libsvtav1), and with H.264 (our
        # codec) for comparison; the first `limit` frames of the same export (a rate, so a prefix is enough)
        limit = 450 if a.quick else 100_000
        lw = lerobot_writer(work / "out-lerobot", work / "lerobot-writer", limit, "default")
        lw264 = lerobot_writer(work / "out-lerobot", work / "lerobot-writer-h264", limit, "h264")
        result["lerobot_writer"] = {"default_codec": lw, "h264": lw264}
        result["lerobot_writer_frames_per_s"] = lw["frames_per_s"] if lw else None
        result["export_vs_lerobot_writer"] = round(ours / lw["frames_per_s"], 2) if lw else None
        result["export_vs_lerobot_writer_h264"] = round(ours / lw264["frames_per_s"], 2) if lw264 else None
        from day_folder import day_figures

        result.update(day_figures(quick=a.quick, fps=a.fps, size=a.image_size, base=ep))
        print(json.dumps(result))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

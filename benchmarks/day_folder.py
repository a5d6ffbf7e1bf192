"""A day's folder (issue 19): validate + export (LeRobot) of many one-minute episodes, and ACT export cost per
episode at 10 and 50 episodes. Used by `validate_export.py` (every run, and `--day` alone at a larger scale).

The day is 300 one-minute episodes; the run holds `n` real copies (distinct files, so the page cache sees a real
folder) of one generated minute, numbered 1..n (and a run of 1 beside it: start-up, fitted apart from the
per-episode cost), and extrapolates linearly to 300 (`day_scale` = 300 / n). The machine these run on
is shared (load 15-20 on 2 cores), so wall time says more about the neighbours than about the code: the
headline `day_validate_export_s` is the CPU seconds (user + system, every thread and worker process) of
start-up + 300 x per-episode / 2 cores - what two free cores need when both are busy all along - and the wall seconds measured
under the load are reported beside it (`day_wall_under_load_s`, with the load average).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

DAY_EPISODES, DAY_EPISODE_S, CORES = 300, 60, 2


def _folder(src: Path, dst: Path, n: int) -> Path:
    """n copies of `src` numbered 1..n (the numbering check sees a clean day)."""
    import h5py

    from dexumi.episode import schema as S

    dst.mkdir(parents=True)
    for k in range(1, n + 1):
        p = dst / f"episode_{k:04d}.h5"
        shutil.copyfile(src, p)
        with h5py.File(p, "r+") as f:
            f.attrs[S.A_NUMBER] = k
    return dst


def image_check_speedup(ep: Path, rounds: int = 3) -> dict:
    """The image check's per-frame cost with the decode shortcut against decoding every frame (the previous
    check), interleaved on the same frames, CPU time; and whether every verdict agreed."""
    import cv2
    import h5py

    from dexumi.validate.jpeg import structure_ok
    from dexumi.validate.jpeg_fast import DecodeChecker

    with h5py.File(ep, "r") as f:
        g = f["raw/cameras/wrist0"]
        bufs = list(g["jpeg"][:600])
        want = (-(-int(g.attrs["height"]) // 8), -(-int(g.attrs["width"]) // 8))
    flag = cv2.IMREAD_REDUCED_COLOR_8
    old_t, new_t, same = [], [], True
    for _ in range(rounds):
        t = time.process_time()
        ref = [
            (im := cv2.imdecode(b, flag) if structure_ok(b) else None) is not None and im.shape[:2] == want
            for b in bufs
        ]
        old_t.append(time.process_time() - t)
        t = time.process_time()
        c = DecodeChecker(flag, want)
        got = [c.ok(b) for b in bufs]
        new_t.append(time.process_time() - t)
        same &= got == ref
    o, n = float(np.median(old_t)), float(np.median(new_t))
    return {
        "old_ms_per_frame": round(1e3 * o / len(bufs), 3),
        "new_ms_per_frame": round(1e3 * n / len(bufs), 3),
        "speedup": round(o / n, 1) if n else None,
        "same_verdicts": bool(same),
    }


def _h264_settings() -> str:
    """The export's libx264 settings (dexumi.export.video.H264Writer defaults), to read the figures against."""
    from dexumi.export.video import FAST_MOTION

    return f"veryfast crf 23 threads 1 {FAST_MOTION}"


def day_figures(quick: bool, fps: float, size: str, base: Path | None = None) -> dict:
    from validate_export import make_episode, measure

    work = Path(tempfile.mkdtemp(prefix="dexumi-bench-day-"))
    try:
        if base is None:
            base = make_episode(work / "src", DAY_EPISODE_S, fps=30.0)
        n = 3 if quick else 20
        load0 = os.getloadavg()[0]
        runs = {}
        for k in (1, n):  # two folder sizes: per-run start-up (imports, pools) apart from the per-episode cost
            day = _folder(base, work / f"day{k}", k)
            v = measure("validate", 2, day)
            e = measure("export", "lerobot", day, work / "day-out", fps, size, "drop")
            runs[k] = {
                "cpu_s": v["cpu_s"] + e["cpu_s"],
                "wall_s": v["seconds"] + e["seconds"],
                "validate_cpu_s": v["cpu_s"],
                "export_cpu_s": e["cpu_s"],
                "validate_wall_s": v["seconds"],
                "export_wall_s": e["seconds"],
                "validate_failed": v["failed"],
            }
            shutil.rmtree(day, ignore_errors=True)
        load1 = os.getloadavg()[0]
        per = {
            key: (runs[n][key] - runs[1][key]) / (n - 1)
            for key in ("cpu_s", "wall_s", "validate_cpu_s", "export_cpu_s")
        }
        fixed = {key: runs[1][key] - per[key] for key in per}
        day_cpu = fixed["cpu_s"] + DAY_EPISODES * per["cpu_s"]
        day_wall = fixed["wall_s"] + DAY_EPISODES * per["wall_s"]
        out = {
            "day_validate_export_s": round(day_cpu / CORES, 1),
            "day_scale": DAY_EPISODES / n,
            "day": {
                "episodes": [1, n],
                "episode_s": DAY_EPISODE_S,
                "scale_to": f"{DAY_EPISODES} x {DAY_EPISODE_S} s",
                "figure": "(start-up + 300 x per-episode) cpu seconds / 2 cores, fitted on runs of 1 and n "
                "episodes (see benchmarks/day_folder.py)",
                "validate_workers": 2,
                "h264": _h264_settings(),
                "per_episode_cpu_s": {k: round(v, 3) for k, v in per.items()},
                "startup_cpu_s": {k: round(v, 3) for k, v in fixed.items()},
                "runs": runs,
                "load_avg_1min": [round(load0, 1), round(load1, 1)],
            },
            "day_wall_under_load_s": round(day_wall, 1),
        }
        short_s = 2 if quick else 10
        short = make_episode(work / "short", short_s, fps=30.0)
        per = {}
        for k in (10, 50):
            folder = _folder(short, work / f"act{k}", k)
            r = measure("export", "act", folder, work / f"act{k}-out", fps, size, "drop")
            per[k] = {"wall_s": round(r["seconds"] / k, 3), "cpu_s": round(r["cpu_s"] / k, 3)}
            shutil.rmtree(folder, ignore_errors=True)
        out.update(
            {
                "export_s_per_episode_n10": per[10]["wall_s"],
                "export_s_per_episode_n50": per[50]["wall_s"],
                "export_per_episode": {"format": "act", "episode_s": short_s, "n10": per[10], "n50": per[50]},
                "image_check": image_check_speedup(base),
            }
        )
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)

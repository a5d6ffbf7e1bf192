#!/usr/bin/env python3
"""Cost of the per-episode latency self-check, and of `dexumi rank`.

`python benchmarks/syncqa.py [--quick]`; the last stdout line is one JSON object.

A sim session records one episode (two 640×480 30 fps cameras, true latency 70 ms, profile 40 ms) of 60 s
(`--quick`: 12 s; costs are then also given per 60 s, scaled by the frame count — the check is linear in it).
Ours: the self-check as finalising runs it (frames subsampled to 6 Hz, decoded at 1/8 size). Baseline: the same
estimator on every frame decoded at 1/4 size, as the latency calibration runs it. Both run on the same file
side by side, interleaved, median of rounds; both must find the 30 ms the profile is off. Rank: episodes per
second of `rank_paths` on copies of the episode (with fingertips). Costs are CPU seconds of this process
(the machine is shared: wall time under load says more about the neighbours), after a warm-up run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import h5py

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dexumi.episode import schema as S
from dexumi.episode.aligned import refit_encoder_times
from dexumi.episode import latency_check as L
from dexumi.validate.rank import rank_paths


def record(out: Path, seconds: float) -> Path:
    from dexumi.session.config import SessionConfig
    from dexumi.session.session import RecordingSession

    cfg = SessionConfig(out_dir=out, sim=True, sim_camera_latency_s=0.07, latencies_s={"wrist0": 0.04, "wrist1": 0.04})
    with RecordingSession(cfg) as s:
        s.start_episode()
        time.sleep(seconds)
        return s.stop_episode("success")


def check(path: Path, rate_hz: float, reduce: int) -> tuple[float, float, list[float]]:
    """(CPU s, wall s, differences in ms) of one self-check of every camera."""
    with h5py.File(path) as f:
        t0, c0 = time.perf_counter(), time.process_time()
        enc = f[S.ENCODER]
        et = refit_encoder_times(enc["device_time_us"][:], enc["host_time"][:], enc["segment"][:]).time
        ang = enc["angles"][:]
        diffs = []
        for name, g in f[S.CAMERAS].items():
            c = L.check_camera(
                name,
                et,
                ang,
                g["jpeg"],
                g["mapped_time"][:],
                float(g.attrs["latency_s"]),
                True,
                rate_hz=rate_hz,
                reduce=reduce,
            )
            diffs.append(c.difference_s * 1e3 if c.difference_s is not None else float("nan"))
        return time.process_time() - c0, time.perf_counter() - t0, diffs


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    seconds = 12.0 if args.quick else 60.0
    rounds = 3 if args.quick else 5
    with tempfile.TemporaryDirectory() as tmp:
        path = record(Path(tmp) / "day", seconds)
        with h5py.File(path) as f:
            frames = sum(g["jpeg"].shape[0] for g in f[S.CAMERAS].values())
            duration = float(f.attrs[S.A_DURATION])
        check(path, 6.0, 8)  # warm-up: imports (a recording session has them loaded already), file cache
        ours, base, ours_wall = [], [], []
        for _ in range(rounds):
            t, w, d_ours = check(path, 6.0, 8)
            ours.append(t)
            ours_wall.append(w)
            t, _, d_base = check(path, 1000.0, 4)
            base.append(t)
        per60 = 60.0 / duration
        copies = Path(tmp) / "copies"
        copies.mkdir()
        for k in range(6):
            shutil.copyfile(path, copies / f"episode_{k + 1:04d}.h5")
        t = time.perf_counter()
        rank_paths(sorted(copies.iterdir()))
        rank_s = time.perf_counter() - t
    o, b = statistics.median(ours), statistics.median(base)
    out = {
        "episode_s": round(duration, 2),
        "camera_frames": frames,
        "selfcheck_cpu_s": round(o, 3),
        "selfcheck_cpu_s_per_60s_episode": round(o * per60, 3),
        "selfcheck_wall_s_per_60s_episode": round(statistics.median(ours_wall) * per60, 3),
        "load_average_1min": round(__import__("os").getloadavg()[0], 1),
        "baseline_full_rate_cpu_s_per_60s_episode": round(b * per60, 3),
        "selfcheck_cost_ratio": round(o / b, 3),
        "difference_ms_ours": [round(x, 2) for x in d_ours],
        "difference_ms_baseline": [round(x, 2) for x in d_base],
        "rank_episodes_per_s": round(6 / rank_s, 2),
        "rounds": rounds,
        "quick": args.quick,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Recorder memory within one long episode: RSS slope of `dexumi record --headless` with two simulated
1280x800 cameras at 60 fps and a simulated encoder.

    python benchmarks/recorder_rss.py [--quick] [--seconds S]

The recorder runs as its own process; its RSS (and its children's, reported apart) is sampled every second.
The slope is a least-squares line over the samples after a warm-up (the first 20 % of the episode, at least
10 s), when buffers and caches have filled. Prints one JSON object as its last line: rss_slope_mb_per_min,
rss_start_mb, rss_end_mb, rss_max_mb, children_rss_end_mb, seconds, warmup_s, samples, streams (the episode's stream status).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger("bench.recorder_rss")
CAMERA = "sim:width=1280,height=800,fps=60"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a 45 s episode instead of 180 s")
    ap.add_argument("--seconds", type=float, default=None, help="episode length (default 180, quick 45)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    seconds = args.seconds or (45.0 if args.quick else 180.0)
    dexumi = Path(sys.executable).parent / "dexumi"
    with tempfile.TemporaryDirectory(prefix="dexumi-rss-") as out:
        cmd = [
            str(dexumi),
            "record",
            "--headless",
            "--port",
            "sim",
            "--camera",
            CAMERA,
            "--camera",
            CAMERA.replace("sim:", "sim:seed=1,"),
            "--duration",
            str(seconds),
            "--out",
            out,
            "--json",
        ]
        err = tempfile.TemporaryFile(mode="w+t")  # a file, not a pipe: a full pipe would stall the recorder
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT)
        p = psutil.Process(proc.pid)
        t0 = time.monotonic()
        times, rss, kids = [], [], []
        while proc.poll() is None:
            try:
                rss.append(p.memory_info().rss / 2**20)
                kids.append(sum(c.memory_info().rss for c in p.children(recursive=True)) / 2**20)
                times.append(time.monotonic() - t0)
            except psutil.Error:
                break
            time.sleep(1.0)
        stdout, _ = proc.communicate(timeout=120)
        err.seek(0)
        stderr = err.read()
        if proc.returncode != 0:
            print(f"error: the recorder exited {proc.returncode}: {stderr.strip()[-300:]}", file=sys.stderr)
            return 2
    episode = json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else {}
    t, r = np.asarray(times), np.asarray(rss)
    warm = max(10.0, 0.2 * seconds)
    sel = (t >= warm) & (t <= seconds)
    slope = float(np.polyfit(t[sel], r[sel], 1)[0] * 60.0) if sel.sum() >= 5 else float("nan")
    result = {
        "rss_slope_mb_per_min": round(slope, 3),
        "rss_start_mb": round(float(r[sel][0]), 1),
        "rss_end_mb": round(float(r[sel][-1]), 1),
        "rss_max_mb": round(float(r.max()), 1),
        "children_rss_end_mb": round(float(kids[-1]), 1),
        "seconds": seconds,
        "warmup_s": warm,
        "samples": int(sel.sum()),
        "streams": episode.get("status", {}).get("streams"),
        "cameras": [CAMERA, CAMERA],
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The collector's day: listing a folder (`dexumi ls`) and editing metadata atomically (`dexumi edit`).

`python benchmarks/day.py [--quick]`; the last stdout line is one JSON object.

Folder: one recorded sim episode copied to N numbers. `ls_ms_per_episode` lists it with cached validation
(the second listing of a day's folder); baseline: bare h5py opening each file and reading its root attributes,
`ls_ratio_vs_bare_attrs` = ours / bare. Edit: `edit_file` (copy + change + fsync + rename) of an episode padded
to `edit_file_mb`; baseline: the unsafe in-place attribute write with h5py (r+, write, close),
`edit_ratio_vs_inplace` = ours / in-place, median over rounds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n_eps, rounds, pad_mb = (40, 3, 50) if args.quick else (300, 5, 500)
    from dexumi.validate.listing import list_validated
    from dexumi.episode.metadata import edit_file

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "src"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "apps.cli.main",
                "record",
                "--headless",
                "--sim",
                "--out",
                str(src),
                "--duration",
                "2",
                "--task",
                "bench",
            ],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        ep = next(src.glob("episode_*.h5"))
        day = tmp / "day"
        day.mkdir()
        for i in range(1, n_eps + 1):
            shutil.copy(ep, day / f"episode_{i:04d}.h5")
        list_validated(day)  # validates once, fills the cache
        ours, bare = [], []
        for _ in range(rounds):
            t = time.perf_counter()
            rows = list_validated(day)
            ours.append(time.perf_counter() - t)
            assert len(rows) == n_eps
            t = time.perf_counter()
            for p in sorted(day.glob("episode_*.h5")):
                with h5py.File(p, "r") as f:
                    dict(f.attrs)
            bare.append(time.perf_counter() - t)
        big = tmp / "big" / "episode_0001.h5"
        big.parent.mkdir()
        shutil.copy(ep, big)
        with h5py.File(big, "r+") as f:  # pad to a realistic size (camera frames)
            f.create_dataset("pad", data=np.random.default_rng(0).integers(0, 255, pad_mb << 20, np.uint8))
        size_mb = big.stat().st_size / 2**20
        e_ours, e_bare = [], []
        for k in range(rounds):
            t = time.perf_counter()
            edit_file(big, {"notes": f"n{k}"})
            e_ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            with h5py.File(big, "r+") as f:
                f.attrs["notes"] = f"m{k}"
            e_bare.append(time.perf_counter() - t)
    ls_o, ls_b = statistics.median(ours), statistics.median(bare)
    ed_o, ed_b = statistics.median(e_ours), statistics.median(e_bare)
    print(
        json.dumps(
            {
                "episodes": n_eps,
                "ls_ms_per_episode": round(ls_o / n_eps * 1e3, 2),
                "ls_s_total": round(ls_o, 3),
                "ls_ratio_vs_bare_attrs": round(ls_o / ls_b, 2),
                "edit_file_mb": round(size_mb, 1),
                "edit_s": round(ed_o, 3),
                "edit_mb_per_s": round(size_mb / ed_o, 1),
                "edit_ratio_vs_inplace": round(ed_o / ed_b, 1),
            }
        )
    )


if __name__ == "__main__":
    main()

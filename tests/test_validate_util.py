"""Helpers shared by the validate/export/replay/dataset tests (no tests here): one sim recording per session,
defect injection into copies of it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np

DEXUMI = [sys.executable, "-m", "apps.cli.main"]
REPO = Path(__file__).resolve().parents[1]


def run(*args: object, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([*DEXUMI, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=REPO)


def recorded(tmp_path_factory, episodes: int = 2, duration: float = 3.0) -> Path:
    """A folder of sim episodes, recorded once per test session."""
    base = tmp_path_factory.getbasetemp() / f"dexumi-rec-{episodes}x{duration:g}"
    done = base / "done"
    if not done.exists():
        # The tests inject defects into clean episodes. On a machine loaded far beyond its cores the simulated
        # cameras can lose frames while recording (a real loss, which validate flags): record again, up to
        # three times, until no frame was lost.
        for _attempt in range(3):
            shutil.rmtree(base, ignore_errors=True)
            p = run(
                "record", "--headless", "--sim", "--out", base / "out", "--episodes", episodes, "--duration", duration
            )
            assert p.returncode == 0, p.stderr[-400:]
            if not any(dropped_frames(f) for f in (base / "out").glob("episode_*.h5")):
                break
        done.write_text("ok")
    files = sorted((base / "out").glob("episode_*.h5"))
    assert len(files) == episodes
    return base / "out"


def recorded_touch(tmp_path_factory, duration: float = 3.0) -> Path:
    """One sim episode with a second device, an FSR tactile board (`tactile_right`), recorded once per session."""
    import os

    base = tmp_path_factory.getbasetemp() / f"dexumi-touch-{duration:g}"
    done = base / "done"
    if not done.exists():
        shutil.rmtree(base, ignore_errors=True)
        env = dict(os.environ, DEXUMI_SIM_CAMERA="flat", QT_QPA_PLATFORM="offscreen")
        p = subprocess.run(
            [
                *DEXUMI,
                "record",
                "--headless",
                "--sim",
                "--out",
                str(base / "out"),
                "--episodes",
                "1",
                "--duration",
                str(duration),
                "--sim-devices",
                "exo_right,tactile_right:fsr",
                "--sim-tactile-rate",
                "500",
            ],
            capture_output=True,
            text=True,
            timeout=240,
            cwd=REPO,
            env=env,
        )
        assert p.returncode == 0, p.stderr[-2000:]
        done.write_text("ok")
    return base / "out" / "episode_0001.h5"


def dropped_frames(path: Path) -> int:
    """Camera frames a recording lost (its sync report)."""
    from dexumi.episode.reader import Episode

    with Episode.open(path) as ep:
        return sum(int(c["dropped"]) for c in ep.sync_report["cameras"].values())


def copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst)
    return dst


def modify(path: Path, fn) -> Path:
    with h5py.File(path, "r+") as f:
        fn(f)
    return path


def set_rows(ds: h5py.Dataset, fn) -> None:
    x = ds[:]
    fn(x)
    ds[...] = x


def reverse_timestamp(f: h5py.File) -> None:
    set_rows(f["timestamps"], lambda x: x.__setitem__(len(x) // 2, x[len(x) // 2 - 2]))


def gap(f: h5py.File) -> None:
    def shift(x: np.ndarray) -> None:
        x[len(x) // 2 :] += 1.0

    set_rows(f["timestamps"], shift)
    set_rows(f["raw/cameras/wrist0/grab_time"], shift)


def corrupt_jpeg(f: h5py.File) -> None:
    ds = f["raw/cameras/wrist1/jpeg"]
    buf = ds[5].copy()
    ds[5] = buf[: len(buf) // 2]  # truncated: OpenCV would still "decode" it


def garble_jpeg(f: h5py.File) -> None:
    ds = f["raw/cameras/wrist0/jpeg"]
    buf = ds[7].copy()
    rng = np.random.default_rng(1)
    mid = len(buf) // 2
    buf[mid : mid + 64] = rng.integers(0, 256, 64, dtype=np.uint8)
    buf[mid + 10] = 0xFF
    buf[mid + 11] = 0x3C
    ds[7] = buf


def nan_action(f: h5py.File) -> None:
    set_rows(f["action"], lambda x: x.__setitem__((3, 0), np.nan))


def outside_limits(f: h5py.File) -> None:
    set_rows(f["action"], lambda x: x.__setitem__((10, 0), 3.0))

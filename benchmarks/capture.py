#!/usr/bin/env python3
"""Capture-to-disk cost of MJPG pass-through, and alignment throughput.

`python benchmarks/capture.py [--quick]`; the last stdout line is one JSON object.

Ours: two cameras × 1280×800 × 60 fps, real-time paced, each through its own FrameGrabber thread, drained by
one consumer into a CameraFrameStore per camera (JPEG bytes + grab/mapped time + index). The frames are
pre-encoded JPEGs of realistic size (a textured scene, quality 90), so the camera's own work is not counted —
a real camera encodes in hardware. Baseline: the same JPEG bytes appended with bare h5py (resize + write, one
frame at a time, no threads), each pair of frames written when due at 60 fps — the same real-time arrival.
Cost = CPU seconds of this process per frame; ratio = ours / bare, median over interleaved rounds.
`capture_cpu_pct` is ours as a share of one core during real-time capture. For transparency the bare
appends are also timed in a tight loop (hot caches, no waiting), `capture_cost_ratio_vs_tight_loop`.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dexumi import sync
from dexumi.devices.cameras import CameraSettings, CameraSource, FrameGrabber
from dexumi.finger_bars import HandRenderer
from dexumi.episode.frames import CameraFrameStore
from dexumi.types import CameraFrame

log = logging.getLogger("benchmarks.capture")
W, H, FPS = 1280, 800, 60.0


def make_jpegs(n: int, seed: int = 0) -> list[bytes]:
    """Distinct 1280×800 JPEGs about the size a wrist camera sends (~100–150 kB at quality 90)."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 255, (H // 16, W // 16, 3), dtype=np.uint8)
    texture = cv2.resize(coarse, (W, H), interpolation=cv2.INTER_CUBIC)
    noise = rng.integers(0, 3, (H, W, 3), dtype=np.uint8)
    renderer = HandRenderer(W, H)
    out = []
    for k in range(n):
        img = cv2.addWeighted(renderer.render(rng.uniform(0, 1.4, 5), k), 0.6, np.roll(texture, 7 * k, axis=1), 0.4, 0)
        img = cv2.add(img, np.roll(noise, k, axis=0))
        out.append(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    return out


class ReplaySource(CameraSource):
    """Pre-encoded JPEGs delivered at `fps` in real time, like a UVC camera in MJPG mode."""

    def __init__(self, name: str, jpegs: list[bytes], frames: int, fps: float = FPS) -> None:
        super().__init__(name, "replay")
        self.jpegs, self.frames, self.fps = jpegs, frames, fps
        self.k = 0
        self.start = 0.0

    def open(self) -> ReplaySource:
        self.granted = CameraSettings(W, H, self.fps, "MJPG")
        self.start, self.k, self.opened = time.monotonic(), 0, True
        return self

    def read(self) -> CameraFrame | None:
        if self.k >= self.frames:
            return None
        due = self.start + self.k / self.fps
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        k, self.k = self.k, self.k + 1
        return CameraFrame(self.name, k, time.monotonic(), self.jpegs[k % len(self.jpegs)], "jpeg", W, H, due)

    def close(self) -> None:
        self.opened = False


def run_ours(path: Path, jpegs: list[bytes], seconds: float) -> tuple[float, float, int]:
    """(cpu s, wall s, frames) of two paced cameras → grabbers → CameraFrameStores in one SWMR file."""
    frames_per_cam = int(seconds * FPS)
    with h5py.File(path, "w", libver="latest") as f:
        group = f.create_group("cameras")
        stores = [CameraFrameStore(group, f"cam{i}", W, H) for i in range(2)]
        f.swmr_mode = True
        grabbers = [FrameGrabber(ReplaySource(f"cam{i}", jpegs, frames_per_cam)) for i in range(2)]
        cpu0, wall0 = time.process_time(), time.monotonic()
        for g in grabbers:
            g.start()
        last_flush = wall0
        while not all(g.finished.is_set() for g in grabbers):
            time.sleep(0.05)  # a writer wakes a few times a second, not per frame
            for g, store in zip(grabbers, stores):
                frames = g.read()
                if frames:
                    store.append(frames, sync.camera_times(np.array([x.grab_time for x in frames]), 0.0, g.name)[0])
            if time.monotonic() - last_flush > 1.0:
                for store in stores:
                    store.flush()
                last_flush = time.monotonic()
        for g, store in zip(grabbers, stores):
            rest = g.read()
            if rest:
                store.append(rest, np.array([x.grab_time for x in rest]))
            store.flush()
            g.close()
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        n = sum(s.count for s in stores)
        lost = sum(g.stats().missing_samples + g.stats().overflows for g in grabbers)
    if n != 2 * frames_per_cam or lost:
        raise RuntimeError(f"ours: {n} frames stored of {2 * frames_per_cam}, {lost} lost")
    return cpu, wall, n


def run_bare(path: Path, jpegs: list[bytes], frames: int, paced: bool = True) -> float:
    """CPU s of appending the same JPEG bytes frame by frame with bare h5py (one vlen dataset per camera).

    `paced`: each pair of frames is written when it is due at 60 fps, as a minimal real-time writer
    would (the same arrival pattern as ours); otherwise in a tight loop (hot caches, no waiting).
    """
    with h5py.File(path, "w", libver="latest") as f:
        ds = [
            f.create_dataset(f"cam{i}", (0,), maxshape=(None,), dtype=h5py.vlen_dtype(np.uint8), chunks=(64,))
            for i in range(2)
        ]
        cpu0, start = time.process_time(), time.monotonic()
        for k in range(frames // 2):
            if paced:
                delay = start + k / FPS - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            for d in ds:
                d.resize((k + 1,))
                d[k] = np.frombuffer(jpegs[k % len(jpegs)], np.uint8)
        f.flush()
        return time.process_time() - cpu0


def align_throughput(seconds: float, channels: int = 16, rate: float = 2000.0) -> tuple[float, float]:
    """(encoder samples/s, camera frames/s) aligned: 16 ch × 2 kHz onto 60 fps frames, best of 3."""
    t = np.arange(int(seconds * rate)) / rate
    values = np.sin(t[:, None] * np.linspace(1, 3, channels))
    frames = np.arange(0.01, seconds, 1 / FPS)
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        sync.align(t, values, frames)
        best = min(best, time.perf_counter() - t0)
    return len(t) / best, len(frames) / best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="3 rounds of 3 s (< 1 min)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rounds, seconds = (3, 3.0) if args.quick else (5, 15.0)
    jpegs = make_jpegs(30)
    ratios, ratios_unpaced, cpu_pct, ours_us, bare_us, tight_us = [], [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="dexumi-capture-") as tmp:
        for r in range(rounds):
            cpu, wall, n = run_ours(Path(tmp) / f"ours{r}.h5", jpegs, seconds)
            bare = run_bare(Path(tmp) / f"bare{r}.h5", jpegs, n, paced=True)
            tight = run_bare(Path(tmp) / f"tight{r}.h5", jpegs, n, paced=False)
            ratios.append(cpu / bare)
            ratios_unpaced.append(cpu / tight)
            cpu_pct.append(100 * cpu / wall)
            ours_us.append(cpu / n * 1e6)
            bare_us.append(bare / n * 1e6)
            tight_us.append(tight / n * 1e6)
            log.info(
                "round %d: ours %.0f, bare paced %.0f, bare tight loop %.0f µs/frame",
                r,
                ours_us[-1],
                bare_us[-1],
                tight_us[-1],
            )
            for p in Path(tmp).iterdir():
                p.unlink()
    med = statistics.median
    align_sps, align_fps = align_throughput(60.0 if args.quick else 600.0)
    result = {
        "capture_cost_ratio": round(med(ratios), 3),
        "capture_cpu_pct": round(med(cpu_pct), 2),
        "align_samples_per_s": round(align_sps, 0),
        "align_frames_per_s": round(align_fps, 0),
        "ours_cpu_us_per_frame": round(med(ours_us), 1),
        "bare_cpu_us_per_frame": round(med(bare_us), 1),
        "bare_tight_loop_cpu_us_per_frame": round(med(tight_us), 1),
        "capture_cost_ratio_vs_tight_loop": round(med(ratios_unpaced), 3),
        "ratios": [round(x, 3) for x in ratios],
        "jpeg_kb_mean": round(float(np.mean([len(j) for j in jpegs])) / 1024, 1),
        "cameras": 2,
        "width": W,
        "height": H,
        "fps": FPS,
        "rounds": rounds,
        "seconds_per_round": seconds,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

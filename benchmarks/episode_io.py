"""Episode I/O benchmark: writer vs bare h5py appends, finalise time, peak RSS, random-access reads vs an
ALOHA-style raw (T, H, W, 3) layout, and file sizes.

    python benchmarks/episode_io.py [--quick]      # last stdout line: one JSON object

Write path: the same data (2 cameras of 1280×800 JPEG at 60 fps + a 12-channel encoder at 1 kHz) appended in
50 ms ticks, by `EpisodeWriter` (SWMR, flush every 0.25 s) and by bare h5py (same datasets, no SWMR, no
flush), in interleaved rounds; the median MB/s of each. Finalise: `EpisodeWriter.finalize()` of a 60 s
episode (aligned view, retargeting, reports, fsync, rename). Reads: random aligned frames of one camera,
delivering 240×240 training images (reduced JPEG decode + resize) vs raw frames + resize; full-size too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import h5py
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dexumi.episode import schema as S
from dexumi.episode.layout import CameraLayout, EncoderLayout, EpisodeMeta
from dexumi.episode.reader import Episode, decode_jpeg
from dexumi.episode.writer import EpisodeWriter
from dexumi.types import CameraFrame, EncoderBatch

W, H, FPS, RATE, CH = 1280, 800, 60.0, 1000.0, 12
TICK = 0.05
TRAIN = (240, 240)


def make_frames(n: int, seed: int = 0) -> list[bytes]:
    """Camera-like 1280×800 JPEGs (quality 90): smooth shading, edges, texture and sensor noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    out = []
    for i in range(n):
        base = 90 + 60 * np.sin(xx / (97 + i) + i) * np.cos(yy / 131) + 30 * np.sin((xx + yy) / 23 + i / 3)
        img = np.stack([base, base * 0.9 + 10, base * 0.8 + 25], -1)
        for _ in range(12):
            x, y = int(rng.integers(0, W)), int(rng.integers(0, H))
            cv2.circle(img, (x, y), int(rng.integers(20, 140)), [float(v) for v in rng.integers(0, 255, 3)], -1)
        img += rng.normal(0, 3.0, img.shape).astype(np.float32)
        ok, buf = cv2.imencode(".jpg", np.clip(img, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 90])
        out.append(buf.tobytes())
    return out


def ticks(seconds: float, jpegs: list[bytes], cams: int):
    """(encoder batch, {cam: [frames]}) per 50 ms tick, on a synthetic clock."""
    t0 = 1000.0
    n_enc = int(RATE * TICK)
    per_tick = FPS * TICK
    fi = 0
    acc = 0.0
    rng = np.random.default_rng(1)
    raw = rng.integers(-(2**23), 2**23, (n_enc, CH)).astype(np.int32)
    for k in range(int(seconds / TICK)):
        base = k * n_enc
        idx = np.arange(base, base + n_enc, dtype=np.int64)
        t = t0 + idx / RATE
        batch = EncoderBatch(idx, (idx * 1000).astype(np.int64), t + 0.002, t, raw, raw[:, :CH] * 1e-7, 0)
        acc += per_tick
        frames = {}
        m = int(acc)
        acc -= m
        for c in range(cams):
            frames[f"cam{c}"] = [
                CameraFrame(
                    f"cam{c}", fi + j, t0 + (fi + j) / FPS + 0.04, jpegs[(fi + j + c) % len(jpegs)], "jpeg", W, H
                )
                for j in range(m)
            ]
        fi += m
        yield batch, frames


def _layouts(cams: int):
    names = tuple(f"exo_{i}" for i in range(CH))
    return (
        EncoderLayout(CH, names, RATE, 0.0, "bench"),
        [CameraLayout(f"cam{c}", W, H, "jpeg", FPS, 0.04) for c in range(cams)],
        names,
    )


def write_ours(path: Path, seconds: float, jpegs: list[bytes], cams: int = 2, retargeter=None):
    enc, cl, names = _layouts(cams)
    meta = EpisodeMeta(number=1, nominal_fps=FPS, main_camera="cam0")
    t = time.perf_counter()
    w = EpisodeWriter(path, meta, enc, cl, 0.25, tuple(retargeter.robot_joint_names) if retargeter else None)
    nbytes = 0
    last_flush = time.perf_counter()
    for batch, frames in ticks(seconds, jpegs, cams):
        w.append_encoder([batch])
        nbytes += batch.raw.nbytes + batch.angles.nbytes + 8 * 4 * len(batch)
        for cam, fr in frames.items():
            w.append_frames(cam, fr)
            nbytes += sum(len(f.data) for f in fr) + 24 * len(fr)
        now = time.perf_counter()
        if now - last_flush >= 0.25:  # the session flushes every 0.25 s of wall time
            w.flush()
            last_flush = now
    w.flush()
    write_s = time.perf_counter() - t
    return w, nbytes, write_s


def write_bare(path: Path, seconds: float, jpegs: list[bytes], cams: int = 2):
    """Bare h5py: the same columns and chunks, plain appends, no SWMR and no flush."""
    t = time.perf_counter()
    f = h5py.File(path, "w", libver=S.LIBVER)
    cols = {}
    for name, (dt, width, _) in S.ENCODER_FIELDS.items():
        shape = (0,) if width is None else (0, CH)
        cols[name] = f.create_dataset(
            f"enc/{name}", shape, maxshape=(None,) + shape[1:], dtype=dt, chunks=(S.ENCODER_CHUNK,) + shape[1:]
        )
    cj = {}
    for c in range(cams):
        cj[c] = (
            f.create_dataset(
                f"cam{c}/jpeg", (0,), maxshape=(None,), dtype=h5py.vlen_dtype(np.uint8), chunks=(S.CAMERA_CHUNK,)
            ),
            [f.create_dataset(f"cam{c}/{k}", (0,), maxshape=(None,), dtype="f8", chunks=(1024,)) for k in range(3)],
        )
    n = 0
    m = {c: 0 for c in range(cams)}
    nbytes = 0
    for batch, frames in ticks(seconds, jpegs, cams):
        k = len(batch)
        vals = {
            "host_time": batch.host_time,
            "device_time_us": batch.device_time_us,
            "mapped_time": batch.mapped_time,
            "index": batch.index,
            "segment": np.zeros(k, np.int32),
            "raw": batch.raw,
            "angles": batch.angles,
        }
        for name, ds in cols.items():
            ds.resize(n + k, axis=0)
            ds[n : n + k] = vals[name]
        n += k
        nbytes += batch.raw.nbytes + batch.angles.nbytes + 8 * 4 * k
        for c in range(cams):
            fr = frames[f"cam{c}"]
            if not fr:
                continue
            jd, others = cj[c]
            jd.resize(m[c] + len(fr), axis=0)
            for i, x in enumerate(fr):
                jd[m[c] + i] = np.frombuffer(x.data, np.uint8)
            for ds in others:
                ds.resize(m[c] + len(fr), axis=0)
                ds[m[c] :] = np.array([x.grab_time for x in fr])
            m[c] += len(fr)
            nbytes += sum(len(x.data) for x in fr) + 24 * len(fr)
    f.close()
    return nbytes, time.perf_counter() - t


def drop_caches() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def read_rate(fn, order: np.ndarray, seconds_cap: float = 6.0) -> float:
    t = time.perf_counter()
    n = 0
    for i in order:
        fn(int(i))
        n += 1
        if time.perf_counter() - t > seconds_cap:
            break
    return n / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds and frames (< 1 min)")
    args = ap.parse_args()
    q = args.quick
    rounds, write_s, read_frames = (4, 5.0, 120) if q else (6, 20.0, 400)
    tmp = Path(tempfile.mkdtemp(prefix="dexumi-bench-", dir=os.environ.get("BENCH_DIR")))
    try:
        jpegs = make_frames(24 if q else 60)
        ours, bare = [], []
        for r in range(rounds):  # interleaved, alternating who goes first: same disk and cache state on average

            def run_ours(r: int = r) -> None:
                p = tmp / f"ours{r}.h5.partial"
                w, nb, s = write_ours(p, write_s, jpegs)
                w.close_partial()
                ours.append(nb / s / 1e6)
                p.unlink()

            def run_bare(r: int = r) -> None:
                nb, s = write_bare(tmp / f"bare{r}.h5", write_s, jpegs)
                bare.append(nb / s / 1e6)
                (tmp / f"bare{r}.h5").unlink()

            for fn in (run_ours, run_bare) if r % 2 == 0 else (run_bare, run_ours):
                fn()
        from dexumi.retarget import Retargeter

        rt = Retargeter.from_map(Path(__file__).resolve().parents[1] / "dexumi/hands/maps/xhand.yaml")
        p = tmp / "episode_0001.h5.partial"
        w, _, _ = write_ours(p, 60.0, jpegs, cams=2, retargeter=rt)
        t = time.perf_counter()
        final = w.finalize("success", "", "benchmark", rt)
        finalize_s = time.perf_counter() - t
        with Episode.open(final) as ep:
            T60 = len(ep)
        final.unlink()

        # read: the same frames in our layout (JPEG, one camera) and ALOHA-style raw (T, H, W, 3)
        frames = [jpegs[i % len(jpegs)] for i in range(read_frames)]
        rp = tmp / "episode_0002.h5.partial"
        enc, cl, _ = _layouts(1)
        w = EpisodeWriter(rp, EpisodeMeta(number=2, nominal_fps=FPS, main_camera="cam0"), enc, cl)
        secs = read_frames / FPS
        for batch, fr in ticks(secs + 0.2, frames, 1):
            w.append_encoder([batch])
            w.append_frames("cam0", fr["cam0"])
        ours_path = w.finalize("unknown", "", "benchmark", None)
        raw_path = tmp / "aloha.h5"
        with Episode.open(ours_path) as ep:
            T = len(ep)
            with h5py.File(raw_path, "w") as f:
                ds = f.create_dataset("observations/images/cam0", (T, H, W, 3), dtype=np.uint8, chunks=(1, H, W, 3))
                for i in range(T):
                    ds[i] = ep.image("cam0", i)
        ours_bytes = sum(len(frames[i % read_frames]) for i in range(T))
        size_ratio = ours_path.stat().st_size / raw_path.stat().st_size
        order = np.random.default_rng(5).permutation(T)

        def bench_reads(label: str) -> dict:
            res = {}
            with Episode.open(ours_path) as ep, h5py.File(raw_path, "r") as f:
                raw = f["observations/images/cam0"]
                idx = ep.image_indices("cam0")
                fr = ep._frames["cam0"]
                res["ours_train_fps"] = read_rate(
                    lambda i: cv2.resize(decode_jpeg(fr[idx[i]], 2), TRAIN, interpolation=cv2.INTER_AREA), order
                )
                res["raw_train_fps"] = read_rate(
                    lambda i: cv2.resize(raw[i], TRAIN, interpolation=cv2.INTER_AREA), order
                )
                res["ours_train4_fps"] = read_rate(
                    lambda i: cv2.resize(decode_jpeg(fr[idx[i]], 4), TRAIN, interpolation=cv2.INTER_AREA), order
                )
                res["ours_full_fps"] = read_rate(lambda i: decode_jpeg(fr[idx[i]], 1), order)
                res["raw_full_fps"] = read_rate(lambda i: raw[i], order)
            return {f"{label}_{k}": round(v, 1) for k, v in res.items()}

        bench_reads("warmup")
        warm = bench_reads("warm")
        cold = {}
        if drop_caches():
            with Episode.open(ours_path) as ep:
                fr, idx = ep._frames["cam0"], ep.image_indices("cam0")
                cold["cold_ours_train_fps"] = round(
                    read_rate(lambda i: cv2.resize(decode_jpeg(fr[idx[i]], 2), TRAIN), order), 1
                )
            drop_caches()
            with h5py.File(raw_path, "r") as f:
                raw = f["observations/images/cam0"]
                cold["cold_raw_train_fps"] = round(read_rate(lambda i: cv2.resize(raw[i], TRAIN), order), 1)
            cold["cold_read_ratio"] = round(cold["cold_ours_train_fps"] / cold["cold_raw_train_fps"], 3)
        result = {
            "write_ratio": round(statistics.median(ours) / statistics.median(bare), 3),
            "write_mb_s": round(statistics.median(ours), 1),
            "bare_write_mb_s": round(statistics.median(bare), 1),
            "write_rounds": rounds,
            "write_seconds_of_data": write_s,
            "finalize_s": round(finalize_s, 3),
            "finalize_aligned_frames": T60,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "read_ratio": round(warm["warm_ours_train_fps"] / warm["warm_raw_train_fps"], 3),
            "read_ratio_reduce4": round(warm["warm_ours_train4_fps"] / warm["warm_raw_train_fps"], 3),
            "read_ratio_full": round(warm["warm_ours_full_fps"] / warm["warm_raw_full_fps"], 3),
            **warm,
            **cold,
            "size_ratio": round(size_ratio, 4),
            "jpeg_kb_per_frame": round(ours_bytes / T / 1024, 1),
            "read_frames": T,
            "frame_size": f"{W}x{H}",
            "train_size": f"{TRAIN[0]}x{TRAIN[1]}",
            "quick": q,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

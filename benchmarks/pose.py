#!/usr/bin/env python3
"""Wrist-pose recording cost at 200 Hz and time-mapping accuracy (issue 16).

`python benchmarks/pose.py [--quick]`; the last stdout line is one JSON object.

- `pose_cpu_pct`: CPU of this process (share of one core) while *recording* a `pose:udp` stream at 200 Hz into
  an episode file the way `dexumi record --pose` does: the session's pose reader thread (receive, parse,
  online clock fit), the poll every 50 ms appending `/raw/pose/<name>` with SWMR flushes every 0.25 s; the
  episode's finalise (final fit, aligned view at 30 fps) once, after it: `pose_finalize_cpu_ms`. `pose_source_cpu_pct`: the source alone (receive, parse,
  fit, keep the samples, final fit and alignment). The sender (`dexumi.devices.pose.sender`, a stand-in phone with a 12345 s offset and 50 ppm drift)
  is its own process and not counted. Baseline, side by side: a bare `recvfrom` + `json.loads` loop on the
  same stream (`pose_cost_ratio_vs_bare`).
- `pose_sim_cpu_pct`: the same for `pose:sim` at 200 Hz, counting the simulated tracker's own thread too.
- `udp_time_rms_ms` / `sim_time_rms_ms`: mapped times vs the truth (send / capture times).
- `board_ape_mm` / `board_ape_deg`: `pose:board` (ChArUco + AprilTags, `dexumi.tracking`) on the world's
  wrist0 frames at 640×480 (JPEG q80) over the pick script, APE RMS over the TRACKING frames against the
  true camera pose in the board frame (no alignment); `board_tracked_frac` / `board_limited_frac` say how
  often. `board_track_ms`: CPU ms per frame (JPEG decode + detection + PnP, median); beside it
  `board_detect_bare_ms`, OpenCV's bare `CharucoDetector.detectBoard` on the same frames.
- `sfm_ape_mm`: `dexumi pose --from sfm` (pycolmap) on a world-rendered episode of the pick script while the
  hand reaches down to the cube (board untracked on most frames): APE RMS after sim3 alignment over the frames
  without a board pose (key frames and interpolated); beside it `sfm_ape_metric_mm` (no alignment: scale and
  frame from the board frames), `sfm_ape_deg`, `sfm_registered`/`sfm_key_frames`, `sfm_seconds` (wall),
  `sfm_board_free_frames`. `--quick`: 5 s at 5 fps; full: 7 s at 10 fps (key frames at 5 fps).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dexumi.devices.pose import samples_to_arrays
from dexumi.devices.pose.sim import SimPose, SimPoseConfig
from dexumi.devices.pose.udp import UdpPose
from dexumi.pose import align_poses, pose_times

log = logging.getLogger("benchmarks.pose")
RATE = 200.0
ROOT = Path(__file__).resolve().parents[1]


def start_sender(port: int, seconds: float, truth: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dexumi.devices.pose.sender",
            "--port",
            str(port),
            "--rate",
            str(RATE),
            "--seconds",
            str(seconds),
            "--offset",
            "12345",
            "--drift",
            "50",
            "--truth",
            str(truth),
        ],
        env=env,
    )


def record_udp(seconds: float, tmp: Path) -> dict:
    src = UdpPose(0, "bench", "127.0.0.1").open()
    truth_path = tmp / "udp_truth.npy"
    proc = start_sender(src.port, seconds, truth_path)
    samples = [src.read(10.0)]  # the sender's start-up (Python, imports) is not counted
    c0, w0 = time.process_time(), time.monotonic()
    while (s := src.read(0.5)) is not None:
        samples.append(s)
    a = samples_to_arrays([s for s in samples if s is not None])
    t, _ = pose_times(a["device_time"], a["host_time"], src.clock.final())
    frames = np.arange(t[0], t[-1], 1 / 30)
    align_poses(t, a["position"], a["orientation"], a["state"], frames, index=a["index"])
    cpu, wall = time.process_time() - c0, time.monotonic() - w0 - 0.5  # minus the final read's timeout
    src.close()
    proc.wait(timeout=30)
    sent = np.load(truth_path)
    err = t - sent[a["index"], 1]
    return {
        "cpu_pct": 100 * cpu / wall,
        "rms_ms": float(np.sqrt(np.mean(err**2)) * 1e3),
        "samples": len(t),
        "expected": int(len(sent)),
    }


def record_bare(seconds: float, tmp: Path) -> dict:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    proc = start_sender(sock.getsockname()[1], seconds, tmp / "bare_truth.npy")
    sock.settimeout(10.0)
    out = [json.loads(sock.recvfrom(65536)[0])]
    sock.settimeout(0.5)
    c0, w0 = time.process_time(), time.monotonic()
    try:
        while True:
            data = sock.recvfrom(65536)[0]
            out.append((time.monotonic(), json.loads(data)))
    except TimeoutError:
        pass
    cpu, wall = time.process_time() - c0, time.monotonic() - w0 - 0.5
    sock.close()
    proc.wait(timeout=30)
    return {"cpu_pct": 100 * cpu / wall, "samples": len(out)}


def record_sim(seconds: float) -> dict:
    cfg = SimPoseConfig(rate=RATE, samples=int(seconds * RATE), latency_s=0.02, jitter_s=0.001, drift_ppm=50)
    c0, w0 = time.process_time(), time.monotonic()
    src = SimPose(cfg).open()
    samples = []
    while (s := src.read(2.0)) is not None:
        samples.append(s)
    a = samples_to_arrays(samples)
    t, _ = pose_times(a["device_time"], a["host_time"], src.clock.final(), latency_s=cfg.latency_s)
    align_poses(t, a["position"], a["orientation"], a["state"], np.arange(t[0], t[-1], 1 / 30), index=a["index"])
    cpu, wall = time.process_time() - c0, time.monotonic() - w0
    src.close()
    err = t - src.truth()["capture_time"][a["index"]]
    return {"cpu_pct": 100 * cpu / wall, "rms_ms": float(np.sqrt(np.mean(err**2)) * 1e3), "samples": len(t)}


def _free_port() -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def record_episode(seconds: float, tmp: Path) -> dict:
    """The recording path: PoseBridge (its reader thread) → EpisodeWriter → finalise."""
    from dexumi.episode.layout import EncoderLayout, EpisodeMeta
    from dexumi.episode.reader import Episode
    from dexumi.episode.writer import EpisodeWriter
    from dexumi.session.pose_bridge import PoseBridge

    port = _free_port()
    truth_path = tmp / "rec_truth.npy"
    proc = start_sender(port, seconds, truth_path)
    bridge = PoseBridge([f"pose:udp:{port}:host=127.0.0.1,name=phone"], timeout_s=20.0)  # waits for the sender
    path = tmp / f"episode_{int(time.monotonic() * 1000) % 10000:04d}.h5.partial"
    w = EpisodeWriter(path, EpisodeMeta(1, nominal_fps=30.0), EncoderLayout(1, ("j",)), [], pose=bridge.layouts())
    c0, w0 = time.process_time(), time.monotonic()
    last = time.monotonic()
    while proc.poll() is None or time.monotonic() - last < 0.3:
        time.sleep(0.05)
        for name, batches in bridge.poll().items():
            if batches:
                last = time.monotonic()
                w.append_pose(name, batches)
        w.maybe_flush()
    cpu, wall = time.process_time() - c0, time.monotonic() - w0
    c1 = time.process_time()
    final = w.finalize()
    finalize_ms = (time.process_time() - c1) * 1e3
    bridge.close()
    with Episode.open(final) as ep:
        n = len(ep.raw_pose("phone")["time"])
    final.unlink()
    return {
        "cpu_pct": 100 * cpu / wall,
        "samples": n,
        "expected": int(len(np.load(truth_path))),
        "finalize_ms": finalize_ms,
    }


def board_figures(fps: float) -> dict:
    import cv2

    from dexumi.devices.pose.board import BoardTracker, world_lens
    from dexumi.sim.world import World, world_config
    from dexumi.tracking.metrics import ape
    from dexumi.tracking.target import Target

    world = World(world_config(640, 480, cameras=1, script="pick"))
    r = world.renderer("wrist0")
    T_bw = np.linalg.inv(world.config.scene.board.T_world_board())
    jpegs, truth = [], []
    for k, t in enumerate(np.arange(0.0, world.trajectory.period, 1.0 / fps)):
        world.set_time(float(t))
        jpegs.append(np.frombuffer(r.jpeg(k), np.uint8))
        truth.append(T_bw @ world.camera_pose("wrist0"))
    r.close()
    tracker = BoardTracker(world_lens("wrist0"), Target.from_scene())
    bare = cv2.aruco.CharucoDetector(Target.from_scene().charuco.board())
    est, ref, cpu, cpu_bare, limited = [], [], [], [], 0
    for j, T in zip(jpegs, truth):
        c0 = time.process_time()
        res = tracker.track(cv2.imdecode(j, cv2.IMREAD_GRAYSCALE))
        cpu.append(time.process_time() - c0)
        gray = cv2.imdecode(j, cv2.IMREAD_GRAYSCALE)
        c0 = time.process_time()
        bare.detectBoard(gray)
        cpu_bare.append(time.process_time() - c0)
        if res.T_target_cam is not None and res.state == 0:
            est.append(res.T_target_cam)
            ref.append(T)
        elif res.T_target_cam is not None:
            limited += 1
    e = ape(np.array(est), np.array(ref))
    return {
        "board_ape_mm": round(e.trans_rms_mm, 3),
        "board_ape_deg": round(e.rot_rms_deg, 3),
        "board_ape_max_mm": round(e.trans_max_mm, 3),
        "board_tracked_frac": round(e.n / len(jpegs), 3),
        "board_limited_frac": round(limited / len(jpegs), 3),
        "board_frames": len(jpegs),
        "board_track_ms": round(1e3 * float(np.median(cpu)), 2),
        "board_track_mean_ms": round(1e3 * float(np.mean(cpu)), 2),
        "board_detect_bare_ms": round(1e3 * float(np.median(cpu_bare)), 2),
        "board_cost_ratio_vs_bare": round(float(np.median(cpu)) / max(float(np.median(cpu_bare)), 1e-9), 2),
        "board_tag_backend": tracker.detector.tag_backend,
    }


def sfm_figures(quick: bool, tmp: Path) -> dict:
    from dexumi.devices.pose.base import LOST, TRACKING
    from dexumi.pose import pose_matrices
    from dexumi.sim.episodes import render_episode
    from dexumi.tracking.metrics import ape
    from dexumi.tracking.offline import OfflineOptions, offline_pose, read_offline

    times = np.arange(5.5, 10.5, 0.2) if quick else np.arange(5.5, 12.5, 0.1)
    ep = render_episode(tmp / "episode_0001.h5", times)
    w0 = time.monotonic()
    r = offline_pose(ep.path, OfflineOptions("sfm"))
    wall = time.monotonic() - w0
    offline_pose(ep.path, OfflineOptions("board"))
    d, b = read_offline(ep.path, "sfm"), read_offline(ep.path, "board")
    free = (d["state"] != LOST) & (b["state"] != TRACKING)
    est = pose_matrices(d["position"][free], d["orientation"][free])
    al, metric = ape(est, ep.T_board_cam[free], "sim3"), ape(est, ep.T_board_cam[free])
    return {
        "sfm_ape_mm": round(al.trans_rms_mm, 3),
        "sfm_ape_deg": round(al.rot_rms_deg, 3),
        "sfm_ape_metric_mm": round(metric.trans_rms_mm, 3),
        "sfm_scale_error": round(al.scale - 1, 4),
        "sfm_board_free_frames": int(free.sum()),
        "sfm_frames": r.frames,
        "sfm_registered": r.registered,
        "sfm_key_frames": r.extra["key_frames"],
        "sfm_seconds": round(wall, 1),
        "sfm_board_fit_rms_mm": r.board_fit_rms_mm,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="under a minute")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    seconds = 6.0 if args.quick else 20.0
    rounds = 1 if args.quick else 3
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        udp, bare, sim, rec = [], [], [], []
        for _ in range(rounds):  # interleaved: recording, source, bare, sim
            rec.append(record_episode(seconds, tmp))
            udp.append(record_udp(seconds, tmp))
            bare.append(record_bare(seconds, tmp))
            sim.append(record_sim(seconds))
    med = lambda rows, k: float(np.median([r[k] for r in rows]))
    board = board_figures(3.0 if args.quick else 10.0)
    with tempfile.TemporaryDirectory() as d:
        sfm = sfm_figures(args.quick, Path(d))
    out = {
        "pose_cpu_pct": round(med(rec, "cpu_pct"), 2),
        "pose_finalize_cpu_ms": round(med(rec, "finalize_ms"), 1),
        "pose_recorded_samples": int(med(rec, "samples")),
        "pose_recorded_expected": int(med(rec, "expected")),
        "pose_source_cpu_pct": round(med(udp, "cpu_pct"), 2),
        "pose_bare_cpu_pct": round(med(bare, "cpu_pct"), 2),
        "pose_cost_ratio_vs_bare": round(med(udp, "cpu_pct") / max(med(bare, "cpu_pct"), 1e-6), 2),
        "pose_sim_cpu_pct": round(med(sim, "cpu_pct"), 2),
        "udp_time_rms_ms": round(med(udp, "rms_ms"), 4),
        "sim_time_rms_ms": round(med(sim, "rms_ms"), 4),
        "udp_samples": int(med(udp, "samples")),
        "udp_expected": int(med(udp, "expected")),
        "rate_hz": RATE,
        "seconds": seconds,
        "rounds": rounds,
        **board,
        **sfm,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()

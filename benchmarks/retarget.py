#!/usr/bin/env python3
"""Retargeting benchmark: joint-mode throughput and fingertip-mode latency/accuracy on the linkage hand,
side by side with dex-retargeting's position optimiser on the same targets when it is installed.

Targets: the real human keypoint trajectory (../shared/data/human_hand_keypoints.npy, when present) is
turned into exoskeleton joint angles (bone angles), driven through the inspire_exo model, and its
fingertips are the targets for the inspire_like robot hand. Without that file (or with --source synthetic)
the exoskeleton joints follow the emulator's grasp-cycle motion model instead (1500 frames at 30 Hz, each
joint scaled into its range); the JSON's `targets_source` says which was used. dex-retargeting runs in its own venv (DEXRET_PYTHON, default
/tmp/dexret-venv/bin/python) via subprocess on the very same targets and URDF; its joint output is scored
with our FK. Prints one JSON object as its last line.

    python benchmarks/retarget.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dexumi.hands import registry  # noqa: E402 - after the sys.path set-up
from dexumi.kinematics import HandKinematics  # noqa: E402 - after the sys.path set-up
from dexumi.retarget import Retargeter  # noqa: E402 - after the sys.path set-up
from dexumi.retarget.solver import FingertipSolver, SolverSettings  # noqa: E402 - after the sys.path set-up
from firmware_bridge.emulator.motion import GraspCycleMotion  # noqa: E402 - after the sys.path set-up

log = logging.getLogger("bench.retarget")
KEYPOINTS = ROOT.parent / "shared" / "data" / "human_hand_keypoints.npy"
MAP = ROOT / "dexumi" / "hands" / "maps" / "inspire.yaml"
DEXRET_PYTHON = Path(os.environ.get("DEXRET_PYTHON", "/tmp/dexret-venv/bin/python"))
REFERENCE = {"dexret_ref_median_ms": 3.3, "dexret_ref_p95_ms": 9.9}

DEXRET_SCRIPT = r"""
import json, sys, time
import numpy as np
import torch
torch.set_num_threads(1)  # a 6-joint problem gains nothing from threads; ours runs on one thread too
from dex_retargeting.retargeting_config import RetargetingConfig
urdf, targets_path, out_path = sys.argv[1], sys.argv[2], sys.argv[3]
links, joints = sys.argv[4].split(","), sys.argv[5].split(",")
targets = np.load(targets_path)
cfg = RetargetingConfig(type="position", urdf_path=urdf, target_link_names=links,
                        target_link_human_indices=np.arange(len(links)), target_joint_names=joints,
                        low_pass_alpha=-1)
r = cfg.build()
times, qs = [], []
for t in targets:
    a = time.perf_counter()
    q = r.retarget(t)
    times.append(time.perf_counter() - a)
    qs.append(q)
np.savez(out_path, q=np.array(qs), times=np.array(times), names=np.array(r.joint_names))
"""


def _angle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    cos = np.sum(u * v, axis=-1) / (np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1))
    return np.arccos(np.clip(cos, -1.0, 1.0))


def keypoints_to_inspire_exo(kp: np.ndarray, exo: HandKinematics) -> np.ndarray:
    """MediaPipe keypoints (N,21,3) -> inspire_exo q (N, nq): finger proximal = MCP flexion (bone angle);
    thumb yaw = direction of the thumb in the palm plane; thumb pitch = a third of its total bend."""
    q = np.zeros((kp.shape[0], exo.nq))
    for name, (a, b, c) in {
        "index": (0, 5, 6),
        "middle": (0, 9, 10),
        "ring": (0, 13, 14),
        "pinky": (0, 17, 18),
    }.items():
        q[:, exo.index(f"exo_{name}")] = _angle(kp[:, b] - kp[:, a], kp[:, c] - kp[:, b])
    v = kp[:, 4] - kp[:, 1]
    q[:, exo.index("exo_thumb_yaw")] = np.arctan2(v[:, 0], v[:, 1])
    bend = _angle(kp[:, 2] - kp[:, 1], kp[:, 3] - kp[:, 2]) + _angle(kp[:, 3] - kp[:, 2], kp[:, 4] - kp[:, 3])
    q[:, exo.index("exo_thumb_pitch")] = bend / 3.0
    return exo.clip(q)


def synthetic_inspire_exo(exo: HandKinematics, frames: int = 1500, fps: float = 30.0, seed: int = 0) -> np.ndarray:
    """Exoskeleton q (frames, nq) from the emulator's grasp-cycle motion, each joint scaled into 5-95 % of
    its range: a trajectory that needs no data from outside the repository."""
    motion = GraspCycleMotion(exo.nq, seed)
    a = motion.angles(np.arange(frames) / fps)
    unit = np.clip((a - motion.low_rad) / (motion.high_rad - motion.low_rad), 0.0, 1.0)
    lo, hi = exo.lower, exo.upper
    return exo.clip(lo + (0.05 + 0.9 * unit) * (hi - lo))


def bench_joint(r: Retargeter, channels: np.ndarray, frames: int) -> float:
    """Batched joint-mode throughput (frames/s, best of 5)."""
    x = np.resize(channels, (frames, channels.shape[1]))
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        r.retarget(x)
        best = min(best, time.perf_counter() - t)
    return frames / best


def bench_fingertip(r: Retargeter, targets: np.ndarray, passes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame latency (s) over ``passes`` passes, and the joints of the last pass."""
    solver = r.solver
    times, q = [], np.empty((targets.shape[0], r.robot.nq))
    for _ in range(passes):
        solver.reset()
        for i, t in enumerate(targets):
            a = time.perf_counter()
            q[i] = solver.solve(t)[0]
            times.append(time.perf_counter() - a)
    return np.array(times), q


def tip_error_mm(kin: HandKinematics, q: np.ndarray, frames, targets: np.ndarray) -> float:
    return float(1000.0 * np.linalg.norm(kin.batch_positions(q, frames) - targets, axis=-1).mean())


def run_dexret(targets: np.ndarray, links: tuple[str, ...], actuated: tuple[str, ...], full: HandKinematics) -> dict:
    """dex-retargeting's position optimiser on the same targets, in its own venv; {} if unavailable."""
    if not DEXRET_PYTHON.exists():
        log.warning("dex-retargeting venv not found at %s: quoting the reference figures", DEXRET_PYTHON)
        return {}
    with tempfile.TemporaryDirectory() as d:
        tp, op, sp = Path(d) / "targets.npy", Path(d) / "out.npz", Path(d) / "dexret_run.py"
        np.save(tp, targets)
        sp.write_text(DEXRET_SCRIPT)
        urdf = str(registry.get("inspire_like").path)
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        p = subprocess.run(
            [str(DEXRET_PYTHON), str(sp), urdf, str(tp), str(op), ",".join(links), ",".join(actuated)],
            capture_output=True,
            text=True,
            timeout=900,
            env=env,
        )
        if p.returncode != 0 or not op.exists():
            log.warning("dex-retargeting failed (%s): quoting the reference figures", p.stderr.strip()[-300:])
            return {}
        with np.load(op, allow_pickle=False) as z:
            q, times, names = z["q"], z["times"], [str(n) for n in z["names"]]
    qf = q[:, [names.index(n) for n in full.joint_names]]  # dex-retargeting's order -> ours, by name
    return {
        "dexret_median_ms": float(np.median(times) * 1e3),
        "dexret_p95_ms": float(np.percentile(times, 95) * 1e3),
        "dexret_error_mm": tip_error_mm(full, qf, links, targets),
        "dexret_frames": int(len(times)),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer passes (under a minute)")
    ap.add_argument("--no-dexret", action="store_true", help="skip dex-retargeting even if installed")
    ap.add_argument(
        "--source",
        choices=("auto", "keypoints", "synthetic"),
        default="auto",
        help="targets from the real keypoints (auto: when present) or the emulator's motion model",
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    joint = Retargeter.from_map(MAP)
    tip = joint.with_mode("fingertip")
    use_keypoints = args.source == "keypoints" or (args.source == "auto" and KEYPOINTS.exists())
    if use_keypoints:
        if not KEYPOINTS.exists():
            print(f"error: {KEYPOINTS} is absent (use --source synthetic)", file=sys.stderr)
            return 2
        exo_q = keypoints_to_inspire_exo(np.load(KEYPOINTS, allow_pickle=False), joint.exo)
        source = f"keypoints: {KEYPOINTS.name}"
    else:
        log.info(
            "targets from the emulator's grasp-cycle motion (%s)",
            "asked" if args.source == "synthetic" else f"{KEYPOINTS} absent",
        )
        exo_q = synthetic_inspire_exo(joint.exo)
        source = "synthetic: emulator grasp-cycle motion, seed 0, 1500 frames at 30 Hz"
    channels = np.empty_like(exo_q)
    channels[:, [joint.channels.index(n) for n in joint.exo.joint_names]] = exo_q
    targets = tip.fingertip_targets(channels)
    links = tip.tips.robot_frames

    fps = bench_joint(joint, channels, 200_000 if args.quick else 1_000_000)
    full = HandKinematics.from_urdf(registry.get("inspire_like").path, mimic=False)
    rounds = 3 if args.quick else 7
    times_all, dex_rounds, ratios = [], [], []
    for r in range(rounds):  # interleaved: one pass of ours, one of dex-retargeting, so load hits both alike
        times, q = bench_fingertip(tip, targets, 1)
        times_all.append(times)
        if not args.no_dexret:
            dex = run_dexret(targets, links, tip.robot.joint_names, full)
            if not dex:
                args.no_dexret = True
                continue
            dex_rounds.append(dex)
            ratios.append(dex["dexret_median_ms"] / (np.median(times) * 1e3))
            log.info(
                "round %d: ours %.3f ms, dex-retargeting %.3f ms (x%.1f)",
                r,
                np.median(times) * 1e3,
                dex["dexret_median_ms"],
                ratios[-1],
            )
    times = np.concatenate(times_all)
    err = tip_error_mm(tip.robot, q, links, targets)
    err_joint = tip_error_mm(tip.robot, joint.retarget(channels), links, targets)
    # the same problem solved to convergence (no temporal term): how close the per-frame solve gets
    conv = FingertipSolver(
        tip.robot,
        links,
        settings=SolverSettings(
            iterations=100, temporal_weight=0.0, tolerance=1e-10, rel_decrease=0.0, extrapolate=False
        ),
    )
    q_conv, _ = conv.solve_batch(targets)
    out = {
        "targets_source": source,
        "frames": int(targets.shape[0]),
        "joint_frames_per_s": fps,
        "fingertip_median_ms": float(np.median(times) * 1e3),
        "fingertip_p95_ms": float(np.percentile(times, 95) * 1e3),
        "fingertip_mean_ms": float(np.mean(times) * 1e3),
        "fingertip_error_mm": err,
        "fingertip_error_converged_mm": tip_error_mm(tip.robot, q_conv, links, targets),
        "joint_mode_tip_error_mm": err_joint,
    }
    if dex_rounds:
        out.update(
            {
                k: float(np.median([d[k] for d in dex_rounds]))
                for k in ("dexret_median_ms", "dexret_p95_ms", "dexret_error_mm")
            }
        )
        out["dexret_frames"] = dex_rounds[0]["dexret_frames"]
        out["speedup_vs_dexret_median"] = float(np.median(ratios))
        out["speedup_vs_dexret_rounds"] = [round(x, 2) for x in ratios]
    out.update(REFERENCE)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`dexumi retarget`: retarget recorded exoskeleton joint angles onto a robot hand, offline."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "retarget",
        help="retarget recorded exoskeleton joint angles onto a robot hand",
        description="Map exoskeleton joint angles (.npy/.csv N×J radians in the map's channel order or "
        "with named columns, or an HDF5 episode with observations/exo_joints) to robot "
        "joints with a map file; write them and print correspondence metrics.",
    )
    p.add_argument("input", metavar="INPUT", help="exoskeleton joint angles: .npy, .csv or .h5 episode")
    p.add_argument("--map", required=True, metavar="FILE", help="retargeting map (.yaml or .toml)")
    p.add_argument("--out", metavar="FILE", help="write robot joints (.npy, .csv or .h5); never overwrites")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace --out if it is an unchanged previous output of dexumi retarget (never the input)",
    )
    p.add_argument("--mode", choices=("joint", "fingertip"), help="override the map's mode")
    p.add_argument("--rate", type=float, metavar="HZ", help="sample rate when the input has no timestamps")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json
    import time
    from pathlib import Path

    import numpy as np

    from dexumi.errors import DexumiError
    from dexumi.retarget import Retargeter, load_map
    from dexumi.joint_files import read_joints, select_channels, write_joints
    from dexumi.retarget.metrics import evaluate

    if args.out and Path(args.out).suffix.lower() not in (".npy", ".csv", ".h5", ".hdf5"):
        raise DexumiError(f"{args.out}: unsupported output type '{Path(args.out).suffix}' (.npy, .csv, .h5)")
    rmap = load_map(args.map)
    rec = read_joints(args.input)
    retargeter = Retargeter.from_map(rmap, mode=args.mode)
    x = select_channels(rec, retargeter.channels)
    times = rec.timestamps
    if times is None and args.rate:
        if args.rate <= 0:
            raise DexumiError("--rate must be > 0")
        times = np.arange(x.shape[0]) / args.rate
    t0 = time.perf_counter()
    q = retargeter.retarget(x, times)
    elapsed = time.perf_counter() - t0
    _, summary = evaluate(retargeter, x, q, times)
    if args.out:
        from dexumi.safe_output import write_output

        write_output(
            args.out,
            lambda tmp: write_joints(tmp, q, retargeter.robot_joint_names, times),
            "retarget",
            args.force,
            inputs=(args.input, args.map),
        )
    out = {
        "input": str(args.input),
        "map": str(args.map),
        "mode": retargeter.mode,
        "robot": retargeter.robot.name,
        "frames": int(x.shape[0]),
        "seconds": elapsed,
        "ms_per_frame": 1e3 * elapsed / max(x.shape[0], 1),
        "joints": list(retargeter.robot_joint_names),
        "out": args.out,
        "metrics": summary.to_dict(),
    }
    if args.json:
        print(json.dumps(out))
        return 0
    m = summary
    print(
        f"{out['frames']} frames -> {out['robot']} ({out['mode']} mode) in {elapsed:.3f} s "
        f"({out['ms_per_frame']:.3f} ms/frame)"
    )
    if m.tip_error_mean_mm is not None:
        print(
            f"fingertip distance exo vs robot: mean {m.tip_error_mean_mm:.2f} mm, median "
            f"{m.tip_error_median_mm:.2f}, p95 {m.tip_error_p95_mm:.2f}, max {m.tip_error_max_mm:.2f}"
        )
        print("  per tip: " + ", ".join(f"{k} {v:.2f}" for k, v in m.tip_error_mean_per_tip_mm.items()))
    print(f"limit violations: {m.limit_violation_frames} frames (max {m.limit_violation_max_rad:.2e} rad)")
    if m.velocity_max_rad_s is not None:
        print(f"max joint speed {m.velocity_max_rad_s:.2f} rad/s, rms jerk {m.jerk_rms_rad_s3:.1f} rad/s^3")
    if args.out:
        print(f"wrote {args.out}")
    return 0

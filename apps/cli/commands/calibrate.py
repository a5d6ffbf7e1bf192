"""`dexumi calibrate`: the calibration wizard (Qt), or `--headless` for scripted runs; `--sim` for no hardware."""

from __future__ import annotations

import argparse
import logging
import math
import sys
from pathlib import Path

from apps.wizard.options import (  # shared with the wizard (apps.wizard.main)
    check_outputs,
    map_path_for,
    options_from_args,
    parse_board,
)

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate",
        help="calibrate an exoskeleton (encoders, joint map, camera, latency) into a profile",
        description="Step through the calibration of an exoskeleton: range-of-motion capture (flat, fist, each "
        "finger, thumb opposition) for encoder zero/sign/scale, the exoskeleton-to-robot joint map, "
        "camera intrinsics from a ChArUco board, and camera latency; writes a versioned YAML profile. "
        "Opens the Qt wizard unless --headless is given (steps then run on durations and files).",
    )
    p.add_argument("--headless", action="store_true", help="no GUI: run every step on its duration (or files)")
    p.add_argument(
        "--sim",
        action="store_true",
        help="simulated exoskeleton (scripted poses, wrong sensor offsets/signs/gains) and cameras",
    )
    p.add_argument("--out", type=Path, default=None, help="profile to write (YAML); the joint map goes beside it")
    p.add_argument("--force", action="store_true", help="overwrite an existing profile")
    p.add_argument("--port", default=None, help="encoder board port (serial path, ble:NAME, or sim = --sim)")
    p.add_argument("--protocol", choices=("auto", "v1", "legacy"), default="auto")
    p.add_argument("--exoskeleton", default="inspire_exo", help="exoskeleton model (bundled name or URDF)")
    p.add_argument("--hand", default=None, help="robot hand (default: the exoskeleton's pair)")
    p.add_argument("--hold-s", type=float, default=None, help="seconds per held pose")
    p.add_argument("--sweep-s", type=float, default=None, help="seconds per finger sweep")
    p.add_argument("--move-s", type=float, default=None, help="sim: seconds between poses")
    p.add_argument("--wave-s", type=float, default=None, help="seconds of finger motion for the latency step")
    p.add_argument("--map", type=Path, default=None, help="base retargeting map (default: bundled for the model)")
    p.add_argument(
        "--pairs",
        type=Path,
        default=None,
        help="CSV of set points (exoskeleton channels and robot joints by name) for the joint map",
    )
    p.add_argument("--curve", choices=("linear", "piecewise", "poly"), default="linear")
    p.add_argument("--camera", default=None, help="camera spec for intrinsics and latency (0, /dev/video2, file:...)")
    p.add_argument("--camera-name", default="wrist0", help="stream name the latency is stored under")
    p.add_argument("--camera-serial", default=None, help="camera serial the intrinsics are stored under")
    p.add_argument("--camera-model", choices=("pinhole", "fisheye"), default="pinhole")
    p.add_argument("--board-images", default=None, metavar="GLOB", help="photos of the board instead of a live camera")
    p.add_argument(
        "--board",
        default="7x5:25:18.75",
        metavar="CxR:SQUARE_MM:MARKER_MM",
        help="ChArUco board (default 7x5:25:18.75, DICT_5X5_100)",
    )
    p.add_argument(
        "--print-board",
        type=Path,
        default=None,
        metavar="STEM",
        help="write STEM.png and STEM.pdf (true scale) of the board and exit",
    )
    p.add_argument(
        "--zero-check",
        type=Path,
        default=None,
        metavar="PROFILE",
        help="only check a profile's zero (flat hand) for drift, then exit",
    )
    p.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=("jointmap", "camera", "latency"),
        help="leave a step out (repeatable)",
    )
    p.add_argument(
        "--handeye",
        action="store_true",
        help="add the hand-eye step: tracker <-> wrist camera, and the pose stream's latency",
    )
    p.add_argument("--pose", default=None, metavar="SPEC", help="the tracker's pose source for --handeye")
    p.add_argument("--sim-latency-ms", type=float, default=40.0, help="sim camera latency (ms)")
    p.add_argument("--sim-pose-latency-ms", type=float, default=25.0, help="sim tracker latency for --handeye (ms)")
    p.add_argument("--sim-seed", "--seed", dest="sim_seed", type=int, default=0, help="--sim: emulator seed")
    p.add_argument("--sim-truth", type=Path, default=None, help=argparse.SUPPRESS)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dexumi.errors import DexumiError
    from firmware_bridge.transports import is_sim_port

    if is_sim_port(args.port):  # as for `stream` and `record`: the simulated exoskeleton
        args.sim, args.port = True, None
    if args.print_board is not None:
        return _print_board(args)
    if args.zero_check is not None:
        return _zero_check(args)
    if not args.headless:
        from apps.wizard.main import run as run_gui

        return int(run_gui(args) or 0)
    check_outputs(args.out, args.force)
    if not args.sim and not args.port:
        raise DexumiError("give --port PORT (or --sim)")
    return run_headless(options_from_args(args), args.out, args.force)


def run_headless(options, out: Path, force: bool) -> int:
    from calibration.profile import save_profile
    from calibration.wizard_steps import CalibrationRun

    with CalibrationRun(options) as cal:
        n = len(cal.steps)
        for i, step in enumerate(cal.steps, 1):
            print(f"[{i}/{n}] {step.title}: {step.instructions}", flush=True)
            summary = cal.run_step(step)
            print(f"      {summary}", flush=True)
        mapping = None
        if any(s.key == "jointmap" and s.result is not None for s in cal.steps):
            mp = map_path_for(out)
            cal.step("jointmap").result.write(mp)
            mapping = mp.name
        profile = cal.profile(mapping)
    save_profile(profile, out, overwrite=force)
    print(f"profile {profile.id} written to {out}" + (f" (joint map {mapping})" if mapping else ""), flush=True)
    return 0


def _print_board(args: argparse.Namespace) -> int:
    from calibration.board import write_board

    stem = args.print_board
    spec = parse_board(args.board)
    done = write_board(spec, stem.with_suffix(".png"), stem.with_suffix(".pdf"))
    w, h = spec.size_mm
    print(
        f"{done.png} ({done.dpi:.1f} dpi) and {done.pdf} (page {done.page_mm[0]:g}x{done.page_mm[1]:g} mm): "
        f"board {w:g}x{h:g} mm; print at 100 %, then check the 100 mm bar"
    )
    return 0


def _zero_check(args: argparse.Namespace) -> int:
    import time

    from calibration import encoders as enc
    from calibration.profile import load_profile
    from calibration.wizard_steps import CalibrationRun

    profile = load_profile(args.zero_check)
    options = options_from_args(args)
    options.exoskeleton = profile.exoskeleton or options.exoskeleton
    with CalibrationRun(options) as cal:
        if cal.rig is not None:
            t0, t1 = cal.next_window("zero_check")
        else:
            print("lay the hand flat and hold still ...", flush=True)
            t0 = time.monotonic() + options.lead_s
            t1 = t0 + options.hold_s
        while time.monotonic() < t1 + 0.1:
            cal.poll(0.05)
        samples = cal.buffer.window(t0, t1)
        check = enc.zero_check(
            profile.encoder_calibration(),
            samples,
            [c.name for c in profile.channels],
            cal.encoder_input,
            cal.poses.flat,
        )
    print(check.message())
    for name, d in zip(check.names, check.drift_rad):
        print(f"  {name:24s} {math.degrees(d):+7.2f}°")
    return 0 if check.ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(argparse.Namespace()))

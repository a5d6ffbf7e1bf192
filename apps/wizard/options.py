"""The calibration run's options from `dexumi calibrate` arguments (shared by the headless run and the wizard)."""

from __future__ import annotations

import argparse
from pathlib import Path

SIM_DURATIONS = {"hold_s": 1.0, "sweep_s": 1.0, "move_s": 0.4, "wave_s": 8.0}
REAL_DURATIONS = {"hold_s": 3.0, "sweep_s": 4.0, "move_s": 0.8, "wave_s": 12.0}


def parse_board(text: str):
    from calibration.board import BoardSpec
    from dexumi.errors import DexumiError

    try:
        size, square, marker = text.split(":")
        cols, rows = (int(v) for v in size.lower().split("x"))
        return BoardSpec.from_mm(cols, rows, float(square), float(marker))
    except ValueError:
        raise DexumiError(
            f"--board: expected COLSxROWS:SQUARE_MM:MARKER_MM (e.g. 7x5:25:18.75), got {text!r}"
        ) from None


def options_from_args(args: argparse.Namespace):
    from calibration.wizard_steps import RunOptions

    durations = dict(SIM_DURATIONS if args.sim else REAL_DURATIONS)
    for key in durations:
        if getattr(args, key) is not None:
            durations[key] = getattr(args, key)
    return RunOptions(
        exoskeleton=args.exoskeleton,
        hand=args.hand,
        port=args.port,
        sim=args.sim,
        protocol=args.protocol,
        map_path=args.map,
        pairs_path=args.pairs,
        curve=args.curve,
        camera=args.camera,
        camera_name=args.camera_name,
        camera_serial=args.camera_serial,
        camera_model=args.camera_model,
        board=parse_board(args.board),
        board_images=args.board_images,
        sim_latency_s=args.sim_latency_ms / 1000.0,
        sim_seed=args.sim_seed,
        sim_truth=args.sim_truth,
        skip=tuple(args.skip),
        handeye=bool(getattr(args, "handeye", False)),
        pose=getattr(args, "pose", None),
        sim_pose_latency_s=getattr(args, "sim_pose_latency_ms", 25.0) / 1000.0,
        **durations,
    )


def map_path_for(out: Path) -> Path:
    return out.with_name(out.stem + ".map.yaml")


def check_outputs(out: Path | None, force: bool) -> None:
    from dexumi.errors import DexumiError

    if out is None:
        raise DexumiError("give --out PROFILE.yaml (where to write the profile)")
    if not out.parent.is_dir():
        raise DexumiError(f"--out: folder {out.parent} does not exist")
    if out.exists() and not force:
        raise DexumiError(f"{out} exists; choose another name or pass --force")

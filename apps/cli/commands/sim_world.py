"""`dexumi sim-world`: look at the simulated 3D rig (MP4 + PNGs of every camera with segmentation overlays)."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from dexumi.errors import DexumiError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sim-world",
        help="render the simulated 3D rig (MuJoCo) to look at it",
        description="Render the simulated rig: table, objects, ChArUco board, AprilTags, the hand "
        "wearing the exoskeleton, seen by its wrist cameras (docs/simulation.md).",
    )
    p.add_argument(
        "--preview",
        type=Path,
        required=True,
        metavar="OUT",
        help="folder to write preview.mp4, PNGs of every camera (image, segmentation, depth) and truth.npz",
    )
    p.add_argument("--seconds", type=float, default=4.0, help="length of the preview (default 4 s)")
    p.add_argument("--fps", type=float, default=10.0, help="frames per second of the preview (default 10)")
    p.add_argument("--size", default="640x480", help="camera image size WxH (default 640x480)")
    p.add_argument("--cameras", type=int, default=2, choices=(1, 2), help="wrist cameras (default 2)")
    p.add_argument("--script", default="pick", help="wrist script: pick, calibration, shake or still (default pick)")
    p.add_argument("--motion", default="grasp", help="finger motion model, as the emulator's --motion")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--robot",
        metavar="HAND",
        help="film this robot hand instead of the wearer (a bundled or packaged name such as allegro_right, "
        "or a URDF path; driven through its retargeting map)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dexumi.sim.trajectory import SCRIPTS

    m = re.fullmatch(r"(\d+)x(\d+)", args.size)
    if not m or int(m.group(1)) < 32 or int(m.group(2)) < 24:
        raise DexumiError(f"--size {args.size!r} must look like 640x480 (at least 32x24)")
    if args.script not in SCRIPTS:
        raise DexumiError(f"--script {args.script!r} is not one of {', '.join(SCRIPTS)}")
    if not (0 < args.seconds <= 600 and 0 < args.fps <= 120):
        raise DexumiError("--seconds must be in (0, 600] and --fps in (0, 120]")
    if args.preview.exists() and not args.preview.is_dir():
        raise DexumiError(f"--preview {args.preview} exists and is not a folder")
    if args.preview.is_dir() and any(args.preview.iterdir()):
        raise DexumiError(f"--preview {args.preview} is not empty (give a new or empty folder; nothing is overwritten)")
    from dexumi.devices.cameras.world import world_available

    ok, why = world_available()
    if not ok:
        raise DexumiError(f"cannot render the world here: {why}")
    from dexumi.sim.preview import write_preview
    from dexumi.sim.world import world_config

    try:
        cfg = world_config(
            int(m.group(1)), int(m.group(2)), args.cameras, script=args.script, motion=args.motion, seed=args.seed
        )
    except ValueError as exc:
        raise DexumiError(str(exc)) from None
    if args.robot:
        cfg.scene.embodiment = "robot"
        cfg.scene.robot = args.robot
    res = write_preview(args.preview, cfg, args.seconds, args.fps)
    print(f"{res['mp4']}  ({len(res['png'])} PNGs, truth {res['truth'].name})")
    return 0

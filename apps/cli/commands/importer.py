"""`dexumi import --from dexumi DIR --out FOLDER`: recordings of another tool → dexumi episodes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help="turn DexUMI-layout zarr recordings into dexumi episodes",
        description="Read DexUMI's zarr layout (episode_<n>/proprioception, hand_action, "
        "camera_<k>/rgb, optional timestamp/pose) and write one finalised, validated "
        "episode file per episode. The clock is recorded as the source had it.",
    )
    p.add_argument("src", type=Path, metavar="DIR", help="the zarr folder")
    p.add_argument("--from", dest="source_format", required=True, choices=("dexumi",), help="source layout")
    p.add_argument("--out", required=True, type=Path, help="a new folder for the episodes")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate when the source has no times (default 30)")
    p.add_argument("--robot-hand", default="", help="the robot hand the proprioception belongs to (a hand model name)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dexumi.errors import DexumiError
    from dexumi.export.import_dexumi import import_dexumi

    if not 0 < args.fps <= 1000:
        raise DexumiError(f"--fps {args.fps}: must be in (0, 1000]")
    eps = import_dexumi(args.src, args.out, args.fps, args.robot_hand)
    if args.json:
        print(
            json.dumps(
                {
                    "episodes": [
                        {
                            "source": e.source,
                            "path": str(e.path),
                            "frames": e.frames,
                            "clock": e.clock,
                            "validation": e.validation,
                        }
                        for e in eps
                    ]
                }
            )
        )
    else:
        for e in eps:
            print(f"{e.source} -> {e.path}  {e.frames} frames  clock {e.clock}  validate: {e.validation}")
    return 0

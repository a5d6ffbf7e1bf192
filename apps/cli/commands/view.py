"""`dexumi view EPISODE|DIR --rerun [--save FILE.rrd]`: look at episodes in the rerun viewer."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "view",
        help="show episodes in an external viewer (rerun)",
        description="Log an episode (or a folder's finished episodes) to rerun: cameras, "
        "exoskeleton and robot joints, the posed robot hand, wrist pose and touch when "
        "present. Opens a rerun viewer, or writes an .rrd file with --save.",
    )
    p.add_argument("path", type=Path, help="an episode file or a folder")
    p.add_argument("--rerun", action="store_true", help="use rerun (the only viewer so far; the default)")
    p.add_argument("--save", type=Path, default=None, metavar="FILE.rrd", help="write an .rrd instead of a viewer")
    p.add_argument("--json", action="store_true", help="print entity → rows logged as one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from apps.replay.data import episode_list
    from apps.rerunview.episode import log_paths, require_rerun
    from dexumi.errors import DexumiError

    require_rerun()
    paths = episode_list(args.path)
    if args.save is not None and args.save.suffix != ".rrd":
        raise DexumiError(f"--save {args.save}: give a .rrd path")
    if args.save is None and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise DexumiError("no display to open a rerun viewer on: use --save FILE.rrd and open it with `rerun FILE.rrd`")
    counts = log_paths(paths, save=args.save, progress=sys.stderr.isatty())
    if args.json:
        print(
            json.dumps(
                {"path": str(args.path), "episodes": len(paths), "save": str(args.save or ""), "entities": counts}
            )
        )
    elif args.save is not None:
        print(f"{args.save}: {len(paths)} episode(s), {len(counts)} entities")
    return 0

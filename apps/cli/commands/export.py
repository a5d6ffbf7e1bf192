"""`dexumi export PATH... --to lerobot|robomimic|act --out DIR`: episodes → a training dataset."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="convert episodes to LeRobot v3.0, robomimic or ACT/ALOHA",
                       description="Convert episode files (or folders of them) into a training dataset. Output is "
                                   "written under a temporary name and renamed when complete; an existing --out is "
                                   "replaced only with --force. Exit 1 if any input was skipped.")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="episode files or folders")
    p.add_argument("--to", required=True, dest="fmt", choices=("lerobot", "robomimic", "act"), help="output format")
    p.add_argument("--out", required=True, type=Path, help="output folder (the dataset)")
    p.add_argument("--fps", type=float, default=None, help="resample onto this exact rate (default: the episodes' fps)")
    p.add_argument("--image-size", default=None, metavar="WxH", help="resize images (default: camera size)")
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    p.add_argument("--valid-fraction", type=float, default=0.1, help="robomimic: share of demos in mask/valid")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dexumi.export import ExportOptions, export_paths, parse_size

    opts = ExportOptions(args.fmt, args.out, args.fps, parse_size(args.image_size), args.force,
                         not args.no_progress and sys.stderr.isatty(), args.valid_fraction)
    s = export_paths(list(args.paths), opts)
    for msg in s.skipped:
        print(f"dexumi export: skipped: {msg}", file=sys.stderr)
    if args.json:
        print(json.dumps(s.to_dict()))
    else:
        sizes = ", ".join(f"{c} {w}x{h}" for c, (w, h) in s.sizes.items()) or "no cameras"
        print(f"wrote {args.fmt} dataset {s.out}: {len(s.episodes)} episode(s), {s.frames} frames at {s.fps:g} fps, "
              f"images {sizes}, {s.bytes / 2**20:.1f} MB in {s.seconds:.1f} s")
        for e in s.episodes:
            print(f"  {e['index']:4d}  {Path(e['source']).name}  {e['frames']} frames")
        if s.skipped:
            print(f"  {len(s.skipped)} input(s) skipped (see above)")
    return 1 if s.skipped else 0

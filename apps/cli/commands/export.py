"""`dexumi export PATH... --to lerobot|robomimic|act|zarr --out DIR`: episodes → a training dataset."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from apps.cli.per_episode import add_batch_args, batch_engine


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="convert episodes to LeRobot v3.0, robomimic, ACT/ALOHA or zarr",
        description="Convert episode files (or folders of them) into a training dataset. Output is "
        "written under a temporary name and renamed when complete; an existing --out is "
        "replaced only with --force, and only if an earlier `dexumi export` wrote it. "
        "action[t] is the robot-hand command for the next step (qpos at t + "
        "--action-horizon). Exit 1 if any input was skipped.",
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="episode files or folders")
    p.add_argument(
        "--to", required=True, dest="fmt", choices=("lerobot", "robomimic", "act", "zarr"), help="output format"
    )
    p.add_argument(
        "--out",
        required=True,
        help="output folder (the dataset), or an fsspec URL (memory://, file://, s3://...; see docs/scale.md)",
    )
    p.add_argument("--fps", type=float, default=None, help="resample onto this exact rate (default: the episodes' fps)")
    p.add_argument("--image-size", default=None, metavar="WxH", help="image size (default: camera size)")
    p.add_argument(
        "--image-fit",
        default="crop",
        choices=("crop", "pad", "stretch"),
        help="reach --image-size keeping the aspect ratio: centre crop (default) or pad; or stretch",
    )
    p.add_argument(
        "--action-horizon",
        type=int,
        default=1,
        metavar="STEPS",
        help="action[t] = qpos[t + STEPS] at the export rate (default 1: the next control step)",
    )
    p.add_argument(
        "--privileged",
        action="store_true",
        help="also export exoskeleton joints (a signal the robot will not have), named privileged",
    )
    p.add_argument(
        "--only",
        choices=("success", "passed"),
        default=None,
        help="only episodes whose outcome is success, or that pass `dexumi validate`",
    )
    p.add_argument(
        "--exclude",
        type=Path,
        default=None,
        metavar="FILE",
        help="leave out the episodes listed in FILE (one name or path a line, # comments)",
    )
    p.add_argument(
        "--act-length",
        type=int,
        default=None,
        metavar="N",
        help="ACT: crop/pad every episode to N frames (default: the longest; padding flagged in is_pad)",
    )
    p.add_argument(
        "--act-compress", action="store_true", help="ACT: mobile-ALOHA's compressed images (JPEG bytes + compress_len)"
    )
    p.add_argument(
        "--layout",
        default="replay-buffer",
        choices=("replay-buffer", "dexumi"),
        help="zarr: diffusion_policy/UMI replay buffer (data/*, meta/episode_ends) or DexUMI's episode_N/",
    )
    p.add_argument("--image-codec", default="jpeg", choices=("jpeg", "jpegxl"), help="zarr: per-frame image chunks")
    p.add_argument(
        "--action-units",
        default="rad",
        choices=("rad", "motor"),
        help="actions in URDF radians (default) or the vendor's motor units from the retarget map's motor: section",
    )
    p.add_argument(
        "--motor-map",
        type=Path,
        default=None,
        metavar="FILE",
        help="with --action-units motor: the map file whose motor: section to use (default: the map "
        "stored in each episode)",
    )
    p.add_argument(
        "--tactile-baseline",
        action="store_true",
        help="tactile boards: subtract each episode's first valid reading (DexUMI's --force-adjust)",
    )
    p.add_argument(
        "--tactile-total", action="store_true", help="tactile boards: per-finger totals instead of every taxel/channel"
    )
    p.add_argument("--force", action="store_true", help="replace an earlier export at --out")
    p.add_argument("--valid-fraction", type=float, default=0.1, help="robomimic: share of demos in mask/valid")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_batch_args(p, manifest=False)
    p.add_argument(
        "--work-dir",
        default=None,
        metavar="DIR",
        help="with --engine: shards and the resume manifest (default: .OUT.batch beside --out); "
        "on a cluster it must be on storage every node sees",
    )
    p.add_argument(
        "--visual",
        default="raw",
        choices=("raw", "exo-masked", "robot-overlay"),
        help="camera images: as recorded (default), or the visual bridge's variant written by "
        "`dexumi render` (exoskeleton removed; robot hand composited)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dexumi.batch.storage import is_url
    from dexumi.export import ExportOptions, export_paths, parse_size

    out = args.out if is_url(args.out) else Path(args.out)
    opts = ExportOptions(
        args.fmt,
        out,
        args.fps,
        parse_size(args.image_size),
        args.force,
        not args.no_progress and sys.stderr.isatty(),
        args.valid_fraction,
        action_horizon=args.action_horizon,
        privileged=args.privileged,
        only=args.only,
        exclude=args.exclude,
        image_fit=args.image_fit,
        act_length=args.act_length,
        act_compress=args.act_compress,
        layout=args.layout,
        image_codec=args.image_codec,
        action_units=args.action_units,
        motor_map=args.motor_map,
        visual=args.visual,
        tactile_baseline=bool(getattr(args, "tactile_baseline", False)),
        tactile_total=bool(getattr(args, "tactile_total", False)),
    )
    with batch_engine(args) as engine:
        s = export_paths(list(args.paths), opts, engine, args.work_dir)
    for msg in s.skipped:
        print(f"dexumi export: skipped: {msg}", file=sys.stderr)
    if args.json:
        print(json.dumps(s.to_dict()))
    else:
        sizes = ", ".join(f"{c} {w}x{h}" for c, (w, h) in s.sizes.items()) or "no cameras"
        print(
            f"wrote {args.fmt} dataset {s.out}: {len(s.episodes)} episode(s), {s.frames} frames at {s.fps:g} fps, "
            f"images {sizes}, {s.bytes / 2**20:.1f} MB in {s.seconds:.1f} s"
        )
        for e in s.episodes:
            print(f"  {e['index']:4d}  {Path(e['source']).name}  {e['frames']} frames")
        if s.skipped:
            print(f"  {len(s.skipped)} input(s) skipped (see above)")
    return 1 if s.skipped else 0

"""`dexumi pose EPISODE|DIR --from board|sfm`: the wrist camera's trajectory from the recorded video, offline."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from apps.cli.per_episode import add_batch_args, distance, episode_results, folder_episodes, span

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pose",
        help="offline wrist-camera trajectory from the recorded video (board or SfM)",
        description="Compute the wrist camera's trajectory after the fact into a derived file "
        "beside each episode (<stem>.derived/pose-board.h5 or pose-sfm.h5); the "
        "episode itself is never written. See docs/pose.md, 'Offline pose'.",
    )
    p.add_argument("path", type=Path, metavar="EPISODE|DIR", help="an episode file or a folder of them")
    p.add_argument(
        "--from",
        dest="method",
        choices=("board", "sfm"),
        required=True,
        help="board: ChArUco/AprilTag PnP per frame; sfm: structure from motion (pycolmap)",
    )
    p.add_argument("--camera", metavar="C", help="camera stream (default: the episode's main camera)")
    p.add_argument("--force", action="store_true", help="replace an existing derived trajectory")
    p.add_argument(
        "--stride",
        type=int,
        default=0,
        metavar="N",
        help="sfm: every Nth frame is a key frame (default: about 5 per second)",
    )
    p.add_argument(
        "--distance",
        type=distance,
        metavar="A:B:METRES",
        help="sfm without a board in view: camera centres of raw frames A and B are METRES apart",
    )
    p.add_argument(
        "--mask",
        type=Path,
        metavar="PNG",
        help="sfm: rig mask, black where features are ignored (default: found from the video)",
    )
    p.add_argument("--span", type=span, metavar="START:END", help="only frames this many seconds after the first")
    p.add_argument("--json", action="store_true", help="one JSON document per episode instead of a line")
    add_batch_args(p)
    p.set_defaults(handler=run)


def _episodes(path: Path) -> list[Path]:
    from dexumi.errors import DexumiError

    if path.is_dir():
        return folder_episodes(path)
    if not path.is_file():
        raise DexumiError(f"{path}: no such episode file or folder")
    return [path]


def run(args: argparse.Namespace) -> int:
    from dexumi.errors import DexumiError
    from dexumi.tracking.offline import OfflineOptions, OfflineResult, offline_pose_task

    if args.stride < 0:
        raise DexumiError("--stride must be 0 (auto) or positive")
    if args.mask is not None and not args.mask.is_file():
        raise DexumiError(f"--mask {args.mask}: no such file")
    opts = OfflineOptions(args.method, args.camera, args.force, args.stride, args.distance, args.mask, span=args.span)
    eps = _episodes(args.path)
    failed = 0
    params = {"method": opts.method, "camera": opts.camera}
    for res in episode_results(eps, offline_pose_task, (opts,), args, "pose", params):
        ep = res.path
        if not res.ok:
            failed += 1
            print(res.error if res.error.startswith(ep.name) else f"{ep.name}: {res.error}", file=sys.stderr)
            continue
        r = OfflineResult(**res.value)
        if args.json:
            print(json.dumps(r.to_json()))
            continue
        line = (
            f"{ep.name}: {r.method} on {r.camera}: {r.frames} frames, {r.tracked} tracking, {r.limited} "
            f"limited, {r.lost} lost"
        )
        if r.method == "sfm":
            fit = f", {r.board_fit_rms_mm:.2f} mm RMS from the board" if r.board_fit_rms_mm is not None else ""
            line += f"; {r.registered} key frames registered, scale from {r.scale_source}{fit}"
        print(f"{line} -> {r.out}")
    if failed:
        print(f"{failed} of {len(eps)} episode(s) failed", file=sys.stderr)
        return 2
    return 0

"""`dexumi pose EPISODE|DIR --from board|sfm`: the wrist camera's trajectory from the recorded video, offline."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def _distance(text: str) -> tuple[int, int, float]:
    try:
        a, b, m = text.split(":")
        out = (int(a), int(b), float(m))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: use FRAME_A:FRAME_B:METRES, e.g. 0:40:0.25") from None
    if out[2] <= 0 or out[0] == out[1]:
        raise argparse.ArgumentTypeError(f"{text!r}: two different frames and a positive distance")
    return out


def _span(text: str) -> tuple[float, float]:
    try:
        a, b = (float(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: use START:END in seconds, e.g. 5:12") from None
    if b <= a:
        raise argparse.ArgumentTypeError(f"{text!r}: END must be after START")
    return a, b


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pose", help="offline wrist-camera trajectory from the recorded video (board or SfM)",
                       description="Compute the wrist camera's trajectory after the fact into a derived file "
                                   "beside each episode (<stem>.derived/pose-board.h5 or pose-sfm.h5); the "
                                   "episode itself is never written. See docs/pose.md, 'Offline pose'.")
    p.add_argument("path", type=Path, metavar="EPISODE|DIR", help="an episode file or a folder of them")
    p.add_argument("--from", dest="method", choices=("board", "sfm"), required=True,
                   help="board: ChArUco/AprilTag PnP per frame; sfm: structure from motion (pycolmap)")
    p.add_argument("--camera", metavar="C", help="camera stream (default: the episode's main camera)")
    p.add_argument("--force", action="store_true", help="replace an existing derived trajectory")
    p.add_argument("--stride", type=int, default=0, metavar="N",
                   help="sfm: every Nth frame is a key frame (default: about 5 per second)")
    p.add_argument("--distance", type=_distance, metavar="A:B:METRES",
                   help="sfm without a board in view: camera centres of raw frames A and B are METRES apart")
    p.add_argument("--mask", type=Path, metavar="PNG", help="sfm: rig mask, black where features are ignored "
                                                            "(default: found from the video)")
    p.add_argument("--span", type=_span, metavar="START:END", help="only frames this many seconds after the first")
    p.add_argument("--json", action="store_true", help="one JSON document per episode instead of a line")
    from dexumi.batch.engine import add_engine_args

    add_engine_args(p)
    p.set_defaults(handler=run)


def _episodes(path: Path) -> list[Path]:
    from dexumi.episode import schema as S
    from dexumi.errors import DexumiError

    if path.is_dir():
        eps = sorted(p for p in path.iterdir() if p.is_file() and S.NAME_RE.match(p.name) and p.name.endswith(S.SUFFIX))
        if not eps:
            raise DexumiError(f"{path}: no finished episodes (episode_NNNN.h5)")
        return eps
    if not path.is_file():
        raise DexumiError(f"{path}: no such episode file or folder")
    return [path]


def run(args: argparse.Namespace) -> int:
    from dexumi.errors import DexumiError
    from dexumi.tracking.offline import OfflineOptions

    if args.stride < 0:
        raise DexumiError("--stride must be 0 (auto) or positive")
    if args.mask is not None and not args.mask.is_file():
        raise DexumiError(f"--mask {args.mask}: no such file")
    opts = OfflineOptions(args.method, args.camera, args.force, args.stride, args.distance, args.mask,
                          span=args.span)
    eps = _episodes(args.path)
    failed = 0
    for ep, r in _results(eps, opts, args):
        if isinstance(r, str):
            failed += 1
            print(r if r.startswith(ep.name) else f"{ep.name}: {r}", file=sys.stderr)
            continue
        if args.json:
            print(json.dumps(r.to_json()))
            continue
        line = (f"{ep.name}: {r.method} on {r.camera}: {r.frames} frames, {r.tracked} tracking, {r.limited} "
                f"limited, {r.lost} lost")
        if r.method == "sfm":
            fit = f", {r.board_fit_rms_mm:.2f} mm RMS from the board" if r.board_fit_rms_mm is not None else ""
            line += f"; {r.registered} key frames registered, scale from {r.scale_source}{fit}"
        print(f"{line} -> {r.out}")
    if failed:
        print(f"{failed} of {len(eps)} episode(s) failed", file=sys.stderr)
        return 2
    return 0


def _results(eps: list[Path], opts, args: argparse.Namespace):
    """(episode, OfflineResult or its error line) per episode: one episode here, several as batch tasks
    (dexumi.batch: the local process pool, or `--engine ray`; `--manifest` skips finished ones on a rerun)."""
    from dexumi.tracking.offline import OfflineResult, offline_pose, offline_pose_task

    if len(eps) == 1 and args.engine is None and args.manifest is None:
        yield eps[0], offline_pose(eps[0], opts)  # a single episode's failure is the command's one-line error
        return
    from dexumi.batch import Manifest, Task, engine_from_args, run_tasks

    engine = engine_from_args(args)
    man = Manifest(args.manifest, "pose", {"method": opts.method, "camera": opts.camera}) if args.manifest else None
    try:
        tasks = [Task(str(ep.resolve()), offline_pose_task, (str(ep), opts), source=str(ep)) for ep in eps]
        outs = run_tasks(tasks, engine, "pose", sys.stderr.isatty(), man)
    finally:
        if man is not None:
            man.close()
        engine.close()
    for ep, o in zip(eps, outs):
        yield ep, (OfflineResult(**o.value) if o.ok else o.error)

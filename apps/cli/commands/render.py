"""`dexumi render EPISODE|DIR --mode MODE…`: the visual bridge's variants, written beside each episode."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from apps.cli.per_episode import add_batch_args, episode_results, size

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    from dexumi.visual.compose import MODES

    p = sub.add_parser(
        "render",
        help="render the exoskeleton mask and the robot hand into the camera images",
        description="The visual bridge: per frame, render the exoskeleton (as worn) from the "
        "calibrated camera mount at the recorded joint angles, fill what it covered, and compose the "
        "robot hand at the retargeted joints. Writes <stem>.derived/visual.h5 beside each episode "
        "(the episode is never changed); `dexumi export --visual MODE` uses it.",
    )
    p.add_argument("paths", nargs="*", type=Path, help="episode files or folders")
    p.add_argument("--mode", action="append", choices=MODES, help="variant(s) to write (repeatable; default: all)")
    p.add_argument("--camera", action="append", help="only this camera (repeatable; default: every camera)")
    p.add_argument("--exo", help="exoskeleton model (bundled name or URDF; default: the episode's)")
    p.add_argument("--robot", help="robot hand model (bundled name or URDF with meshes; default: the episode's)")
    p.add_argument(
        "--inpaint",
        choices=("pushpull", "telea"),
        default="pushpull",
        help="how the exoskeleton's pixels are filled (default: pushpull)",
    )
    p.add_argument("--force", action="store_true", help="replace a previous render of this command")
    p.add_argument("--json", action="store_true", help="one JSON object per episode")
    p.add_argument(
        "--sim-episode",
        type=Path,
        metavar="DIR",
        help="instead: write a simulated episode (with a calibrated mount) into DIR to try this on",
    )
    p.add_argument("--duration", type=float, default=2.0, help="--sim-episode: seconds (default 2)")
    p.add_argument("--size", type=size, default=(240, 240), help="--sim-episode: image size WxH (default 240x240)")
    add_batch_args(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dexumi.errors import DexumiError

    if args.sim_episode is not None:
        return _sim(args)
    if not args.paths:
        raise DexumiError("give episode files or folders to render (or --sim-episode DIR)")
    from dexumi.validate.paths import expand
    from dexumi.visual.bridge import render_episode_task
    from dexumi.visual.compose import MODES

    found = expand(args.paths, include_unfinished=False)
    if found.problems:
        raise DexumiError(found.problems[0])
    files = found.files
    modes = args.mode or list(MODES)
    failed = 0
    task_args = (modes, args.camera, args.force, args.exo, args.robot, args.inpaint)
    config = {"modes": modes, "cameras": args.camera, "exo": args.exo, "robot": args.robot, "inpaint": args.inpaint}
    for res in episode_results(files, render_episode_task, task_args, args, "render", config):
        path, fig = res.path, res.value
        if not res.ok:
            failed += 1
            print(f"dexumi render: skipped: {path}: {res.error}", file=sys.stderr)
        elif args.json:
            print(json.dumps(fig))
        else:
            print(
                f"{path}: {fig['frames']} frames ({', '.join(modes)}) at {fig['fps']:.0f} frames/s, "
                f"{fig['cpu_ms_per_frame']:.1f} ms CPU per frame -> {fig['output']}"
            )
    if failed:
        print(f"dexumi render: {failed} of {len(files)} episode(s) failed", file=sys.stderr)
        return 1
    return 0


def _sim(args: argparse.Namespace) -> int:
    from dexumi.episode.numbering import reserve
    from dexumi.errors import DexumiError
    from dexumi.visual.simepisode import write_sim_episode

    if not 0.2 <= args.duration <= 120:
        raise DexumiError(f"--duration must be 0.2..120 s, not {args.duration:g}")
    d = args.sim_episode
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DexumiError(f"cannot create {d}: {exc.strerror or exc}") from None
    _, partial = reserve(d)
    out = write_sim_episode(partial, args.duration, args.size)
    print(out)
    return 0

"""`dexumi replay EPISODE|DIR`: the replay window, `--screenshot PATH`, or `--headless --out clip.mp4`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "replay",
        help="replay an episode: cameras, joints, 3D hand, findings; or render a video",
        description="Replay an episode (or a folder: PgDn/PgUp switch episodes). Keys: Space play/pause, "
        "Left/Right step (Shift: 10), Home/End, Up/Down speed, M/Shift+M next/previous "
        "marker, Q quit.",
    )
    p.add_argument("path", type=Path, metavar="EPISODE|DIR")
    p.add_argument("--headless", action="store_true", help="no window: render a video (needs --out)")
    p.add_argument("--out", type=Path, help="--headless: the MP4 to write (H.264)")
    p.add_argument("--fps", type=float, default=None, help="video frame rate (default: the episode's)")
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    p.add_argument("--screenshot", type=Path, metavar="PNG", help="render the window to a PNG and exit")
    p.add_argument("--frame", type=int, default=0, help="frame shown in the screenshot (negative: from the end)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from apps.replay.data import episode_list
    from dexumi.errors import DexumiError

    files = episode_list(args.path)
    if not args.headless:
        from apps.display import require_display

        require_display("render a video with --headless --out clip.mp4", render_only=args.screenshot is not None)
    if args.screenshot:
        from apps.replay.main import screenshot

        screenshot(files, args.screenshot, args.frame)
        print(f"wrote {args.screenshot}")
        return 0
    if args.headless:
        if args.out is None:
            raise DexumiError("--headless needs --out clip.mp4 (or use --screenshot PNG)")
        if args.out.exists() and args.force:
            args.out.unlink()
        from apps.replay.main import video

        for path, n in video(files, args.out, args.fps, sys.stderr.isatty()):
            print(f"wrote {path}: {n} frames")
        return 0
    from apps.replay.main import window

    return window(files)

"""`dexumi recover PATH`: finish episodes interrupted by a crash, kill or full disk."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "recover",
        help="recover interrupted episodes (a .partial file, or a whole folder)",
        description="Rebuild an episode interrupted by a crash, kill or full disk from its "
        "`.h5.partial` file (everything up to the last flush, ≤ 0.25 s before the "
        "interruption) into episode_NNNN.h5. Given a folder, recovers every "
        "unfinished episode in it. The recorder does this by itself at start-up.",
    )
    p.add_argument("path", type=Path, help="an episode_NNNN.h5.partial file or a folder")
    p.add_argument("--json", action="store_true", help="print one JSON object (every file's outcome) on stdout")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dexumi.episode.recover import recover_path

    results = recover_path(args.path, progress=not args.json)
    ok = all(r.action not in ("failed", "skipped") for r in results)
    if args.json:
        print(
            json.dumps(
                {
                    "path": str(args.path),
                    "ok": ok,
                    "results": [
                        {
                            "source": str(r.source),
                            "path": str(r.path) if r.path else None,
                            "action": r.action,
                            "encoder_samples": r.encoder_samples,
                            "camera_frames": r.camera_frames,
                            "message": r.message,
                        }
                        for r in results
                    ],
                }
            )
        )
        return 0 if ok else 1
    if not results:
        print(f"nothing to recover in {args.path}")
    for r in results:
        frames = ", ".join(f"{k} {v}" for k, v in r.camera_frames.items())
        print(
            f"{r.source.name}: {r.action} -> {r.path.name if r.path else '-'}"
            + (
                f" ({r.encoder_samples} encoder samples; frames {frames})"
                if r.action == "recovered"
                else f" ({r.message})"
            )
        )
    return 0 if ok else 1

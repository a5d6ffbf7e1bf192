"""`dexumi rank DIR`: episodes ordered by a sync-aware quality score (worst first), reasons and suspects."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from apps.cli.per_episode import add_batch_args, batch_engine, folder_episodes


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rank",
        help="order episodes by quality score, worst first, with reasons and suspects",
        description="Score each finished episode of a folder (100 = clean) from its valid "
        "fraction, encoder gaps, latency self-check, jerk, fingertip error and "
        "duration; list them worst first. See docs/sync-qa.md for the score.",
    )
    p.add_argument("dir", type=Path, metavar="DIR", help="folder of episodes (episode_NNNN.h5)")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    p.add_argument(
        "--suspects",
        type=Path,
        metavar="FILE",
        help="write the suspects (one episode file name per line) for `dexumi export --exclude FILE`",
    )
    p.add_argument("--threshold", type=float, default=80.0, help="suspect below this score (default 80)")
    p.add_argument("--no-fingertips", action="store_true", help="skip the fingertip-error feature (faster)")
    add_batch_args(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dexumi.episode import schema as S
    from dexumi.errors import DexumiError
    from dexumi.validate.rank import rank_paths, suspects_text
    from dexumi.safe_output import write_atomic

    d: Path = args.dir
    if not d.is_dir():
        raise DexumiError(f"{d}: not a folder of episodes")
    paths = folder_episodes(d)
    if (
        args.suspects is not None
        and args.suspects.resolve().parent == d.resolve()
        and S.NAME_RE.match(args.suspects.name)
    ):
        raise DexumiError(f"--suspects {args.suspects}: would overwrite an episode file")
    with batch_engine(args) as engine:
        ranked = rank_paths(paths, args.threshold, not args.no_fingertips, sys.stderr.isatty(), engine, args.manifest)
    if args.suspects is not None:
        try:
            write_atomic(args.suspects, suspects_text(ranked, str(d), args.threshold))
        except OSError as exc:
            raise DexumiError(f"--suspects {args.suspects}: cannot write ({exc.strerror or exc})") from None
    suspects = [r.episode for r in ranked if r.suspect]
    if args.json:
        print(
            json.dumps(
                {
                    "dir": str(d),
                    "threshold": args.threshold,
                    "episodes": [r.to_json() for r in ranked],
                    "suspects": suspects,
                }
            )
        )
        return 0
    w = max(len(r.episode) for r in ranked)
    print(f"{'rank':>4}  {'episode':<{w}}  {'score':>5}  reasons")
    for r in ranked:
        print(f"{r.rank:>4}  {r.episode:<{w}}  {r.score:5.1f}  {'; '.join(r.reasons) or '-'}")
    print(
        f"{len(ranked)} episode(s), {len(suspects)} suspect(s) below {args.threshold:g}"
        + (f": {' '.join(suspects)}" if suspects else "")
    )
    return 0

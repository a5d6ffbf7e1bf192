"""`dexumi edit EPISODE`: fix task, outcome, operator or notes afterwards; trim/split the aligned view; discard.

Every edit is atomic (a copy is changed and renamed over the file) and logged in the file (who, when, what).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "edit",
        help="change an episode's task, outcome, operator, notes, trim; discard it",
        description="Edit a finished episode's metadata atomically (a kill at any instant leaves "
        "the old or the new file), with the change logged in the file. EPISODE is a "
        "file, or FOLDER/NUMBER.",
    )
    p.add_argument("episode", help="episode file, or FOLDER/NUMBER (e.g. recordings/42)")
    p.add_argument("--task", default=None)
    p.add_argument("--outcome", default=None, choices=("success", "failure", "unknown"))
    p.add_argument("--operator", default=None)
    p.add_argument("--notes", default=None)
    p.add_argument(
        "--trim",
        nargs=2,
        type=float,
        default=None,
        metavar=("START", "END"),
        help="non-destructive: keep the aligned view from START to END seconds (END 0: to the end)",
    )
    p.add_argument(
        "--split",
        nargs="+",
        type=float,
        default=None,
        metavar="T",
        help="non-destructive: split the aligned view at these seconds (export writes the parts)",
    )
    p.add_argument("--clear-view-edits", action="store_true", help="remove trim and split points")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--discard", action="store_true", help="rename to .h5.discarded (its number stays taken)")
    g.add_argument("--undiscard", action="store_true", help="bring a discarded episode back")
    p.add_argument("--log", action="store_true", help="print the file's edit log")
    p.add_argument("--json", action="store_true", help="print what changed as one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from dexumi.episode import metadata as M
    from dexumi.errors import DexumiError

    path = M.find_episode(args.episode)
    changes: dict = {"task": args.task, "outcome": args.outcome, "operator": args.operator, "notes": args.notes}
    if args.trim is not None:
        start, end = args.trim
        changes[M.A_TRIM] = [start, math.nan if end == 0 else end]
    if args.split is not None:
        changes[M.A_SPLITS] = args.split
    if args.clear_view_edits:
        if args.trim is not None or args.split is not None:
            raise DexumiError("--clear-view-edits cannot be combined with --trim/--split")
        changes[M.A_TRIM] = [0.0, math.nan]
        changes[M.A_SPLITS] = np.zeros(0)
    todo = {k: v for k, v in changes.items() if v is not None}
    if not todo and not (args.discard or args.undiscard or args.log):
        raise DexumiError(
            "nothing to edit: give --task, --outcome, --operator, --notes, --trim, --split, --discard or --undiscard"
        )
    result = {"path": str(path), "changes": {}}
    if todo:
        if args.undiscard:
            path = M.undiscard(path)
        r = M.edit_file(path, todo)
        result["changes"] = r.changes
        if args.discard:
            path = M.discard(path)
    elif args.discard:
        path = M.discard(path)
    elif args.undiscard:
        path = M.undiscard(path)
    result["path"] = str(path)
    if args.log:
        result["log"] = M.edit_log(path)
    if args.json:
        print(json.dumps(result))
        return 0
    for k, (old, new) in result["changes"].items():
        print(f"{Path(path).name}: {k}: {old!r} -> {new!r}")
    if args.discard or args.undiscard:
        print(f"{Path(args.episode).name} -> {Path(path).name}")
    if not result["changes"] and todo:
        print(f"{Path(path).name}: unchanged (the values were already so)")
    for e in result.get("log", []):
        print(
            f"  {e.get('utc')} {e.get('user')}@{e.get('host')} {e.get('action', 'edit')}: "
            + ", ".join(f"{k} {o!r} -> {n!r}" for k, (o, n) in e.get("changes", {}).items())
        )
    return 0

"""`dexumi ls DIR`: the day's folder as a table (or JSON): one row per episode, sortable and filterable."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SORT_KEYS = ("number", "time", "duration", "task", "outcome", "operator", "status", "validation", "drops", "notes")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ls",
        help="list the episodes of a folder",
        description="List a folder's episodes — "
        "finished, recovered, discarded, partial — one row each: number, time, duration, task, "
        "outcome, operator, status, validation, drops, notes.",
    )
    add_arguments(p)
    p.set_defaults(handler=run)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("folder", type=Path)
    p.add_argument("--json", action="store_true", help="one JSON object {folder, next, episodes: [...]}")
    p.add_argument(
        "--sort",
        default="number",
        metavar="KEY",
        help=f"sort by {', '.join(SORT_KEYS)} (default: number); --sort=-KEY reverses",
    )
    p.add_argument("-r", "--reverse", action="store_true", help="reverse the order")
    p.add_argument("--task", default=None, help="only episodes whose task contains this text (any case)")
    p.add_argument("--outcome", action="append", choices=("success", "failure", "unknown"), default=None)
    p.add_argument("--operator", default=None, help="only this operator (exact, any case)")
    p.add_argument(
        "--status",
        action="append",
        default=None,
        choices=("final", "recovered", "discarded", "partial", "recovering", "failed"),
        help="only these states (repeat); default: all",
    )
    p.add_argument(
        "--validation",
        action="append",
        choices=("pass", "warn", "error", "none"),
        default=None,
        help="only these validation results (repeat; none = not validated)",
    )
    p.add_argument("--no-validate", action="store_true", help="do not validate (faster on a new folder)")


def _filter(rows, args):
    out = []
    for r in rows:
        if args.task is not None and args.task.lower() not in r.task.lower():
            continue
        if args.outcome and r.outcome not in args.outcome:
            continue
        if args.operator is not None and r.operator.lower() != args.operator.lower():
            continue
        if args.status and r.status not in args.status:
            continue
        if args.validation and (r.validation or "none") not in args.validation:
            continue
        out.append(r)
    return out


def _sort(rows, key: str):
    from dexumi.errors import DexumiError

    rev = key.startswith("-")
    k = key.lstrip("-")
    if k not in SORT_KEYS:
        raise DexumiError(f"--sort {key}: sort by one of {', '.join(SORT_KEYS)}")
    attr = "duration_s" if k == "duration" else k
    return sorted(rows, key=lambda r: (getattr(r, attr), r.number), reverse=rev)


def _cell(text: str, width: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def print_table(rows, next_number: int, out=sys.stdout) -> None:
    head = (
        f"{'#':>5}  {'time':19}  {'dur':>6}  {'task':20}  {'outcome':8}  {'operator':10}  {'status':10}  "
        f"{'validation':10}  {'drops':>5}  notes"
    )
    print(head, file=out)
    for r in rows:
        v = r.validation or ("—" if r.status in ("final", "recovered") else "")
        extra = r.notes
        if r.error:
            extra = f"[{r.error}] {extra}".strip()
        if r.trim_s or r.splits_s:
            extra = f"[view edited] {extra}".strip()
        print(
            f"{r.number:>5}  {r.time.replace('T', ' ').rstrip('Z'):19}  {r.duration_s:>5.1f}s  "
            f"{_cell(r.task, 20):20}  {r.outcome:8}  {_cell(r.operator, 10):10}  {r.status:10}  {v:10}  "
            f"{r.drops:>5}  {_cell(extra, 60)}",
            file=out,
        )
    kept = [r for r in rows if r.status in ("final", "recovered")]
    print(
        f"{len(rows)} episodes ({len(kept)} usable, {sum(r.duration_s for r in kept) / 60:.1f} min); "
        f"next is {next_number:04d}",
        file=out,
    )


def run(args: argparse.Namespace) -> int:
    from dexumi.episode.listing import list_folder, next_number
    from dexumi.validate.listing import list_validated

    if args.no_validate:
        rows = list_folder(args.folder)
    else:
        rows = list_validated(args.folder, progress=sys.stderr.isatty())
    rows = _sort(_filter(rows, args), args.sort)
    if getattr(args, "reverse", False):
        rows.reverse()
    nxt = next_number(args.folder)
    if args.json:
        print(json.dumps({"folder": str(args.folder), "next": nxt, "episodes": [r.to_dict() for r in rows]}))
    else:
        print_table(rows, nxt)
    return 0

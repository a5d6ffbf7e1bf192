"""What the per-episode commands (validate, rank, export, pose, render) share: argument types (image sizes, time
spans, frame distances), the batch options (--engine, --address, --manifest) and their engine, and the split
"one episode runs in this process, several run as batch tasks"."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dexumi.batch import Engine

SIZE_RANGE = (32, 4096)  # pixels per side


def size(text: str) -> tuple[int, int]:
    """`WxH` → (W, H), each side within SIZE_RANGE."""
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WxH, not {text!r}") from None
    lo, hi = SIZE_RANGE
    if not (lo <= w <= hi and lo <= h <= hi):
        raise argparse.ArgumentTypeError(f"size must be {lo}..{hi} per side, not {text!r}")
    return w, h


def span(text: str) -> tuple[float, float]:
    """`START:END` in seconds → (START, END), END after START."""
    try:
        a, b = (float(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: use START:END in seconds, e.g. 5:12") from None
    if b <= a:
        raise argparse.ArgumentTypeError(f"{text!r}: END must be after START")
    return a, b


def distance(text: str) -> tuple[int, int, float]:
    """`FRAME_A:FRAME_B:METRES` → (A, B, METRES): two different frames, a positive distance."""
    try:
        a, b, m = text.split(":")
        out = (int(a), int(b), float(m))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: use FRAME_A:FRAME_B:METRES, e.g. 0:40:0.25") from None
    if out[2] <= 0 or out[0] == out[1]:
        raise argparse.ArgumentTypeError(f"{text!r}: two different frames and a positive distance")
    return out


def add_batch_args(p: argparse.ArgumentParser, manifest: bool = True) -> None:
    """--engine, --address and (unless `manifest` is False) --manifest."""
    from dexumi.batch.engine import ENGINES

    p.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help="where the per-episode tasks run: local (a process pool here, default) or ray",
    )
    p.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="--engine ray: the cluster (auto | HOST:PORT | ray://HOST:10001; default: a private "
        "cluster on this machine)",
    )
    if manifest:
        p.add_argument(
            "--manifest",
            default=None,
            metavar="FILE",
            help="record finished episodes (with content hashes) in FILE; a rerun skips those unchanged",
        )


@contextmanager
def batch_engine(args: argparse.Namespace, workers: int | None = None) -> Iterator[Engine | None]:
    """The engine that --engine/--address ask for, closed on leaving; None when neither is given (the command's
    default: the local pool of `workers`, or export's one process)."""
    if getattr(args, "engine", None) is None and getattr(args, "address", None) is None:
        yield None
        return
    from dexumi.batch import engine_from_args

    engine = engine_from_args(args, workers)
    try:
        yield engine
    finally:
        engine.close()


def folder_episodes(folder: Path) -> list[Path]:
    """The finished episodes (episode_NNNN.h5) of a folder, sorted; none is a DexumiError."""
    from dexumi.episode import schema as S
    from dexumi.errors import DexumiError

    eps = sorted(p for p in folder.iterdir() if p.is_file() and S.NAME_RE.match(p.name) and p.name.endswith(S.SUFFIX))
    if not eps:
        raise DexumiError(f"{folder}: no finished episodes (episode_NNNN.h5)")
    return eps


@dataclass
class EpisodeResult:
    """What `fn` returned for one episode, or its error line."""

    path: Path
    ok: bool
    value: Any = None
    error: str = ""


def episode_results(
    paths: Sequence[Path], fn: Callable[..., Any], fn_args: tuple, args: argparse.Namespace, command: str, params: Any
) -> list[EpisodeResult]:
    """`fn(str(path), *fn_args)` per episode, in order. One episode without --engine/--address/--manifest runs in
    this process (its failure is the command's one-line error); otherwise each is a batch task (dexumi.batch: the
    local pool, or --engine ray; --manifest of `command` and `params` skips finished episodes on a rerun)."""
    with batch_engine(args) as engine:
        if engine is None and len(paths) == 1 and getattr(args, "manifest", None) is None:
            return [EpisodeResult(paths[0], True, fn(str(paths[0]), *fn_args))]
        from dexumi.batch import run_episode_tasks

        outs = run_episode_tasks(
            paths,
            fn,
            fn_args,
            engine=engine,
            manifest=getattr(args, "manifest", None),
            command=command,
            params=params,
            progress=sys.stderr.isatty(),
        )
    return [EpisodeResult(p, o.ok, o.value if o.ok else None, o.error) for p, o in zip(paths, outs)]

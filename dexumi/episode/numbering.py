"""Episode numbers: taken by creating the file atomically, never reused or shifted.

The next number is one more than the highest number of any episode file in the folder — finished,
partial, recovering, discarded or failed — and than the folder's counter file (so deleting the newest
episode by hand does not free its number). The reservation is `open(O_CREAT | O_EXCL)` of the `.partial`
file itself: two recorders on one folder cannot get the same number.
"""

from __future__ import annotations

import os
from pathlib import Path

from dexumi.episode import schema as S
from dexumi.errors import DexumiError
from dexumi.safe_output import write_atomic

COUNTER = ".dexumi-last-episode"


def scan(folder: str | Path) -> dict[int, list[Path]]:
    """Episode number → its files (any state) in `folder`."""
    out: dict[int, list[Path]] = {}
    d = Path(folder)
    if not d.is_dir():
        return out
    for p in d.iterdir():
        n = S.episode_number(p)
        if n is not None:
            out.setdefault(n, []).append(p)
    return out


def _counter(folder: Path) -> int:
    try:
        return int((folder / COUNTER).read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def _write_counter(folder: Path, n: int) -> None:
    try:
        write_atomic(folder / COUNTER, f"{n}\n")
    except OSError:
        pass


def unfinished(folder: str | Path) -> list[Path]:
    """Files left by an interrupted recording or recovery, oldest number first."""
    out = []
    for _n, paths in sorted(scan(folder).items()):
        out += [p for p in paths if p.name.endswith((S.PARTIAL, S.RECOVERING))]
    return out


def reserve(folder: str | Path) -> tuple[int, Path]:
    """Take the next number: creates `episode_NNNN.h5.partial` (empty) and returns (number, path)."""
    d = Path(folder)
    n = max([0, _counter(d), *scan(d)]) + 1
    for _ in range(1000):
        path = d / (S.episode_name(n) + S.PARTIAL)
        if not any((d / (S.episode_name(n) + sfx)).exists() for sfx in (S.SUFFIX, S.RECOVERING, S.DISCARDED, S.FAILED)):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                n += 1
                continue
            except OSError as exc:
                raise DexumiError(f"cannot create an episode file in {d}: {exc.strerror}") from None
            os.close(fd)
            _write_counter(d, n)
            return n, path
        n += 1
    raise DexumiError(f"could not reserve an episode number in {d}")

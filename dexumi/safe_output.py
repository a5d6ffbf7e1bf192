"""Writing one output file without ever overwriting data the command was not asked to produce.

`write_output(path, write, tag, force, inputs)`:
- the file is written to a hidden temporary name in the same folder, then published atomically;
- without `force` it is published with `link()`, which fails if the name exists (no race, no overwrite);
- with `force` an existing file is replaced only if it is a previous output of the same command, unchanged:
  the marker `.<name>.dexumi-<tag>` written next to it holds its SHA-256;
- the output is never one of the command's inputs (same file, whatever the path spelling), force or not.

Below it, the one atomic publish every writer of a whole file uses (profiles, maps, reports, caches, the
episode counter, videos): `write_atomic(path, data)` writes a hidden temporary file beside `path` and
publishes it in one step (`os.replace`, or `rename_no_clobber` when an existing file must not be replaced);
the temporary file never outlives a failure.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Union

from dexumi.errors import DexumiError


class TargetExists(DexumiError):
    """The name to publish to exists (or appeared while writing)."""


Content = Union[str, bytes, Callable[[Path], None]]  # text, bytes, or a function writing the given path


def temp_name(path: Path, tag: str = "tmp") -> Path:
    """A hidden name beside `path`, unique to this process, with the same suffix (writers pick formats by it)."""
    return path.with_name(f".{path.name}.{tag}-{os.getpid()}{path.suffix}")


def fsync_path(path: Path, flags: int = os.O_RDONLY) -> None:
    """fsync a file or (with the default flags) a folder."""
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def rename_no_clobber(src: Path, dst: Path) -> None:
    """Move `src` to `dst` in one step, refusing (TargetExists) if `dst` exists — also if it appears meanwhile.

    `dst` already being `src` (an earlier move killed between link and unlink) finishes that move."""
    try:
        os.link(src, dst)
    except FileExistsError:
        if os.path.samefile(src, dst):
            os.unlink(src)
            return
        raise TargetExists(f"{dst} already exists; refusing to overwrite it") from None
    except OSError:  # a filesystem without hard links
        if dst.exists():
            raise TargetExists(f"{dst} already exists; refusing to overwrite it") from None
        os.rename(src, dst)
    else:
        os.unlink(src)


def write_atomic(path: str | Path, content: Content, *, clobber: bool = True, fsync: bool = False) -> Path:
    """Write `content` to a temporary file beside `path`, then publish it as `path` in one step.

    `clobber=False`: refuse (TargetExists) if `path` exists. `fsync`: the data is on disk before it is
    published. OSError from writing propagates (callers word it); the temporary file is removed."""
    out = Path(path)
    tmp = temp_name(out)
    try:
        if isinstance(content, bytes):
            tmp.write_bytes(content)
        elif isinstance(content, str):
            tmp.write_text(content, encoding="utf-8")
        else:
            content(tmp)
        if fsync:
            fsync_path(tmp)
        if clobber:
            os.replace(tmp, out)
        else:
            rename_no_clobber(tmp, out)
    finally:
        if tmp.exists() or tmp.is_symlink():
            tmp.unlink()
    return out


def marker_path(path: Path, tag: str) -> Path:
    return path.with_name(f".{path.name}.dexumi-{tag}")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def is_own_output(path: Path, tag: str) -> bool:
    """True when `path` is exactly what this command wrote there last (its marker's hash matches)."""
    try:
        doc = json.loads(marker_path(path, tag).read_text())
        return isinstance(doc, dict) and doc.get("sha256") == _sha256(path)
    except (OSError, ValueError):
        return False


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def write_output(
    path: str | Path, write: Callable[[Path], None], tag: str, force: bool = False, inputs: tuple[str | Path, ...] = ()
) -> Path:
    """Write via `write(tmp_path)` and publish as `path`; DexumiError (one line) instead of overwriting."""
    out = Path(path)
    for src in inputs:
        if _same_file(out, Path(src)):
            raise DexumiError(f"--out {out} is the input file; refusing to overwrite it")
    if out.is_dir():
        raise DexumiError(f"--out {out} is a folder, not a file")
    if not out.parent.is_dir():
        raise DexumiError(f"--out {out}: folder {out.parent} does not exist")
    exists = out.exists() or out.is_symlink()
    if exists and not force:
        raise DexumiError(f"{out} already exists; pass --force to replace a previous output of this command")
    if exists and not is_own_output(out, tag):
        raise DexumiError(
            f"{out} exists and was not written by this command (or was changed since); "
            "refusing to replace it even with --force"
        )
    digest = ""

    def write_and_hash(tmp: Path) -> None:
        nonlocal digest
        write(tmp)
        digest = _sha256(tmp)

    try:
        write_atomic(out, write_and_hash, clobber=exists)
        marker_path(out, tag).write_text(json.dumps({"written_by": f"dexumi {tag}", "sha256": digest}) + "\n")
    except OSError as exc:
        raise DexumiError(f"cannot write {out}: {exc.strerror or exc}") from None
    except TargetExists:
        raise DexumiError(f"{out} appeared while writing; left it untouched") from None
    return out

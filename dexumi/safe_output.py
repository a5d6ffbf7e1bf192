"""Writing one output file without ever overwriting data the command was not asked to produce.

`write_output(path, write, tag, force, inputs)`:
- the file is written to a hidden temporary name in the same folder, then published atomically;
- without `force` it is published with `link()`, which fails if the name exists (no race, no overwrite);
- with `force` an existing file is replaced only if it is a previous output of the same command, unchanged:
  the marker `.<name>.dexumi-<tag>` written next to it holds its SHA-256;
- the output is never one of the command's inputs (same file, whatever the path spelling), force or not.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from dexumi.errors import DexumiError


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


def write_output(path: str | Path, write: Callable[[Path], None], tag: str, force: bool = False,
                 inputs: tuple[str | Path, ...] = ()) -> Path:
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
        raise DexumiError(f"{out} exists and was not written by this command (or was changed since); "
                          "refusing to replace it even with --force")
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}{out.suffix}")
    try:
        write(tmp)
        digest = _sha256(tmp)
        if exists:
            os.replace(tmp, out)
        else:
            try:
                os.link(tmp, out)
                os.unlink(tmp)
            except FileExistsError:
                raise DexumiError(f"{out} appeared while writing; left it untouched") from None
            except OSError:  # a filesystem without hard links
                if out.exists():
                    raise DexumiError(f"{out} appeared while writing; left it untouched") from None
                os.rename(tmp, out)
        marker_path(out, tag).write_text(json.dumps({"written_by": f"dexumi {tag}", "sha256": digest}) + "\n")
    except OSError as exc:
        raise DexumiError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return out

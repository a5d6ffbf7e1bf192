"""Crash-safe output: everything is written under a temporary name and renamed into place at the end.

Guarantees (each tested in tests/test_export_safety.py):
- the output never overlaps an input (same folder, a parent of an input, or inside an input folder);
- `force` replaces only a previous output of the same command, recognised by the marker file it wrote
  (`OUTPUT_MARKER`); anything else is refused, whatever the flag;
- staging folders carry their own marker (`STAGING_MARKER`, with the writer's pid): a later run removes those
  whose process is gone, and puts back a previous output that a killed run had moved aside;
- a write error (a full disk) removes the staging folder and leaves `out` as it was: nothing half-published.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
from pathlib import Path

from dexumi.errors import (
    DISK_FULL,
    DexumiError,
    is_disk_full,
)  # the disk-full test lives in dexumi.errors (batch uses it too)

log = logging.getLogger(__name__)

OUTPUT_MARKER = ".dexumi-export.json"
STAGING_MARKER = ".dexumi-staging.json"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_json(p: Path) -> dict | None:
    try:
        with open(p, "rb") as fh:
            data = json.loads(fh.read(65536))
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def _overlaps(out: Path, inp: Path) -> bool:
    return out == inp or out in inp.parents or inp in out.parents


def check_overlap(out: Path, inputs: list[Path]) -> None:
    """Refuse an output folder that is an input, contains one, or lies inside an input folder."""
    o = out.expanduser().resolve()
    for raw in inputs:
        i = Path(raw).expanduser().resolve()
        if _overlaps(o, i):
            raise DexumiError(f"--out {out} overlaps the input {raw}; choose a folder outside the inputs")


class StagedDir:
    """`with StagedDir(out, force, command=..., inputs=...) as tmp:` write into `tmp`; on success it becomes `out`.

    An old `out` is replaced only with `force`, and only when it holds the marker of the same command."""

    def __init__(
        self,
        out: str | Path,
        force: bool = False,
        command: str = "export",
        inputs: list[Path] | None = None,
        info: dict | None = None,
    ) -> None:
        self.out = Path(out).expanduser()
        self.force = force
        self.command = command
        self.info = dict(info or {})
        check_overlap(self.out, list(inputs or []))
        self.cleanup_stale()
        if self.out.exists() or self.out.is_symlink():
            if not self.out.is_dir() or self.out.is_symlink():
                raise DexumiError(f"{self.out} exists and is not a folder; not replacing it")
            if not force:
                raise DexumiError(f"{self.out} already exists; use --force to replace it")
            if any(self.out.iterdir()) and not self._ours(self.out):
                raise DexumiError(
                    f"{self.out} was not written by `dexumi {command}` (no {OUTPUT_MARKER}); "
                    f"not replacing it, even with --force"
                )
        self.tmp = self.out.parent / f".{self.out.name}.partial-{os.getpid()}"

    def _ours(self, d: Path) -> bool:
        m = _read_json(d / OUTPUT_MARKER)
        return m is not None and bool(m) and m.get("command") == self.command

    def cleanup_stale(self) -> None:
        """Remove staging folders of this output left by a killed run (marker, dead pid); restore a moved-aside
        previous output when `out` itself is missing."""
        parent = self.out.parent
        if not parent.is_dir():
            return
        here = socket.gethostname()
        for kind in ("old", "partial"):
            for d in sorted(parent.glob(f".{self.out.name}.{kind}-*")):
                m = _read_json(d / STAGING_MARKER) if kind == "partial" else _read_json(d / ".dexumi-moved.json")
                if not m or m.get("command") != self.command or m.get("host") != here:
                    continue
                pid = m.get("pid")
                if not isinstance(pid, int) or _pid_alive(pid) and pid != os.getpid():
                    continue
                if kind == "old" and not self.out.exists():
                    os.rename(d, self.out)
                    (self.out / ".dexumi-moved.json").unlink(missing_ok=True)
                    log.warning("restored %s from %s (a previous run was killed while replacing it)", self.out, d)
                    continue
                shutil.rmtree(d, ignore_errors=True)
                log.warning("removed %s left by a killed run (pid %d)", d, pid)

    def _marker(self, name: str) -> dict:
        return {"command": self.command, "pid": os.getpid(), "host": socket.gethostname(), **self.info, "marker": name}

    def __enter__(self) -> Path:
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            if self.tmp.exists():
                shutil.rmtree(self.tmp)
            self.tmp.mkdir()
            (self.tmp / STAGING_MARKER).write_text(json.dumps(self._marker(STAGING_MARKER)))
        except OSError as exc:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise DexumiError(f"cannot create {self.tmp}: {exc.strerror or exc}") from None
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            if exc is not None and is_disk_full(exc):
                raise DexumiError(f"cannot write {self.out}: no space left on device (nothing was published)") from None
            return
        try:
            (self.tmp / OUTPUT_MARKER).write_text(json.dumps(self._marker(OUTPUT_MARKER)))
            (self.tmp / STAGING_MARKER).unlink(missing_ok=True)
            _fsync_tree(self.tmp)
        except OSError as exc:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise DexumiError(f"cannot write {self.out}: {exc.strerror or exc} (nothing was published)") from None
        old = None
        if self.out.exists():
            old = self.out.parent / f".{self.out.name}.old-{os.getpid()}"
            try:  # written first: a run killed right after the rename below is undone by the next run
                (self.out / ".dexumi-moved.json").write_text(json.dumps(self._marker("moved")))
            except OSError:
                pass
            os.rename(self.out, old)
        os.rename(self.tmp, self.out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        _fsync_dir(self.out.parent)


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def _fsync_tree(root: Path) -> None:
    """Flush every file before publishing: a delayed-allocation ENOSPC surfaces here, not after the rename.
    One syncfs(2) for the file system when libc has it (thousands of chunk files), else fsync per file."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(root, os.O_RDONLY)
        try:
            if libc.syncfs(fd) == 0:
                return
            err = ctypes.get_errno()
            if err in DISK_FULL:
                raise OSError(err, os.strerror(err))
        finally:
            os.close(fd)
    except (AttributeError, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno in DISK_FULL:
            raise
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    _fsync_dir(root)

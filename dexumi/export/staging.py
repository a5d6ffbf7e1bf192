"""Crash-safe output: everything is written under a temporary name and renamed into place at the end."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from dexumi.errors import DexumiError

log = logging.getLogger(__name__)


class StagedDir:
    """`with StagedDir(out, force) as tmp:` write into `tmp`; on success it becomes `out` (an old `out` is
    replaced only with `force`); on any error the temporary folder is removed and `out` is untouched."""

    def __init__(self, out: str | Path, force: bool = False) -> None:
        self.out = Path(out)
        self.force = force
        if self.out.exists() and not force:
            raise DexumiError(f"{self.out} already exists; use --force to replace it")
        if self.out.exists() and not self.out.is_dir():
            raise DexumiError(f"{self.out} exists and is not a folder")
        self.tmp = self.out.parent / f".{self.out.name}.partial-{os.getpid()}"

    def __enter__(self) -> Path:
        try:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            if self.tmp.exists():
                shutil.rmtree(self.tmp)
            self.tmp.mkdir()
        except OSError as exc:
            raise DexumiError(f"cannot create {self.tmp}: {exc.strerror or exc}") from None
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        old = None
        if self.out.exists():
            old = self.out.parent / f".{self.out.name}.old-{os.getpid()}"
            os.rename(self.out, old)
        os.rename(self.tmp, self.out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        try:
            fd = os.open(self.out.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            pass

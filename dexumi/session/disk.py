"""Disk checks: is the output folder writable, how much space is left."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from pathlib import Path

from dexumi.errors import DexumiError


def free_mb(folder: str | Path) -> float:
    return shutil.disk_usage(folder).free / 2**20


def check_writable(folder: str | Path) -> Path:
    """Create the folder if needed and prove a file can be written there; DexumiError in one line if not."""
    d = Path(folder).expanduser()
    if d.exists() and not d.is_dir():
        raise DexumiError(f"output folder {d} is a file, not a folder")
    try:
        d.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".dexumi-write-test-", dir=d)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise DexumiError(f"output folder {d} is not writable: {exc.strerror or exc}") from None
    return d


def check_space(folder: str | Path, min_free_mb: float) -> float:
    """Free MB; DexumiError when below the threshold."""
    left = free_mb(folder)
    if left < min_free_mb:
        raise DexumiError(
            f"only {left:.0f} MB free in {folder} (need at least {min_free_mb:.0f} MB to record; "
            "free space or use another --out)"
        )
    return left


def is_disk_full(exc: BaseException) -> bool:
    """An ENOSPC/EDQUOT, from the OS or through HDF5's error text."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc).lower()
    return "no space left" in text or "disk quota" in text

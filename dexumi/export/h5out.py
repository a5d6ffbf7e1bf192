"""HDF5 output files that survive a full disk: HDF5 crashes (SIGSEGV) when it closes a file whose writes failed
with ENOSPC, so on a disk-full error the partial file is truncated first (its space is released, HDF5's final
flushes succeed into a file that is discarded anyway) and only then closed."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator
from pathlib import Path

import h5py

from dexumi.errors import is_disk_full
from dexumi.export.pagecache import release


@contextlib.contextmanager
def h5_output(path: str | Path) -> Iterator[h5py.File]:
    p = Path(path)
    f = h5py.File(p, "w", rdcc_nbytes=0)  # no chunk cache: a failed write raises where it happens, not in a
    # dataset's deallocation later ("Exception ignored ..." and then SIGSEGV at close)
    try:
        yield f
    except BaseException as exc:
        if is_disk_full(exc):
            _release(p)
            gc.collect()  # dataset handles of the failed writer go now, while there is room to flush them
            try:
                f.close()
            except Exception:  # noqa: BLE001 - the file is garbage; its removal follows
                pass
            _release(p)
            raise OSError(28, "No space left on device") from None
        f.close()
        raise
    else:
        try:
            f.close()
            release(p)  # written back and out of the page cache: the next episode does not wait on it
        except Exception as exc:
            if is_disk_full(exc):
                _release(p)
                raise OSError(28, "No space left on device") from None
            raise


def _release(p: Path) -> None:
    try:
        os.truncate(p, 0)
    except OSError:
        pass

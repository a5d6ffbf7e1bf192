"""How many leading camera frames of a torn file can be read safely, without asking HDF5.

JPEG frames are variable-length: each row of `jpeg` is a 16-byte reference (length, global-heap collection
address, object index) into a "GCOL" heap collection. When a file ends early (a full disk, a truncated copy),
some references point at collections beyond the end, and HDF5 2.0 parsing such a collection can spin for
ever (in C: no timeout, no Ctrl-C). So for a file that may be torn, the references are read from the raw
chunks and every collection checked to be whole inside the file before HDF5 touches it.
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import h5py
import numpy as np

log = logging.getLogger(__name__)
REF = np.dtype([("len", "<u4"), ("addr", "<u8"), ("idx", "<u4")])


def readable_rows(ds: h5py.Dataset, n: int | None = None) -> int:
    """Leading rows (≤ n) whose references and heap collections lie whole inside the file."""
    n = ds.shape[0] if n is None else min(n, ds.shape[0])
    if n == 0:
        return 0
    if ds.chunks is None or ds.compression is not None or ds.dtype.kind != "O":
        return n
    path = Path(ds.file.filename)
    try:
        size = path.stat().st_size
        rows = ds.chunks[0]
        chunks = {}
        for i in range(ds.id.get_num_chunks()):
            info = ds.id.get_chunk_info(i)
            chunks[info.chunk_offset[0]] = info
    except Exception as exc:  # noqa: BLE001 - a damaged chunk index: nothing is safe
        log.debug("chunk index of %s unreadable: %s", ds.name, exc)
        return 0
    good: dict[int, bool] = {}
    with open(path, "rb") as fh:
        def collection_ok(addr: int) -> bool:
            if addr not in good:
                ok = False
                if addr + 16 <= size:
                    fh.seek(addr)
                    head = fh.read(16)
                    if head[:4] == b"GCOL":
                        col = struct.unpack("<Q", head[8:16])[0]
                        ok = 16 <= col and addr + col <= size
                good[addr] = ok
            return good[addr]

        for start in range(0, n, rows):
            info = chunks.get(start)
            count = min(rows, n - start)
            if info is None or info.byte_offset is None or info.byte_offset + count * REF.itemsize > size:
                return start
            fh.seek(info.byte_offset)
            refs = np.frombuffer(fh.read(count * REF.itemsize), REF)
            if len(refs) < count:
                return start
            for k, ref in enumerate(refs):
                if ref["len"] and not collection_ok(int(ref["addr"])):
                    return start + k
    return n


def _row_readable(ds: h5py.Dataset, i: int) -> bool:
    try:
        ds[i]
        return True
    except Exception:  # noqa: BLE001 - beyond the stored end (a full disk), a torn heap object, ...
        return False


def readable_len(ds: h5py.Dataset, n: int) -> int:
    """The longest prefix (≤ n) whose last row reads: a full disk can leave the file's stored end (EOA)
    before data its index already points at ("actual len exceeds EOA"); rows are written in order, so a
    binary search over the prefix finds where reading stops."""
    n = min(n, ds.shape[0])
    if n == 0 or _row_readable(ds, n - 1):
        return n
    lo, hi = 0, n - 1  # rows [0, lo) read; row hi does not
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _row_readable(ds, mid - 1):
            lo = mid
        else:
            hi = mid - 1
    return lo


def readable_frames(ds: h5py.Dataset, n: int) -> int:
    """The number of leading frames whose bytes can be read."""
    n = readable_rows(ds, n)  # references into heap collections past the end of a torn file are never read
    return readable_len(ds, n)

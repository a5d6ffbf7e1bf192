"""How many leading rows of a torn or interrupted file can be read safely, without asking HDF5.

HDF5 reads nothing past the file's stored end of allocation (EOA, kept in the superblock), which can lie
before the file's size: a writer killed between flushes (SWMR publishes the EOA at each flush) has already
written heap collections and chunks after it, and its published index can point at them ("len not positive
after adjustment for EOA"); a full disk or a truncated copy ends the file before data the index points at.
JPEG frames are variable-length: each row of `jpeg` is a 16-byte reference (length, global-heap collection
address, object index) into a "GCOL" heap collection, and HDF5 2.0 parsing a collection cut by the end of
the file can spin for ever (in C: no timeout, no Ctrl-C). So every chunk, and for variable-length rows every
collection, is checked from the raw file to lie whole before the stored end before HDF5 touches it.
"""

from __future__ import annotations

import logging
import math
import struct
from collections.abc import Iterable
from pathlib import Path

import h5py
import numpy as np

log = logging.getLogger(__name__)
REF = np.dtype([("len", "<u4"), ("addr", "<u8"), ("idx", "<u4")])
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# byte offset of (base address, end-of-file address) in a superblock of each version, 8-byte addresses
_SUPERBLOCK_ADDRESSES = {0: (24, 40), 1: (28, 44), 2: (12, 28), 3: (12, 28)}


def stored_end(path: str | Path) -> int:
    """Bytes of `path` HDF5 will read: the superblock's end-of-allocation address, at most the file's size
    (the size alone when the superblock is not at the start of the file or uses other address sizes)."""
    p = Path(path)
    size = p.stat().st_size
    with open(p, "rb") as fh:
        head = fh.read(64)
    version = head[8] if len(head) > 13 and head[:8] == HDF5_SIGNATURE else None
    where = _SUPERBLOCK_ADDRESSES.get(version) if version is not None else None
    offsets_size = head[13] if version in (0, 1) else head[9] if version is not None else 0
    if where is None or offsets_size != 8 or len(head) < where[1] + 8:
        return size
    base = struct.unpack_from("<Q", head, where[0])[0]
    eoa = struct.unpack_from("<Q", head, where[1])[0]
    return min(size, base + eoa)


def published_end(f: h5py.File) -> int:
    """`stored_end` of an open file. A file this process writes is flushed first: its superblock on disk
    holds the end of allocation of the last flush, and everything written since lies after it."""
    if f.mode != "r":
        f.flush()
    return stored_end(f.filename)


def readable_rows(ds: h5py.Dataset, n: int | None = None, end: int | None = None) -> int:
    """Leading rows (≤ n) whose chunks (every chunk of a row band, where a dataset is chunked across its
    columns too), and for variable-length rows heap collections, lie whole before the file's stored end
    (`end`: that end, if the caller knows it)."""
    n = ds.shape[0] if n is None else min(n, ds.shape[0])
    if n == 0 or ds.chunks is None:
        return n
    try:
        end = published_end(ds.file) if end is None else end
        rows = ds.chunks[0]
        per_band = math.prod(-(-size // c) for size, c in zip(ds.shape[1:], ds.chunks[1:]))
        chunks: dict[int, list] = {}
        for i in range(ds.id.get_num_chunks()):
            info = ds.id.get_chunk_info(i)
            chunks.setdefault(info.chunk_offset[0], []).append(info)
    except Exception as exc:  # noqa: BLE001 - a damaged chunk index: nothing is safe
        log.debug("chunk index of %s unreadable: %s", ds.name, exc)
        return 0
    refs_inline = ds.dtype.kind == "O" and ds.compression is None
    good: dict[int, bool] = {}
    with open(ds.file.filename, "rb") as fh:

        def collection_ok(addr: int) -> bool:
            if addr not in good:
                ok = False
                if addr + 16 <= end:
                    fh.seek(addr)
                    head = fh.read(16)
                    if head[:4] == b"GCOL":
                        col = struct.unpack("<Q", head[8:16])[0]
                        ok = 16 <= col and addr + col <= end
                good[addr] = ok
            return good[addr]

        for start in range(0, n, rows):
            band = chunks.get(start, [])
            if len(band) < per_band or any(c.byte_offset is None or c.byte_offset + c.size > end for c in band):
                return start
            if not refs_inline:
                continue
            info = band[0]  # variable-length rows: one column
            count = min(rows, n - start)
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
    """The longest prefix (≤ n) whose last row reads (the last guard, after `readable_rows`): rows are
    written in order, so a binary search over the prefix finds where reading stops."""
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
    """The number of leading rows whose bytes can be read (chunks and heap collections checked first)."""
    return readable_len(ds, readable_rows(ds, n))


def readable_prefix(group: h5py.Group, columns: Iterable[str], n: int | None = None) -> int:
    """Rows (≤ n) that every one of `columns` present in `group` has and can read: what a recovery copies."""
    present = [c for c in columns if c in group]
    m = min((group[c].shape[0] for c in present), default=0)
    m = m if n is None else min(m, n)
    for c in present:
        m = readable_frames(group[c], m)
    return m

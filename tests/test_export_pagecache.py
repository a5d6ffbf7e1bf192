"""A long export does not leave its output (nor its inputs) in the page cache; what it writes is unchanged."""

from __future__ import annotations

import ctypes
import mmap
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from dexumi.export import ExportOptions, export_paths
from test_validate_util import recorded

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]


def resident_fraction(path: Path) -> float:
    """Share of the file's pages in the page cache (mincore(2) on a read-only mapping; nothing is read)."""
    n = path.stat().st_size
    fd = os.open(path, os.O_RDONLY)
    try:
        addr = libc.mmap(None, n, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        assert addr not in (None, ctypes.c_void_p(-1).value), ctypes.get_errno()
        try:
            pages = -(-n // mmap.PAGESIZE)
            vec = ctypes.create_string_buffer(pages)
            assert libc.mincore(addr, n, vec) == 0, ctypes.get_errno()
            return float(np.frombuffer(vec.raw, np.uint8)[:pages].__and__(1).mean())
        finally:
            libc.munmap(addr, n)
    finally:
        os.close(fd)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return recorded(tmp_path_factory)


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="needs posix_fadvise")
def test_act_output_and_inputs_leave_the_page_cache(folder, tmp_path):
    files = sorted(folder.glob("episode_*.h5"))
    for f in files:  # inputs read into the cache first
        f.read_bytes()
    assert min(resident_fraction(f) for f in files) > 0.9
    export_paths([folder], ExportOptions("act", tmp_path / "act", progress=False))
    out = sorted((tmp_path / "act").glob("episode_*.hdf5"))
    assert len(out) == len(files)
    assert max(resident_fraction(p) for p in out) < 0.2  # written back and dropped
    assert max(resident_fraction(f) for f in files) < 0.2  # read once, dropped
    # what was written is all there: the file reads back whole (from the disk now)
    with h5py.File(out[0], "r") as f:
        imgs = f["observations/images"]
        cam = sorted(imgs)[0]
        assert imgs[cam].shape[0] == f["action"].shape[0] and imgs[cam][:].any()

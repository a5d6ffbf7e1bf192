"""Extendible HDF5 datasets: the writer's appended streams (`Column`) and the aligned views made at finalising
(`create_extendible`), both with a chunk cache that holds only the chunk being filled."""

from __future__ import annotations

import h5py
import numpy as np


def one_chunk_cache(chunks: tuple[int, ...], dtype: str | np.dtype) -> dict[str, float | int]:
    """Dataset-access settings for a dataset filled from the front: room for one chunk (none for
    variable-length rows, which keep the file's cache).

    HDF5's chunk cache is per dataset and keeps finished chunks until it is full. With the file's 4 MB a
    1 kHz stream of 8-byte values fills it over ~8 minutes: a recorder's memory climbed ~5 MB/min for the
    first half hour of an episode, which looked like a leak. Variable-length rows (JPEG frames) must stay
    cached whole: with a one-chunk cache every frame written re-read its chunk's frames, writing fell behind and
    the frames queued in the recorder (+377 MB/min)."""
    dt = np.dtype(dtype)
    if h5py.check_vlen_dtype(dt) is not None:
        return {}
    nbytes = int(np.prod(chunks)) * dt.itemsize
    return {"rdcc_nbytes": nbytes + 1, "rdcc_nslots": 101, "rdcc_w0": 1.0}


def create_extendible(
    group: h5py.Group, name: str, dtype: str | np.dtype, width: int | None = None, chunk: int = 4096, **attrs: object
) -> h5py.Dataset:
    """An empty (0,) or (0, width) dataset growing along axis 0 in `chunk`-row chunks; `attrs` set on it."""
    shape = (0,) if width is None else (0, width)
    maxshape = (None,) if width is None else (None, width)
    chunks = (chunk,) if width is None else (chunk, max(1, width))
    ds = group.create_dataset(
        name, shape, maxshape=maxshape, dtype=dtype, chunks=chunks, **one_chunk_cache(chunks, dtype)
    )
    for k, v in attrs.items():
        ds.attrs[k] = v
    return ds


class Column:
    """An extendible 1-D or 2-D dataset appended in blocks."""

    def __init__(
        self, group: h5py.Group, name: str, dtype: str | np.dtype, width: int | None, chunk: int, unit: str = ""
    ) -> None:
        self.ds = create_extendible(group, name, dtype, width, chunk, **({"unit": unit} if unit else {}))
        self.n = 0

    def append(self, values: np.ndarray) -> None:
        k = len(values)
        if k == 0:
            return
        self.ds.resize(self.n + k, axis=0)
        self.ds[self.n : self.n + k] = values
        self.n += k

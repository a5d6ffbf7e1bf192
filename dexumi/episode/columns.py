"""An extendible HDF5 column appended in blocks (the writer's raw streams and extra streams)."""

from __future__ import annotations

import h5py
import numpy as np


class Column:
    """An extendible 1-D or 2-D dataset appended in blocks."""

    def __init__(self, group: h5py.Group, name: str, dtype: str | np.dtype, width: int | None, chunk: int,
                 unit: str = "") -> None:
        shape = (0,) if width is None else (0, width)
        maxshape = (None,) if width is None else (None, width)
        chunks = (chunk,) if width is None else (chunk, max(1, width))
        self.ds = group.create_dataset(name, shape, maxshape=maxshape, dtype=dtype, chunks=chunks)
        if unit:
            self.ds.attrs["unit"] = unit
        self.n = 0

    def append(self, values: np.ndarray) -> None:
        k = len(values)
        if k == 0:
            return
        self.ds.resize(self.n + k, axis=0)
        self.ds[self.n:self.n + k] = values
        self.n += k

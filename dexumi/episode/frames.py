"""Camera frames of one stream in an HDF5 group: the camera's own JPEG bytes, appended as they arrive.

Layout of `<parent>/<name>/` (created once, at construction; nothing is created later, so the file can be
written in SWMR mode and read while it grows):

| dataset       | dtype             | shape | meaning                                                   |
|---------------|-------------------|-------|-----------------------------------------------------------|
| `jpeg`        | vlen uint8        | (T,)  | frame t's JPEG bytes, exactly as the camera sent them     |
| `grab_time`   | float64           | (T,)  | host monotonic time the frame was grabbed (s)             |
| `mapped_time` | float64           | (T,)  | the frame's time on the recording clock (grab − latency)  |
| `index`       | int64             | (T,)  | the source's frame counter: a jump of n = n frames lost   |

Group attributes: `layout` = "dexumi-camera-frames", `version` = 1, `camera`, `width`, `height`,
`encoding` = "jpeg". All datasets are chunked along T and resizable (maxshape None). Rows are appended in
small batches (`batch_frames`, or sooner when `batch_bytes` of JPEG are pending, or on `flush()`), so memory
stays bounded; the `jpeg` dataset is grown first and `index` last, so a reader that sees a row in `index`
sees it everywhere — `frame_count(group)` is the number of complete rows.
"""

from __future__ import annotations

import logging

import cv2
import h5py
import numpy as np

from dexumi.episode.columns import create_extendible
from dexumi.errors import DexumiError
from dexumi.jpeg import decode_jpeg as decode_jpeg  # re-exported: frames are decoded from here
from dexumi.types import CameraFrame
from dexumi.vocab import FrameEncoding

log = logging.getLogger(__name__)

LAYOUT = "dexumi-camera-frames"
VERSION = 1
JPEG_DTYPE = h5py.vlen_dtype(np.uint8)
_COLUMNS = (("grab_time", "<f8"), ("mapped_time", "<f8"), ("index", "<i8"))


class CameraFrameStore:
    """Appends one camera's frames to `group[name]` (created if absent, continued if it exists)."""

    def __init__(
        self,
        group: h5py.Group,
        name: str,
        width: int,
        height: int,
        encoding: str = "jpeg",
        batch_frames: int = 16,
        batch_bytes: int = 4 << 20,
        chunk_frames: int = 64,
        reencode_quality: int = 90,
    ) -> None:
        if encoding != FrameEncoding.JPEG:
            raise DexumiError(f"camera store {name}: frames are stored as JPEG, not {encoding!r}")
        self.name = name
        self.batch_frames, self.batch_bytes = batch_frames, batch_bytes
        self.reencode_quality = reencode_quality
        if name in group:
            g = group[name]
            if g.attrs.get("layout") != LAYOUT:
                raise DexumiError(f"{g.name} exists and is not a camera frame group")
        else:
            g = group.create_group(name)
            g.attrs.update(
                {
                    "layout": LAYOUT,
                    "version": VERSION,
                    "camera": name,
                    "width": int(width),
                    "height": int(height),
                    "encoding": "jpeg",
                }
            )
            create_extendible(g, "jpeg", JPEG_DTYPE, None, chunk_frames)
            for col, dtype in _COLUMNS:
                create_extendible(g, col, dtype, None, max(1024, chunk_frames))
        self.group = g
        self._jpeg = g["jpeg"]
        self._cols = {col: g[col] for col, _ in _COLUMNS}
        self.written = frame_count(g)
        self._pending: list[np.ndarray] = []
        self._pending_cols: dict[str, list] = {col: [] for col, _ in _COLUMNS}
        self._pending_bytes = 0
        self._warned_reencode = False

    @property
    def count(self) -> int:
        """Frames appended so far (written or still pending)."""
        return self.written + len(self._pending)

    def append(self, frames: list[CameraFrame], mapped_times: np.ndarray | list[float]) -> None:
        """Frames in arrival order, with their times on the recording clock."""
        mapped = np.asarray(mapped_times, dtype=np.float64).reshape(-1)
        if len(mapped) != len(frames):
            raise ValueError(f"{len(frames)} frames but {len(mapped)} mapped times")
        for frame, t in zip(frames, mapped):
            data = self._jpeg_bytes(frame)
            self._pending.append(np.frombuffer(data, np.uint8))
            self._pending_cols["grab_time"].append(frame.grab_time)
            self._pending_cols["mapped_time"].append(t)
            self._pending_cols["index"].append(frame.index)
            self._pending_bytes += len(data)
            if len(self._pending) >= self.batch_frames or self._pending_bytes >= self.batch_bytes:
                self._write()

    def append_rows(
        self, jpegs: list[np.ndarray] | np.ndarray, grab_time: np.ndarray, mapped_time: np.ndarray, index: np.ndarray
    ) -> None:
        """Rows already stored elsewhere (e.g. copied from an interrupted file), written at once."""
        self._write()
        for blob, g, m, i in zip(jpegs, grab_time, mapped_time, index):
            self._pending.append(np.asarray(blob, np.uint8))
            self._pending_cols["grab_time"].append(g)
            self._pending_cols["mapped_time"].append(m)
            self._pending_cols["index"].append(i)
        self._write()

    def _jpeg_bytes(self, frame: CameraFrame) -> bytes:
        if frame.encoding == FrameEncoding.JPEG:
            return frame.data if isinstance(frame.data, bytes) else bytes(frame.data)
        if not self._warned_reencode:
            log.warning("camera %s delivers decoded images: encoding them as JPEG (no pass-through)", self.name)
            self._warned_reencode = True
        ok, buf = cv2.imencode(".jpg", np.asarray(frame.data), [cv2.IMWRITE_JPEG_QUALITY, self.reencode_quality])
        if not ok:
            raise DexumiError(f"camera {self.name}: could not encode frame {frame.index} as JPEG")
        return buf.tobytes()

    def _write(self) -> None:
        n = len(self._pending)
        if not n:
            return
        a, b = self.written, self.written + n
        self._jpeg.resize((b,))
        # one by one: h5py turns a slice of equal-length frames into a 2-D array and refuses it
        for i, blob in enumerate(self._pending):
            self._jpeg[a + i] = blob
        for col, _ in _COLUMNS:  # `index` last: a row is complete when it shows there
            ds = self._cols[col]
            ds.resize((b,))
            ds[a:b] = np.asarray(self._pending_cols[col], dtype=ds.dtype)
            self._pending_cols[col].clear()
        self._pending.clear()
        self._pending_bytes = 0
        self.written = b

    def flush(self) -> None:
        """Write pending rows and flush the datasets (what a SWMR reader sees after `refresh()`)."""
        self._write()
        self._jpeg.flush()
        for ds in self._cols.values():
            ds.flush()


# ----------------------------------------------------------------------------------------------- reading


def frame_count(group: h5py.Group) -> int:
    """Complete rows of a camera frame group (all datasets have them)."""
    return min(len(group["jpeg"]), *(len(group[c]) for c, _ in _COLUMNS))


def read_jpeg(group: h5py.Group, i: int) -> bytes:
    """Frame i's JPEG bytes, exactly as stored."""
    return group["jpeg"][i].tobytes()


def read_frame(group: h5py.Group, i: int, reduce: int = 1) -> np.ndarray:
    """Frame i decoded (lazily, only this one)."""
    return decode_jpeg(group["jpeg"][i], reduce)


class LazyFrames:
    """Sequence view of a camera group: `frames[i]` decodes frame i on access; `len()` = complete rows."""

    def __init__(self, group: h5py.Group, reduce: int = 1) -> None:
        self.group, self.reduce = group, reduce

    def __len__(self) -> int:
        return frame_count(self.group)

    def __getitem__(self, i: int) -> np.ndarray:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(i)
        return read_frame(self.group, i % n, self.reduce)

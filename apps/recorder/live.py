"""The live-data buffer between the session process (writer) and the recorder GUI (reader).

One `multiprocessing.shared_memory` block, one writer, any number of readers, no locks, nothing that can
block the writer: a frozen or crashed GUI cannot slow capture down.

Layout (little-endian):
- header: magic, version, joint columns C (exoskeleton), R (robot), ring rows N, cameras K, camera slot
  bytes, status slot bytes, and `head` (rows written so far, u64).
- ring: N rows of float64 [t, exo[C], robot[R]] (decimated to the display rate); row i lives at i % N.
- K camera slots: [seq u64, index i64, time f64, length u64, JPEG bytes...] — the newest frame of each camera.
- status slot: [seq u64, length u64, JSON bytes...] — the newest status snapshot.
- P pose rings (one per pose source): [head u64, padding to 64 bytes], then M rows of float64
  [host_time, x, y, z, qx, qy, qz, qw, state] (decimated to <= 100 poses/s; NaN position while lost).
Slots use a sequence lock: the writer makes `seq` odd while writing and even when done; a reader copies and
keeps the copy only if `seq` was even and unchanged.
"""

from __future__ import annotations

import json
import logging
import struct
from dataclasses import dataclass
from multiprocessing import resource_tracker, shared_memory

import numpy as np

log = logging.getLogger(__name__)

MAGIC = 0x44585256  # "DXRV"
VERSION = 2
_HEADER = struct.Struct("<IIIIIIQQII")  # magic version C R N K cam_bytes status_bytes P M
HEADER_BYTES = 64  # header struct, then `head` at offset 48
POSE_COLS = 9  # host_time, position (3), orientation x y z w (4), state
_HEAD_OFF = 48
_SLOT_HDR = 32  # seq, index, time, length


@dataclass(frozen=True)
class LiveLayout:
    """Sizes of the buffer's parts; `offsets` are computed from them."""

    exo: int
    robot: int
    rows: int = 2048
    cameras: int = 2
    camera_bytes: int = 1 << 20
    status_bytes: int = 1 << 16
    poses: int = 0
    pose_rows: int = 2048  # > 15 s at 100 poses/s plus the reader's margin

    @property
    def cols(self) -> int:
        return 1 + self.exo + self.robot

    @property
    def ring_off(self) -> int:
        return HEADER_BYTES

    @property
    def cam_off(self) -> int:
        return self.ring_off + self.rows * self.cols * 8

    def cam_slot(self, k: int) -> int:
        return self.cam_off + k * (_SLOT_HDR + self.camera_bytes)

    @property
    def status_off(self) -> int:
        return self.cam_slot(self.cameras)

    def pose_off(self, k: int) -> int:
        """Pose ring k: its 64-byte header (head), then its rows (the first ring 64-byte aligned)."""
        base = -(-(self.status_off + _SLOT_HDR + self.status_bytes) // 64) * 64
        return base + k * (HEADER_BYTES + self.pose_rows * POSE_COLS * 8)

    @property
    def size(self) -> int:
        return self.pose_off(self.poses)


class _Ring:
    """A ring of float64 rows in the block, with its row count `head` (u64) at `head_off`."""

    def __init__(self, buf, head_off: int, rows_off: int, rows: int, cols: int) -> None:
        self.n = rows
        self._head = np.ndarray((1,), np.uint64, buf, head_off)
        self.rows = np.ndarray((rows, cols), np.float64, buf, rows_off)

    @property
    def head(self) -> int:
        return int(self._head[0])

    def append(self, rows: np.ndarray) -> None:
        """Append (n, cols) rows (only the last `n` fit; the head still counts every row)."""
        rows = np.asarray(rows, np.float64)
        head = self.head
        if len(rows) > self.n:
            head += len(rows) - self.n
            rows = rows[-self.n :]
        for r in rows:  # a handful per call at display rate
            self.rows[head % self.n] = r
            head += 1
        self._head[0] = head

    def since(self, start: int) -> tuple[np.ndarray, int]:
        """Rows written since row number `start` (at most the capacity less a margin), and the new head."""
        n = self.n
        head = self.head
        start = max(start, head - n + min(64, n - 1))
        if start >= head:
            return np.empty((0, self.rows.shape[1])), head
        out = self.rows[np.arange(start, head) % n].copy()
        overwritten = self.head - n - start  # rows the writer lapped while we copied
        if overwritten > 0:
            out = out[overwritten:]
        return out, head

    def release(self) -> None:
        self._head = self.rows = None  # type: ignore[assignment]


def _rings(buf, layout: LiveLayout) -> list[_Ring]:
    """The joint ring, then one ring per pose source."""
    out = [_Ring(buf, _HEAD_OFF, layout.ring_off, layout.rows, layout.cols)]
    for k in range(layout.poses):
        off = layout.pose_off(k)
        out.append(_Ring(buf, off, off + HEADER_BYTES, layout.pose_rows, POSE_COLS))
    return out


class LiveWriter:
    """The session process's side: creates the block, unlinks it on `close()`."""

    def __init__(self, layout: LiveLayout) -> None:
        self.layout = layout
        self.shm = shared_memory.SharedMemory(create=True, size=layout.size)
        self.name = self.shm.name
        buf = self.shm.buf
        _HEADER.pack_into(
            buf,
            0,
            MAGIC,
            VERSION,
            layout.exo,
            layout.robot,
            layout.rows,
            layout.cameras,
            layout.camera_bytes,
            layout.status_bytes,
            layout.poses,
            layout.pose_rows,
        )
        self._rings = _rings(buf, layout)
        self.too_big = 0  # camera frames larger than a slot (not shown)

    def append_rows(self, rows: np.ndarray) -> None:
        """Append (n, cols) rows to the joint ring (only the last `rows` if more)."""
        self._rings[0].append(rows)

    def append_poses(self, k: int, rows: np.ndarray) -> None:
        """Append (n, POSE_COLS) rows to pose source k's ring."""
        self._rings[1 + k].append(rows)

    def _slot(self, off: int, index: int, t: float, payload: bytes, limit: int) -> bool:
        if len(payload) > limit:
            self.too_big += 1
            return False
        hdr = np.ndarray((4,), np.uint64, self.shm.buf, off)
        seq = int(hdr[0])
        hdr[0] = seq + 1  # odd: being written
        struct.pack_into("<qdQ", self.shm.buf, off + 8, int(index), float(t), len(payload))
        self.shm.buf[off + _SLOT_HDR : off + _SLOT_HDR + len(payload)] = payload
        hdr[0] = seq + 2
        return True

    def put_frame(self, k: int, index: int, t: float, jpeg: bytes) -> bool:
        return self._slot(self.layout.cam_slot(k), index, t, jpeg, self.layout.camera_bytes)

    def put_status(self, status: dict) -> None:
        self._slot(self.layout.status_off, 0, 0.0, json.dumps(status, default=str).encode(), self.layout.status_bytes)

    def close(self) -> None:
        for ring in self._rings:
            ring.release()
        try:
            self.shm.close()
            self.shm.unlink()
        except (FileNotFoundError, BufferError) as exc:
            log.debug("live buffer close: %s", exc)


@dataclass
class LiveFrame:
    index: int
    time: float
    jpeg: bytes
    seq: int


class LiveReader:
    """The GUI's side: attaches to the block by name (never unlinks it)."""

    def __init__(self, name: str, untrack: bool = True) -> None:
        self.shm = shared_memory.SharedMemory(name=name)
        if untrack:  # Python < 3.13 registers attached blocks too and would unlink them when the GUI exits
            try:
                resource_tracker.unregister(self.shm._name, "shared_memory")  # type: ignore[attr-defined]
            except Exception:  # noqa: BLE001 - best effort
                pass
        magic, version = struct.unpack_from("<II", self.shm.buf, 0)
        if magic != MAGIC or version != VERSION:
            raise ValueError(f"live buffer {name}: not a dexumi live buffer (version {version})")
        _, _, c, r, n, k, cam_bytes, status_bytes, p, m = _HEADER.unpack_from(self.shm.buf, 0)
        self.layout = LiveLayout(c, r, n, k, cam_bytes, status_bytes, p, m)
        self._rings = _rings(self.shm.buf, self.layout)
        self._seen: dict[int, int] = {}  # slot offset → last seq read

    @property
    def head(self) -> int:
        return self._rings[0].head

    def rows_since(self, start: int) -> tuple[np.ndarray, int]:
        """Joint rows written since row number `start` (at most the ring's capacity less a margin), and the new
        head."""
        return self._rings[0].since(start)

    def pose_head(self, k: int) -> int:
        return self._rings[1 + k].head

    def poses_since(self, k: int, start: int) -> tuple[np.ndarray, int]:
        """Pose source k's rows [host_time, x, y, z, qx, qy, qz, qw, state] since row number `start`, and the
        new head."""
        return self._rings[1 + k].since(start)

    def _slot(self, off: int, limit: int, force: bool = False) -> tuple[int, float, bytes, int] | None:
        hdr = np.ndarray((4,), np.uint64, self.shm.buf, off)
        for _ in range(3):
            seq = int(hdr[0])
            if seq == 0 or seq % 2 or (not force and self._seen.get(off) == seq):
                return None
            index, t, length = struct.unpack_from("<qdQ", self.shm.buf, off + 8)
            data = bytes(self.shm.buf[off + _SLOT_HDR : off + _SLOT_HDR + min(int(length), limit)])
            if int(hdr[0]) == seq:
                self._seen[off] = seq
                return index, t, data, seq
        return None

    def frame(self, k: int) -> LiveFrame | None:
        """Camera k's newest frame if it changed since the last call, else None."""
        got = self._slot(self.layout.cam_slot(k), self.layout.camera_bytes)
        return None if got is None else LiveFrame(got[0], got[1], got[2], got[3])

    def status(self, force: bool = False) -> dict | None:
        """The newest status snapshot if it changed since the last call (or always with `force`), else None."""
        got = self._slot(self.layout.status_off, self.layout.status_bytes, force)
        if got is None:
            return None
        try:
            return json.loads(got[2].decode())
        except ValueError:
            return None

    def close(self) -> None:
        for ring in self._rings:
            ring.release()
        try:
            self.shm.close()
        except BufferError:
            pass

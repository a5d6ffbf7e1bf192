"""`pose:record3d[:DEVICE]` — an iPhone / iPad running Record3D over USB: ARKit's camera pose (DexUMI's path).

Uses the `record3d` package's API: `Record3DStream.get_connected_devices()` (each with `product_id`, `udid`),
`Record3DStream()` with callbacks `on_new_frame` / `on_stream_stopped`, `connect(device)`, `get_camera_pose()`
(fields `qx, qy, qz, qw, tx, ty, tz`: the camera in ARKit's world, metres, quaternion scalar last) and
`disconnect()`. DEVICE is the device's index in that list (default 0) or its `udid`.

Record3D's Python API hands over no frame timestamp, so the device time is the callback's arrival time on
the host (`counts_samples` False, index = frames since connect); its constant latency is the pose stream's
calibrated latency (the hand-eye step measures it). A pose that is exactly the identity at the origin is
ARKit before it has started tracking: LOST. `on_stream_stopped` (the app closed, the cable pulled) raises
`PoseLost` on the next read, and `reconnect()` looks for the device again.
"""

from __future__ import annotations

import queue
import time
from typing import NoReturn

import numpy as np

from dexumi.devices.pose.base import LOST, TRACKING, PoseLost, PoseSample, PoseSource
from dexumi.devices.pose.clock import PoseClock
from dexumi.errors import DexumiError


def _module():
    try:
        import record3d
    except ImportError:
        raise DexumiError("pose:record3d needs the record3d package: pip install record3d") from None
    return record3d


def list_devices() -> list[dict]:
    """Connected Record3D devices (empty without the package)."""
    try:
        rec = _module()
    except DexumiError:
        return []
    return [
        {
            "spec": f"pose:record3d:{i}",
            "udid": str(getattr(d, "udid", "")),
            "product_id": int(getattr(d, "product_id", 0)),
        }
        for i, d in enumerate(rec.Record3DStream.get_connected_devices())
    ]


class Record3DPose(PoseSource):
    counts_samples = False

    def __init__(self, device: str = "0", name: str | None = None, spec: str | None = None) -> None:
        super().__init__(name or "record3d", spec or f"pose:record3d:{device}")
        self.device = device
        self.rate_hz = 60.0
        self.clock = PoseClock()
        self._stream = None
        self._q: queue.Queue = queue.Queue(maxsize=1000)
        self._stopped = False
        self._count = 0
        self.overflows = 0

    def _find(self, rec):
        devs = list(rec.Record3DStream.get_connected_devices())
        if not devs:
            raise DexumiError(f"{self.spec}: no Record3D device connected (is the app streaming over USB?)")
        if self.device.isdigit() and int(self.device) < len(devs):
            return devs[int(self.device)]
        for d in devs:
            if str(getattr(d, "udid", "")) == self.device:
                return d
        raise DexumiError(f"{self.spec}: no device {self.device!r} among {len(devs)} connected")

    def open(self) -> Record3DPose:
        if self.opened:
            return self
        rec = _module()
        dev = self._find(rec)
        s = rec.Record3DStream()
        s.on_new_frame = self._on_frame
        s.on_stream_stopped = self._on_stopped
        self._stopped, self._count = False, 0
        self._q = queue.Queue(maxsize=1000)
        self.clock = PoseClock()
        if not s.connect(dev):
            raise DexumiError(f"{self.spec}: could not connect to the device (another program using it?)")
        self._stream = s
        self.opened = True
        return self

    def _on_frame(self) -> None:  # Record3D's thread
        now = time.monotonic()
        p = self._stream.get_camera_pose() if self._stream is not None else None
        if p is None:
            return
        pos = np.array([p.tx, p.ty, p.tz], np.float64)
        quat = np.array([p.qx, p.qy, p.qz, p.qw], np.float64)
        n = np.linalg.norm(quat)
        lost = not (np.isfinite(pos).all() and np.isfinite(quat).all() and n > 0.5) or (
            not pos.any() and abs(quat[3]) == 1.0
        )
        mapped = self.clock.add(now, now)
        if lost:
            sample = PoseSample(self._count, now, now, np.full(3, np.nan), np.full(4, np.nan), LOST, 0.0, mapped)
        else:
            sample = PoseSample(self._count, now, now, pos, quat / n, TRACKING, 1.0, mapped)
        self._count += 1
        try:
            self._q.put_nowait(sample)
        except queue.Full:
            self.overflows += 1

    def _on_stopped(self) -> None:
        self._stopped = True

    def read(self, timeout: float | None = 1.0) -> PoseSample | None:
        if not self.opened:
            raise DexumiError(f"pose source {self.spec!r} is not open")
        try:
            return (
                self._q.get(timeout=0 if self._stopped else timeout)
                if not (self._stopped and self._q.empty())
                else self._raise()
            )
        except queue.Empty:
            return None

    def _raise(self) -> NoReturn:
        raise PoseLost(f"{self.spec}: the Record3D stream stopped")

    def close(self) -> None:
        s, self._stream = self._stream, None
        if s is not None:
            try:
                s.disconnect()
            except Exception:  # noqa: BLE001 - the device may already be gone
                pass
        self.opened = False

"""`pose:openvr:SERIAL[:rate=HZ]` — a Vive / lighthouse tracker through SteamVR (`openvr` package).

Uses the OpenVR API: `openvr.init(openvr.VRApplication_Other)` → the VR system; per poll
`getDeviceToAbsoluteTrackingPose(openvr.TrackingUniverseStanding, 0, openvr.k_unMaxTrackedDeviceCount)`, each
pose with `bPoseIsValid`, `eTrackingResult` and `mDeviceToAbsoluteTracking` (3 × 4, row-major: rotation | metres);
the tracker is found by `getStringTrackedDeviceProperty(i, openvr.Prop_SerialNumber_String)`; `openvr.shutdown()`.
A thread polls at `rate` (default 200 Hz). OpenVR gives the pose for "now" (0 s prediction), so the device time
is the poll's host time (`counts_samples` False). Not valid → LOST; valid but not `TrackingResult_Running_OK` →
LIMITED. The tracker disconnecting (`isTrackedDeviceConnected` false) raises `PoseLost`; `reconnect()` finds it
again by serial.
"""

from __future__ import annotations

import queue
import threading
import time
from types import ModuleType
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

from dexumi.devices.pose.base import LIMITED, LOST, TRACKING, PoseLost, PoseSample, PoseSource
from dexumi.devices.pose.clock import PoseClock
from dexumi.errors import DexumiError


def _module() -> ModuleType:
    try:
        import openvr
    except ImportError:
        raise DexumiError("pose:openvr needs the openvr package and SteamVR: pip install openvr") from None
    return openvr


def matrix34(m) -> np.ndarray:
    """An `HmdMatrix34_t` (indexable m[row][col]) → 4×4."""
    T = np.eye(4)
    for i in range(3):
        for j in range(4):
            T[i, j] = float(m[i][j])
    return T


class OpenVRPose(PoseSource):
    counts_samples = False

    def __init__(self, serial: str, rate: float = 200.0, name: str | None = None, spec: str | None = None) -> None:
        super().__init__(name or f"vive-{serial}", spec or f"pose:openvr:{serial}")
        self.serial = serial
        self.rate_hz = rate
        self.clock = PoseClock()
        self._vr: Any = None  # the `openvr.IVRSystem` (the package ships no types)
        self._ovr: ModuleType | None = None
        self._index: int | None = None
        self._q: queue.Queue = queue.Queue(maxsize=4000)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lost: str | None = None
        self._count = 0

    def _find(self) -> int:
        ovr, vr = self._ovr, self._vr
        assert ovr is not None, "open() loads the openvr module first"
        for i in range(int(ovr.k_unMaxTrackedDeviceCount)):
            if not vr.isTrackedDeviceConnected(i):
                continue
            try:
                s = vr.getStringTrackedDeviceProperty(i, ovr.Prop_SerialNumber_String)
            except Exception:  # noqa: BLE001 - a device without the property
                continue
            if str(s) == self.serial:
                return i
        raise DexumiError(
            f"{self.spec}: no tracked device with serial {self.serial!r} (is SteamVR running and the tracker on?)"
        )

    def open(self) -> OpenVRPose:
        if self.opened:
            return self
        ovr = self._ovr = _module()
        try:
            self._vr = ovr.init(ovr.VRApplication_Other)
        except Exception as exc:  # noqa: BLE001 - openvr raises its own error types
            raise DexumiError(f"{self.spec}: SteamVR not available ({exc})") from None
        try:
            self._index = self._find()
        except DexumiError:
            ovr.shutdown()
            raise
        self.clock, self._lost, self._count = PoseClock(), None, 0
        self._q = queue.Queue(maxsize=4000)
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, name=f"pose-openvr-{self.serial}", daemon=True)
        self.opened = True
        self._thread.start()
        return self

    def _poll(self) -> None:
        ovr, vr, rate = self._ovr, self._vr, self.rate_hz
        assert ovr is not None and rate is not None, "open() loads the module; __init__ sets the rate"
        period = 1.0 / rate
        nxt = time.monotonic()
        while not self._stop.is_set():
            nxt += period
            self._stop.wait(max(0.0, nxt - time.monotonic()))
            if not vr.isTrackedDeviceConnected(self._index):
                self._lost = f"{self.spec}: the tracker disconnected"
                return
            poses = vr.getDeviceToAbsoluteTrackingPose(ovr.TrackingUniverseStanding, 0, ovr.k_unMaxTrackedDeviceCount)
            now = time.monotonic()
            p = poses[self._index]
            mapped = self.clock.add(now, now)
            if not p.bPoseIsValid:
                s = PoseSample(self._count, now, now, np.full(3, np.nan), np.full(4, np.nan), LOST, 0.0, mapped)
            else:
                T = matrix34(p.mDeviceToAbsoluteTracking)
                ok = p.eTrackingResult == ovr.TrackingResult_Running_OK
                s = PoseSample(
                    self._count,
                    now,
                    now,
                    T[:3, 3],
                    Rotation.from_matrix(T[:3, :3]).as_quat(),
                    TRACKING if ok else LIMITED,
                    1.0 if ok else 0.5,
                    mapped,
                )
            self._count += 1
            try:
                self._q.put_nowait(s)
            except queue.Full:
                pass

    def read(self, timeout: float | None = 1.0) -> PoseSample | None:
        if not self.opened:
            raise DexumiError(f"pose source {self.spec!r} is not open")
        if self._lost is not None and self._q.empty():
            raise PoseLost(self._lost)
        try:
            return self._q.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        if self._vr is not None:
            assert self._ovr is not None  # open() loads the module before it gets the VR system
            try:
                self._ovr.shutdown()
            except Exception:  # noqa: BLE001
                pass
            self._vr = None
        self.opened = False

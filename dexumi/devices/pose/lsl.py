"""`pose:lsl:NAME` — a wrist pose published on Lab Streaming Layer (OptiTrack, Vicon, Quest apps, ...).

The stream's channels, by label when the outlet names them (case-insensitive), else by position:

    x, y, z, qx, qy, qz, qw [, state] [, quality] [, seq]

position in metres, quaternion scalar last; `state` 0 tracking / 1 limited / 2 lost; a NaN position or
quaternion is a lost sample too. `quality` 0..1; `seq` a sample counter (then drops are counted exactly).
Labels `qw, qx, qy, qz` in that order (scalar first, as some mocap SDKs publish) are reordered by name.

The inlet is dexumi's LSL inlet (`dexumi.devices.lsl.LslInletStream`, mne-lsl with its own liblsl): each
sample's LSL timestamp + time correction is its device time, its pull time (minus LSL's transport floor)
the host time, and the device → host mapping the same lower-envelope clock fit as the encoder's.
"""

from __future__ import annotations

import collections
import math
import time
from typing import TYPE_CHECKING

import numpy as np

from dexumi.devices.pose.base import LIMITED, LOST, TRACKING, PoseLost, PoseSample, PoseSource
from dexumi.devices.pose.clock import PoseClock
from dexumi.errors import DexumiError

if TYPE_CHECKING:
    from dexumi.devices.lsl import LslInletStream

POSE_CHANNELS = ("x", "y", "z", "qx", "qy", "qz", "qw")
OPTIONAL = ("state", "quality", "seq")


def channel_map(labels: list[str], n: int) -> dict[str, int]:
    """Channel index of each field: by label when all 7 pose labels are there, else by position."""
    low = [str(x).strip().lower() for x in labels]
    if all(c in low for c in POSE_CHANNELS):
        return {c: low.index(c) for c in (*POSE_CHANNELS, *OPTIONAL) if c in low}
    if n < 7:
        raise DexumiError(f"pose:lsl: the stream has {n} channels; a pose needs 7 (x, y, z, qx, qy, qz, qw)")
    return {c: i for i, c in enumerate((*POSE_CHANNELS, *OPTIONAL)[: min(n, 10)])}


class LslPose(PoseSource):
    """Resolves the LSL stream NAME on open (within `resolve_timeout_s`)."""

    def __init__(
        self, stream: str, name: str | None = None, spec: str | None = None, resolve_timeout_s: float = 5.0
    ) -> None:
        if not stream:
            raise DexumiError("pose:lsl needs a stream name, e.g. pose:lsl:MocapWrist")
        super().__init__(name or stream, spec or f"pose:lsl:{stream}")
        self.stream = stream
        self.resolve_timeout_s = resolve_timeout_s
        self.inlet: LslInletStream | None = None
        self.clock = PoseClock()  # for status displays (the inlet's own fit maps the samples)
        self.channels: dict[str, int] = {}
        self.counts_samples = False
        self._ready: collections.deque[PoseSample] = collections.deque()

    def open(self) -> LslPose:
        if self.opened:
            return self
        from dexumi.devices.lsl import LslInletStream

        inlet = LslInletStream(f"lsl:{self.stream}", self.resolve_timeout_s)
        inlet.start()
        labels = list(inlet.channel_names)
        try:  # the resolved info lacks the outlet's description: the inlet's full info has the labels
            labels = list(inlet.inlet.get_sinfo(timeout=self.resolve_timeout_s).get_channel_names() or labels)
        except Exception:  # noqa: BLE001 - optional metadata: positional channels then
            pass
        try:
            self.channels = channel_map([x or "" for x in labels], inlet.channels)
        except DexumiError:
            inlet.close()
            raise
        self.inlet = inlet
        self.counts_samples = "seq" in self.channels
        self.rate_hz = inlet.nominal_rate_hz or None
        self.clock = PoseClock()
        self._ready.clear()
        self.opened = True
        return self

    def _convert(self, batch) -> None:
        ch = self.channels
        v = batch.values
        pos = v[:, [ch["x"], ch["y"], ch["z"]]]
        quat = v[:, [ch["qx"], ch["qy"], ch["qz"], ch["qw"]]]
        for i in range(len(v)):
            p, q = pos[i].copy(), quat[i].copy()
            state = int(v[i, ch["state"]]) if "state" in ch and math.isfinite(v[i, ch["state"]]) else TRACKING
            nq = float(np.linalg.norm(q))
            if state not in (TRACKING, LIMITED) or not (np.isfinite(p).all() and np.isfinite(q).all()) or nq < 1e-6:
                state, p, q = LOST, np.full(3, np.nan), np.full(4, np.nan)
            else:
                q /= nq
            quality = float(v[i, ch["quality"]]) if "quality" in ch else (0.0 if state == LOST else 1.0)
            seq = int(v[i, ch["seq"]]) if "seq" in ch and math.isfinite(v[i, ch["seq"]]) else -1
            dev, host = float(batch.stamp[i]), float(batch.host_time[i])
            self.clock.add(dev, host)
            self._ready.append(PoseSample(seq, dev, host, p, q, state, quality, float(batch.mapped_time[i])))

    def read(self, timeout: float | None = 1.0) -> PoseSample | None:
        if not self.opened or self.inlet is None:
            raise DexumiError(f"pose source {self.spec!r} is not open")
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._ready:
            for b in self.inlet.read():
                self._convert(b)
            if self._ready:
                break
            if not self.inlet.connected:
                raise PoseLost(f"pose:lsl: stream {self.stream!r} disconnected")
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(0.005)
        return self._ready.popleft()

    def close(self) -> None:
        if self.inlet is not None:
            self.inlet.close()
            self.inlet = None
        self._ready.clear()
        self.opened = False

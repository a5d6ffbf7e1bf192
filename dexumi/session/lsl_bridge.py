"""The session's Lab Streaming Layer side: `lsl:NAME` inlets recorded as extra streams, and dexumi's outlets."""

from __future__ import annotations

import logging

import numpy as np

from dexumi.session.config import SessionConfig, StreamStatus

log = logging.getLogger(__name__)


def _since(b, t0: float):
    """The part of an LslBatch that arrived at or after t0 (None if nothing)."""
    from dexumi.devices.lsl import LslBatch

    k = int(np.searchsorted(b.host_time, t0, side="left"))
    if k >= len(b):
        return None
    if k == 0:
        return b
    return LslBatch(b.values[k:], b.stamp[k:], b.host_time[k:], b.mapped_time[k:], b.segment)


class LslBridge:
    def __init__(self, cfg: SessionConfig, devices, joint_names: tuple[str, ...]) -> None:
        from dexumi.devices.lsl import LslInletStream, LslOutlets

        self.inlets = []
        self.outlets = None
        try:
            for spec in cfg.lsl_streams:
                self.inlets.append(LslInletStream(spec).start())
            self._wait_for_data(cfg.device_timeout_s)
            if cfg.lsl_outlets:
                enc = devices.encoder
                self.outlets = LslOutlets(
                    list(joint_names),
                    [c.name for c in devices.cameras],
                    enc.stats().nominal_rate_hz,
                    {c.name: c.fps for c in devices.cameras},
                )
        except BaseException:
            self.close()
            raise

    def _wait_for_data(self, timeout_s: float) -> None:
        """Like the devices: every inlet has delivered before the session is open (else one line)."""
        import time

        from dexumi.errors import DexumiError

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and any(s.last_arrival == -np.inf for s in self.inlets):
            time.sleep(0.02)
        silent = [s.name for s in self.inlets if s.last_arrival == -np.inf]
        if silent:
            raise DexumiError(f"no data within {timeout_s:g} s from: {', '.join(silent)}")

    def layouts(self) -> list:
        from dexumi.episode.extra import ExtraLayout

        return [
            ExtraLayout(s.name, s.channels, list(s.channel_names), s.nominal_rate_hz, "lsl", s.stype)
            for s in self.inlets
        ]

    def poll(self, enc_batches: list, frames: dict, cameras: list) -> dict[str, list]:
        """Read every inlet; push the encoder samples and camera frame indices to the outlets."""
        if self.outlets is not None:
            for b in enc_batches:
                self.outlets.push_encoder(b.angles, b.mapped_time)
            for cam in cameras:
                fr = frames.get(cam.name) or []
                if fr:
                    self.outlets.push_frames(cam.name, np.array([f.index for f in fr]), cam.mapped_times(fr))
        return {s.name: s.read() for s in self.inlets}

    @staticmethod
    def since(batches: list, t0: float) -> list:
        return [x for x in (_since(b, t0) for b in batches) if x is not None]

    def marker(self, text: str) -> None:
        if self.outlets is not None:
            self.outlets.marker(text)

    def statuses(self, now: float) -> list[StreamStatus]:
        out = []
        for s in self.inlets:
            est = s.segments[-1].fit.estimate() if s.segments else None
            out.append(
                StreamStatus(
                    s.name,
                    "lsl",
                    s.connected,
                    s.rate_hz(),
                    s.nominal_rate_hz,
                    s.samples,
                    0,
                    0,
                    0,
                    0,
                    now - s.last_arrival,
                    est.drift_ppm if est else 0.0,
                    est.residual_ms if est else 0.0,
                )
            )
        return out

    def close(self) -> None:
        for s in self.inlets:
            s.close()
        if self.outlets is not None:
            self.outlets.close()
            self.outlets = None

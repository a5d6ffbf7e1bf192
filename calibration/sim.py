"""Simulated devices for calibrating without hardware: the emulator playing the calibration script with
deliberately wrong sensors (offsets, signs, gains a calibration must find), a board-filming camera and a
hand-filming camera with latency."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from calibration.poses import HandPoses
from dexumi.devices.sim import SimDeviceProcess
from dexumi.devices.simexo import SIM_DEVICE_ID, SensorErrors, sim_exoskeleton_args
from dexumi.vocab import Protocol
from firmware_bridge.emulator.motion import CalibrationMotion


@dataclass
class SimRig:
    """What `--sim` starts: the emulator (own process) on the calibration script."""

    poses: HandPoses
    protocol: str = "v1"
    rate_hz: float = 1000.0
    hold_s: float = 1.5
    move_s: float = 0.5
    sweep_s: float = 1.5
    wave_s: float = 6.0
    seed: int = 0
    errors: SensorErrors | None = None
    truth: Path | None = None
    lead_s: float = 1.0  # the script starts this long after the emulator is asked to start
    epoch: float = field(default=0.0, init=False)
    device: SimDeviceProcess | None = field(default=None, init=False)

    @property
    def joints(self) -> int:
        return len(self.poses.joints)

    @property
    def channels(self) -> int:
        return self.joints + 2 if self.protocol == Protocol.LEGACY else self.joints

    def motion(self) -> CalibrationMotion:
        return self.poses.motion(self.hold_s, self.move_s, self.sweep_s, self.wave_s, self.seed)

    def start(self) -> SimRig:
        self.errors = self.errors or SensorErrors.example(self.joints, self.protocol)
        self.epoch = time.monotonic() + self.lead_s
        args: list[object] = [
            "--protocol",
            self.protocol,
            "--channels",
            self.channels,
            "--rate",
            self.rate_hz,
            "--motion",
            self.motion().spec(),
            "--motion-epoch",
            repr(self.epoch),
            "--seed",
            self.seed,
            "--device-id",
            SIM_DEVICE_ID,
            *self.errors.args(),
        ]
        self.device = SimDeviceProcess(*args, truth=self.truth)
        return self

    @property
    def port(self) -> str:
        assert self.device is not None
        return self.device.port

    def segment_window(self, name: str, cycle: int = 0) -> tuple[float, float]:
        """Host times of a script segment (in the given loop of the script)."""
        m = self.motion()
        s = m.segment(name)
        base = self.epoch + cycle * m.duration
        return base + s.start, base + s.end

    def stop(self) -> None:
        if self.device is not None:
            self.device.stop()
            self.device = None


__all__ = ["SIM_DEVICE_ID", "SensorErrors", "SimRig", "sim_exoskeleton_args"]

"""Simulated devices for calibrating without hardware: the emulator playing the calibration script with
deliberately wrong sensors (offsets, signs, gains a calibration must find), a board-filming camera and a
hand-filming camera with latency."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calibration.poses import HandPoses
from dexumi.devices.sim import SimDeviceProcess
from firmware_bridge.emulator.motion import CalibrationMotion

SIM_DEVICE_ID = "SIM-EXO-0001"  # the device id of the simulated exoskeleton (profiles made with --sim carry it)


@dataclass
class SensorErrors:
    """Per-joint sensor mounting errors the emulator applies: sensor = (sign·θ + offset)·gain."""

    offset_deg: list[float]
    sign: list[int]
    gain: list[float]

    @classmethod
    def example(cls, joints: int, protocol: str = "v1", seed: int = 3) -> SensorErrors:
        """Non-trivial errors: offsets of tens of degrees, mixed signs, gains 0.8–1.25 (1 for full-turn
        legacy sensors, whose offsets put the 0/2π wrap point inside the joints' range)."""
        rng = np.random.default_rng(seed)
        sign = [int(s) for s in np.where(np.arange(joints) % 3 == 1, -1, 1)]
        if protocol == "legacy":
            offset = [float(v) for v in rng.uniform(-40.0, -10.0, joints)]
            gain = [1.0] * joints
        else:
            offset = [float(v) for v in rng.uniform(-35.0, 35.0, joints)]
            gain = [float(v) for v in rng.uniform(0.8, 1.25, joints)]
        return cls(offset, sign, gain)

    def args(self) -> list[str]:
        fmt = lambda vals: ",".join(f"{v:.9g}" for v in vals)
        # `--opt=value`: a list starting with a minus sign must not look like an option
        return [f"--sensor-offset-deg={fmt(self.offset_deg)}", f"--sensor-sign={fmt(self.sign)}",
                f"--sensor-gain={fmt(self.gain)}"]

    def expected(self, resolution_bits: int = 24, protocol: str = "v1") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(zero_rad, sign, scale) a perfect calibration recovers for these errors."""
        s = np.asarray(self.sign, float)
        g = np.asarray(self.gain, float)
        zero = s * np.radians(self.offset_deg)
        per_x = 2 * np.pi if protocol == "legacy" else np.pi / float(1 << (resolution_bits - 1))
        return zero, s, per_x / g


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
        return self.joints + 2 if self.protocol == "legacy" else self.joints

    def motion(self) -> CalibrationMotion:
        return self.poses.motion(self.hold_s, self.move_s, self.sweep_s, self.wave_s, self.seed)

    def start(self) -> SimRig:
        self.errors = self.errors or SensorErrors.example(self.joints, self.protocol)
        self.epoch = time.monotonic() + self.lead_s
        args: list[object] = ["--protocol", self.protocol, "--channels", self.channels, "--rate", self.rate_hz,
                              "--motion", self.motion().spec(), "--motion-epoch", repr(self.epoch),
                              "--seed", self.seed, "--device-id", SIM_DEVICE_ID, *self.errors.args()]
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


def sim_exoskeleton_args(device: dict, channels: int) -> list[str]:
    """Emulator options that simulate the exoskeleton a profile was calibrated on (its `device` section).

    `calibrate --sim` calibrates an emulator with `SensorErrors.example` mounted wrong; recording with that
    profile must simulate the same sensors, or the profile turns correct counts into nonsense angles. A
    profile of a real device cannot describe the simulated one: DexumiError (one line).
    """
    from dexumi.errors import DexumiError

    dev_id = str(device.get("id", ""))
    if dev_id != SIM_DEVICE_ID:
        raise DexumiError(f"the profile was made on device {dev_id or '?'}, not on the simulated exoskeleton "
                          f"({SIM_DEVICE_ID}); with --sim use a profile made by `dexumi calibrate --sim`")
    protocol = str(device.get("protocol", "v1"))
    if protocol != "v1":
        raise DexumiError(f"the profile is for a {protocol} board; --sim records from a simulated v1 board")
    return ["--device-id", SIM_DEVICE_ID, *SensorErrors.example(channels, protocol).args()]

"""The simulated exoskeleton's sensors: mounting errors the emulator applies, and the emulator options that
reproduce the exoskeleton a `calibrate --sim` profile was made on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dexumi.errors import DexumiError
from dexumi.vocab import Protocol

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
        if protocol == Protocol.LEGACY:
            offset = [float(v) for v in rng.uniform(-40.0, -10.0, joints)]
            gain = [1.0] * joints
        else:
            offset = [float(v) for v in rng.uniform(-35.0, 35.0, joints)]
            gain = [float(v) for v in rng.uniform(0.8, 1.25, joints)]
        return cls(offset, sign, gain)

    def args(self) -> list[str]:
        fmt = lambda vals: ",".join(f"{v:.9g}" for v in vals)
        # `--opt=value`: a list starting with a minus sign must not look like an option
        return [
            f"--sensor-offset-deg={fmt(self.offset_deg)}",
            f"--sensor-sign={fmt(self.sign)}",
            f"--sensor-gain={fmt(self.gain)}",
        ]

    def expected(self, resolution_bits: int = 24, protocol: str = "v1") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(zero_rad, sign, scale) a perfect calibration recovers for these errors."""
        s = np.asarray(self.sign, float)
        g = np.asarray(self.gain, float)
        zero = s * np.radians(self.offset_deg)
        per_x = 2 * np.pi if protocol == Protocol.LEGACY else np.pi / float(1 << (resolution_bits - 1))
        return zero, s, per_x / g


def sim_exoskeleton_args(device: dict, channels: int) -> list[str]:
    """Emulator options that simulate the exoskeleton a profile was calibrated on (its `device` section).

    `calibrate --sim` calibrates an emulator with `SensorErrors.example` mounted wrong; recording with that
    profile must simulate the same sensors, or the profile turns correct counts into nonsense angles. A
    profile of a real device cannot describe the simulated one: DexumiError (one line).
    """
    dev_id = str(device.get("id", ""))
    if dev_id != SIM_DEVICE_ID:
        raise DexumiError(
            f"the profile was made on device {dev_id or '?'}, not on the simulated exoskeleton "
            f"({SIM_DEVICE_ID}); with --sim use a profile made by `dexumi calibrate --sim`"
        )
    protocol = str(device.get("protocol", "v1"))
    if protocol != Protocol.V1:
        raise DexumiError(f"the profile is for a {protocol} board; --sim records from a simulated v1 board")
    return ["--device-id", SIM_DEVICE_ID, *SensorErrors.example(channels, protocol).args()]

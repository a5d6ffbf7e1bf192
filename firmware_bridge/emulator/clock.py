"""The emulated board's clock: microseconds that drift from host time and restart at an arbitrary value."""

from __future__ import annotations

from typing import overload

import numpy as np


class DeviceClock:
    """Device µs (unwrapped) ↔ host monotonic seconds, for a crystal off by `drift_ppm`."""

    def __init__(self, drift_ppm: float) -> None:
        self.drift_ppm = drift_ppm
        self.boot_time = 0.0
        self.start_us = 0

    def boot(self, now: float, start_us: int) -> None:
        """Power-on at host time `now`: the clock reads `start_us`."""
        self.boot_time, self.start_us = now, int(start_us)

    @property
    def _us_per_s(self) -> float:
        return (1 + self.drift_ppm * 1e-6) * 1e6

    def device_us(self, t: float) -> float:
        """The device clock (µs, unwrapped) at host monotonic time t."""
        return self.start_us + (t - self.boot_time) * self._us_per_s

    @overload
    def host_time(self, device_us: np.ndarray) -> np.ndarray: ...
    @overload
    def host_time(self, device_us: float) -> float: ...
    def host_time(self, device_us: np.ndarray | float) -> np.ndarray | float:
        """The host monotonic time at which the device clock read `device_us`."""
        return self.boot_time + (np.asarray(device_us) - self.start_us) / self._us_per_s

"""Online device-clock → host-clock mapping of a pose stream (the encoder's lower-envelope fit)."""

from __future__ import annotations

import numpy as np

from dexumi.clock import ClockEstimate, ClockFit


class PoseClock:
    """Feeds (device s, host s) pairs to a `ClockFit` and maps device times with the current fit."""

    def __init__(self, window_s: float = 0.25) -> None:
        self.fit = ClockFit(window_s=window_s)

    def add(self, device_time: float, host_time: float) -> float:
        """Add one pair; the device time mapped by the fit as it stands now."""
        d = np.array([int(round(device_time * 1e6))], np.int64)
        self.fit.add(d, host_time)
        est = self.fit.estimate()
        return float(est.to_host(d)[0]) if est is not None else float("nan")

    def final(self) -> ClockEstimate | None:
        """The fit refit on everything seen (use it at the end of a recording)."""
        return self.fit.estimate(refresh=True)

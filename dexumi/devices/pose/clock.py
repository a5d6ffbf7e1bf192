"""Online device-clock → host-clock mapping of a pose stream (the encoder's lower-envelope fit).

A `ClockFit` keeps, per window of device time, the sample that arrived earliest relative to its stamp.
Pose samples come one at a time at up to a few hundred hertz, so the window minimum is tracked here in
plain floats and handed to the fit once per window (plus the very first sample, which sets the fit's
reference): the same fit as adding every sample, at a few microseconds per sample.
"""

from __future__ import annotations

import numpy as np

from dexumi.clock import ClockEstimate, ClockFit


class PoseClock:
    """Feeds (device s, host s) pairs to a `ClockFit` and maps device times with the current fit."""

    def __init__(self, window_s: float = 0.25) -> None:
        self.fit = ClockFit(window_s=window_s)
        self._ref: int | None = None
        self._win: int | None = None
        self._best: tuple[float, int, float] | None = None  # (host - device, device µs, host) of the window
        self._est: ClockEstimate | None = None

    def _push(self) -> None:
        if self._best is not None:
            _, d, h = self._best
            self.fit.add(np.array([d], np.int64), h)
            self._est = self.fit.estimate()

    def add(self, device_time: float, host_time: float) -> float:
        """Add one pair; the device time mapped by the fit as it stands now (NaN before the first)."""
        d = int(round(device_time * 1e6))
        if self._ref is None:
            self._ref = d
            self.fit.add(np.array([d], np.int64), host_time)
            self._est = self.fit.estimate()
        w = (d - self._ref) // self.fit.window_us
        y = host_time - (d - self._ref) * 1e-6
        if w != self._win:
            self._push()
            self._win, self._best = w, (y, d, host_time)
        elif self._best is None or y < self._best[0]:
            self._best = (y, d, host_time)
        est = self._est
        if est is None:
            return float("nan")
        return est.host_at_ref + est.slope * ((d - est.ref_device_us) * 1e-6)

    def final(self) -> ClockEstimate | None:
        """The fit refit on everything seen (use it at the end of a recording)."""
        self._push()
        self._best = None
        return self.fit.estimate(refresh=True)

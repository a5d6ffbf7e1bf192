"""Device clock → host clock mapping with drift, fitted on the lower envelope of arrival times.

Every frame gives a pair (device send time, host receive time). Arrival is the send time plus a delay that
is never negative and often much larger than its minimum (USB polling, scheduling, the device's own
buffering). As in Lab Streaming Layer, which keeps the probe with the smallest round trip, we keep the
earliest arrival in each short window of device time — the lower envelope — and fit a line through those
points, rejecting windows whose minimum is still delayed. The slope gives the drift, the scatter of the
kept points about the line the residual.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ClockEstimate:
    """host_time = host_at_ref + slope * (device_us - ref_device_us) * 1e-6."""

    ref_device_us: int
    host_at_ref: float
    slope: float
    residual_ms: float
    points: int
    span_s: float

    @property
    def drift_ppm(self) -> float:
        """How fast the device clock runs against the host's (positive: device fast)."""
        return (1.0 / self.slope - 1.0) * 1e6

    def to_host(self, device_us: np.ndarray | float) -> np.ndarray | float:
        d = np.asarray(device_us, dtype=np.int64) - self.ref_device_us
        return self.host_at_ref + self.slope * (d * 1e-6)


REFIT_FRACTION = 1 / 40  # a refit per new window up to 80 windows (20 s), then one per 2.5 % more windows
SMALL_ADD = 64  # up to this many pairs per `add`: offered one by one in plain floats


class ClockFit:
    """Online lower-envelope fit of one device-clock segment (a device reset starts a new one)."""

    def __init__(self, window_s: float = 0.25, max_windows: int = 2400, min_windows_for_slope: int = 8) -> None:
        self.window_us = int(window_s * 1e6)
        self.max_windows = max_windows
        self.min_windows_for_slope = min_windows_for_slope
        self.ref_device_us: int | None = None
        self._x: dict[int, float] = {}  # window → device seconds since ref of its earliest arrival
        self._y: dict[int, float] = {}  # window → (host - device) seconds of that arrival
        self._estimate: ClockEstimate | None = None
        self._opened = 0  # windows opened since the last fit

    def add(self, device_us: np.ndarray, host_s: np.ndarray | float) -> None:
        """Pairs of device send time (µs, unwrapped) and host receive time (s)."""
        d = np.asarray(device_us, dtype=np.int64)
        n = len(d)
        if n == 0:
            return
        if self.ref_device_us is None:
            self.ref_device_us = int(d[0])
        ref, wus = self.ref_device_us, self.window_us
        if n <= SMALL_ADD:  # a live reader's few frames: plain floats beat numpy's per-call set-up
            h = np.asarray(host_s, dtype=np.float64)
            hosts = h.tolist() if h.ndim else [float(h)] * n
            for dev, host in zip(d.tolist(), hosts):
                x = (dev - ref) * 1e-6
                self._offer((dev - ref) // wus, x, host - x)
        else:
            x = (d - ref) * 1e-6
            y = np.broadcast_to(np.asarray(host_s, dtype=np.float64), x.shape) - x
            win = (d - ref) // wus
            for w in np.unique(win).tolist():
                k = int(np.argmin(np.where(win == w, y, np.inf)))
                self._offer(w, float(x[k]), float(y[k]))
        if len(self._y) > self.max_windows:
            for w in sorted(self._y)[: len(self._y) - self.max_windows]:
                del self._x[w], self._y[w]

    def _offer(self, window: int, x: float, y: float) -> None:
        """Keep (x, y) if it is the earliest arrival of its window so far."""
        best = self._y.get(window)
        if best is None:
            self._opened += 1
            self._x[window], self._y[window] = x, y
        elif y < best:
            self._x[window], self._y[window] = x, y

    def estimate(self, refresh: bool = False) -> ClockEstimate | None:
        """The current fit; `refresh` refits on everything seen (e.g. at the end of a recording)."""
        # refit as windows open, not on every arrival; once there are many, after every REFIT_FRACTION more
        # of them: a fit costs time in proportion to its windows, so a long recording's refits do not add up
        due = self._opened >= max(1, int(len(self._y) * REFIT_FRACTION))
        if refresh or self._estimate is None or (self._opened and due):
            self._estimate = self._fit()
            self._opened = 0
        return self._estimate

    def _fit(self) -> ClockEstimate | None:
        if not self._y:
            return None
        # both dicts hold the same windows in the same (insertion) order; the fit needs no sorting
        x = np.fromiter(self._x.values(), np.float64, len(self._x))
        y = np.fromiter(self._y.values(), np.float64, len(self._y))
        span = float(x.max() - x.min())
        if len(x) < self.min_windows_for_slope:
            # too short to see drift: offset only, from the earliest arrival seen
            return ClockEstimate(self.ref_device_us or 0, float(y.min()), 1.0, 0.0, len(x), span)
        # Even a window's earliest arrival can be late (the reader was busy): such windows sit above the
        # line and would tilt it. Delays are one-sided, so keep the windows in the lower half about the
        # current line and refit, a few times: a quantile fit of the envelope.
        keep = np.ones(len(x), bool)
        for _ in range(5):
            b, a = _line(x[keep], y[keep])
            r = y - (a + b * x)
            new_keep = r <= np.median(r)
            if np.array_equal(new_keep, keep):
                break
            keep = new_keep
        b, a = _line(x[keep], y[keep])
        r = y - (a + b * x)
        residual = float(np.sqrt(np.mean(r[keep] ** 2)))
        return ClockEstimate(self.ref_device_us or 0, a, 1.0 + b, residual * 1e3, int(keep.sum()), span)


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope and intercept of y over x (what `np.polyfit(x, y, 1)` gives, in a tenth of its time:
    a live fit is refitted four times a second on up to `max_windows` points)."""
    xm, ym = float(x.mean()), float(y.mean())
    dx = x - xm
    sxx = float(dx @ dx)
    if sxx == 0.0:
        return 0.0, ym
    b = float(dx @ (y - ym)) / sxx
    return b, ym - b * xm

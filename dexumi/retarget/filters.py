"""First-order low-pass filter over joint trajectories (streaming: keeps its state between calls)."""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from dexumi.errors import DexumiError


class LowPassFilter:
    """y[i] = y[i-1] + a_i (x[i] - y[i-1]), a_i = 1 - exp(-2 pi f_c dt_i); the first sample passes through."""

    def __init__(self, cutoff_hz: float, rate_hz: float | None = None) -> None:
        if cutoff_hz <= 0:
            raise DexumiError("filter cutoff_hz must be > 0")
        self.cutoff_hz = float(cutoff_hz)
        self.rate_hz = rate_hz
        self._last_y: np.ndarray | None = None
        self._last_t: float | None = None

    def reset(self) -> None:
        self._last_y, self._last_t = None, None

    def _alpha(self, dt: np.ndarray | float) -> np.ndarray | float:
        return 1.0 - np.exp(-2.0 * np.pi * self.cutoff_hz * np.asarray(dt))

    def __call__(self, x: np.ndarray, timestamps: np.ndarray | None = None) -> np.ndarray:
        """Filter (N, J) samples; ``timestamps`` (N,) in seconds, else the constant ``rate_hz``."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        n = x.shape[0]
        if n == 0:
            return x.copy()
        if timestamps is None:
            if self.rate_hz is None:
                raise DexumiError("the low-pass filter needs timestamps or filter.rate_hz in the map")
            a = float(self._alpha(1.0 / self.rate_hz))
            if self._last_y is None:
                y0, rest = x[:1], x[1:]
            else:
                y0, rest = self._last_y[None, :], x
            zi = (1.0 - a) * y0
            body, _ = lfilter([a], [1.0, a - 1.0], rest, axis=0, zi=zi)
            y = np.concatenate([x[:1], body]) if self._last_y is None else body
            self._last_y = y[-1].copy()
            return y
        t = np.asarray(timestamps, dtype=float)
        if t.shape != (n,):
            raise DexumiError(f"filter: {t.size} timestamps for {n} samples")
        y = np.empty_like(x)
        prev_y, prev_t = self._last_y, self._last_t
        for i in range(n):
            if prev_y is None or prev_t is None:
                y[i] = x[i]
            else:
                a = float(self._alpha(max(t[i] - prev_t, 0.0)))
                y[i] = prev_y + a * (x[i] - prev_y)
            prev_y, prev_t = y[i], float(t[i])
        if prev_y is not None:
            self._last_y, self._last_t = prev_y.copy(), prev_t
        return y

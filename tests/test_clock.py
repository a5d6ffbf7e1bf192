"""The lower-envelope clock fit: fed a few pairs at a time (a live reader) or in bulk, the same windows and fit."""

from __future__ import annotations

import numpy as np

from dexumi.clock import SMALL_ADD, ClockFit


def test_small_and_bulk_adds_keep_the_same_envelope_and_fit():
    rng = np.random.default_rng(3)
    device = np.sort(rng.integers(0, 30_000_000, 6000)).astype(np.int64)  # 30 s of device µs
    host = 100.0 + device * 1e-6 * (1 + 80e-6) + rng.exponential(0.002, len(device))
    bulk, live = ClockFit(), ClockFit()
    bulk.add(device, host)
    k = 0
    while k < len(device):
        n = int(rng.integers(1, 2 * SMALL_ADD))  # both paths
        live.add(device[k : k + n], host[k : k + n] if n > 1 else float(host[k]))
        k += n
    assert live._x == bulk._x and live._y == bulk._y
    a, b = live.estimate(refresh=True), bulk.estimate(refresh=True)
    assert a == b and abs(a.drift_ppm + 80) < 5  # host-late samples: the device clock runs slow against it

"""The lower-envelope clock fit: fed a few pairs at a time (a live reader) or in bulk, the same windows and fit."""

from __future__ import annotations

import numpy as np

from dexumi.clock import REFIT_FRACTION, SMALL_ADD, ClockFit, _line


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


def test_the_closed_form_line_is_polyfits_line():
    rng = np.random.default_rng(4)
    x = np.sort(rng.uniform(0, 600, 2400))
    y = 0.003 + 2e-5 * x + rng.exponential(0.001, len(x))
    assert np.allclose(_line(x, y), np.polyfit(x, y, 1), rtol=1e-9, atol=1e-12)
    assert _line(np.full(3, 2.0), np.array([1.0, 2.0, 3.0])) == (0.0, 2.0)  # no spread in x: offset only


def test_a_long_fit_is_refitted_after_every_refit_fraction_more_windows():
    fit = ClockFit()
    second = 1_000_000

    def window(k: int) -> None:  # one arrival in each of the four windows of second k
        fit.add(np.arange(4) * 250_000 + k * second, 50.0 + k + np.arange(4) * 0.25 + 0.001)

    for k in range(100):
        window(k)
    first = fit.estimate()
    assert first is not None and first.span_s > 99 and fit.estimate() is first  # nothing new: no refit
    due = int(400 * REFIT_FRACTION)  # 10 windows
    window(100)  # 4 more: not yet due
    assert fit.estimate() is first
    assert fit.estimate(refresh=True) is not first  # a refresh always refits
    kept = fit.estimate()
    for k in range(101, 101 + due // 4 + 1):
        window(k)
    assert fit.estimate() is not kept

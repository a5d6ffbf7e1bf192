"""Time series derived for checks and plots: rates over time, intervals, gaps."""

from __future__ import annotations

import numpy as np


def windowed_rate(t: np.ndarray, window_s: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(window centres, events per second) over consecutive windows of `window_s`."""
    t = np.asarray(t, dtype=float)
    t = t[np.isfinite(t)]
    if len(t) < 2 or t[-1] <= t[0]:
        return np.zeros(0), np.zeros(0)
    edges = np.arange(t[0], t[-1] + window_s, window_s)
    counts, _ = np.histogram(t, edges)
    centres = 0.5 * (edges[:-1] + edges[1:])
    full = edges[1:] <= t[-1] + 1e-12  # the last, partial window would read low
    if full.sum() >= 1:
        centres, counts = centres[full], counts[full]
    return centres, counts / window_s


def gaps(t: np.ndarray, threshold_s: float) -> list[tuple[float, float]]:
    """[start, end] pairs of consecutive instants further apart than `threshold_s`."""
    t = np.asarray(t, dtype=float)
    if len(t) < 2:
        return []
    dt = np.diff(t)
    k = np.flatnonzero(dt > threshold_s)
    return [(float(t[i]), float(t[i + 1])) for i in k]


def effective_rate(t: np.ndarray) -> float:
    t = np.asarray(t, dtype=float)
    t = t[np.isfinite(t)]
    return float((len(t) - 1) / (t[-1] - t[0])) if len(t) > 1 and t[-1] > t[0] else 0.0


def segment_slices(segment: np.ndarray) -> list[np.ndarray]:
    """Index arrays of each clock segment (samples between reconnects), in order of first appearance."""
    if len(segment) == 0:
        return []
    return [np.flatnonzero(segment == s) for s in dict.fromkeys(segment.tolist())]

"""Feature statistics in LeRobot's layout: min, max, mean, std, count and quantiles q01..q99."""

from __future__ import annotations

import numpy as np

QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)


def vector_stats(x: np.ndarray) -> dict[str, list]:
    """Per-column statistics of an (N, D) array."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    out = {
        "min": x.min(axis=0).tolist(),
        "max": x.max(axis=0).tolist(),
        "mean": x.mean(axis=0).tolist(),
        "std": x.std(axis=0).tolist(),
        "count": [int(len(x))],
    }
    for q in QUANTILES:
        out[f"q{int(round(q * 100)):02d}"] = np.quantile(x, q, axis=0).tolist()
    return out


def _hist_quantile(cum: np.ndarray, q: float) -> float:
    """np.quantile's default (linear) of the values whose cumulative histogram over 0..255 is `cum`."""
    n = int(cum[-1])
    h = (n - 1) * q
    lo = int(np.floor(h))
    a, b = (int(np.searchsorted(cum, k, side="right")) for k in (lo, min(lo + 1, n - 1)))
    va, vb = np.float32(a) / np.float32(255.0), np.float32(b) / np.float32(255.0)
    return float(va + (h - lo) * (vb - va))


class ImageStats:
    """Per-channel statistics of sampled RGB uint8 frames, scaled to [0, 1], shaped (3, 1, 1) as LeRobot keeps
    them. Kept as a 256-bin histogram per channel: the same min/max/quantiles as sorting the sampled pixels
    (mean/std to float rounding), in constant memory and a fraction of np.quantile's time."""

    def __init__(self, max_pixels_per_frame: int = 4096) -> None:
        self.hist = np.zeros((3, 256), np.int64)
        self.count = 0
        self.max_pixels = max_pixels_per_frame

    def add(self, rgb: np.ndarray) -> None:
        if rgb.dtype != np.uint8:
            raise TypeError(f"image statistics take uint8 frames, not {rgb.dtype}")
        px = rgb.reshape(-1, 3)
        step = max(1, len(px) // self.max_pixels)
        sub = px[::step]
        for ch in range(3):
            self.hist[ch] += np.bincount(sub[:, ch], minlength=256)

    def frames(self, n: int) -> None:
        self.count += n

    def result(self) -> dict[str, list]:
        hist = self.hist if self.hist.sum() else np.eye(1, 256, 0, np.int64).repeat(3, 0)  # none: one black pixel
        v = np.arange(256, dtype=np.float64) / 255.0
        n = hist.sum(axis=1)
        mean = hist @ v / n
        var = np.maximum(hist @ (v * v) / n - mean**2, 0.0)
        cum = np.cumsum(hist, axis=1)
        nz = [np.flatnonzero(h) for h in hist]
        vals = np.arange(256, dtype=np.float32) / np.float32(255.0)

        def shape(x: object) -> list:
            return np.asarray(x, dtype=np.float64).reshape(3, 1, 1).tolist()

        out = {
            "min": shape([vals[z[0]] for z in nz]),
            "max": shape([vals[z[-1]] for z in nz]),
            "mean": shape(mean),
            "std": shape(np.sqrt(var)),
            "count": [int(self.count)],
        }
        for q in QUANTILES:
            out[f"q{int(round(q * 100)):02d}"] = shape([_hist_quantile(c, q) for c in cum])
        return out

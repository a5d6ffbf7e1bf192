"""Feature statistics in LeRobot's layout: min, max, mean, std, count and quantiles q01..q99."""

from __future__ import annotations

import numpy as np

QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)


def vector_stats(x: np.ndarray) -> dict[str, list]:
    """Per-column statistics of an (N, D) array."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    out = {"min": x.min(axis=0).tolist(), "max": x.max(axis=0).tolist(), "mean": x.mean(axis=0).tolist(),
           "std": x.std(axis=0).tolist(), "count": [int(len(x))]}
    for q in QUANTILES:
        out[f"q{int(round(q * 100)):02d}"] = np.quantile(x, q, axis=0).tolist()
    return out


class ImageStats:
    """Per-channel statistics of sampled RGB frames, scaled to [0, 1], shaped (3, 1, 1) as LeRobot keeps them."""

    def __init__(self, max_pixels_per_frame: int = 4096) -> None:
        self.samples: list[np.ndarray] = []
        self.count = 0
        self.max_pixels = max_pixels_per_frame

    def add(self, rgb: np.ndarray) -> None:
        px = rgb.reshape(-1, 3)
        step = max(1, len(px) // self.max_pixels)
        self.samples.append(px[::step].astype(np.float32) / 255.0)

    def frames(self, n: int) -> None:
        self.count += n

    def result(self) -> dict[str, list]:
        x = np.concatenate(self.samples) if self.samples else np.zeros((1, 3), np.float32)

        def shape(v: np.ndarray) -> list:
            return np.asarray(v, dtype=np.float64).reshape(3, 1, 1).tolist()

        out = {"min": shape(x.min(axis=0)), "max": shape(x.max(axis=0)), "mean": shape(x.mean(axis=0)),
               "std": shape(x.std(axis=0)), "count": [int(self.count)]}
        for q in QUANTILES:
            out[f"q{int(round(q * 100)):02d}"] = shape(np.quantile(x, q, axis=0))
        return out

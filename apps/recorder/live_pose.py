"""Pose samples for the recorder's live view: a source's batches → rows of the live buffer's pose ring, at most
`POSE_HZ` per second, keeping every change between tracked and lost (a short tracking loss still breaks the
line on screen)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from apps.recorder.live import POSE_COLS
from dexumi.devices.pose import LOST

POSE_HZ = 100.0  # poses per second and source in the live buffer


@dataclass
class PoseDecimator:
    """One source's rate limit: `rows(batches)` → (n, POSE_COLS) [host_time, x, y, z, qx, qy, qz, qw, state]."""

    rate_hz: float = POSE_HZ
    next_t: float = -np.inf
    last_lost: bool | None = None

    def rows(self, batches: list) -> np.ndarray:
        """Rows of the samples kept from `batches` (`PoseBatch`es, in arrival order)."""
        kept: list[tuple[dict, int]] = []
        for b in batches:
            c = b.columns
            lost = (np.asarray(c["state"]) == LOST) | ~np.isfinite(c["position"]).all(axis=1)
            for i, ti in enumerate(np.asarray(c["host_time"], np.float64)):
                changed = self.last_lost is not None and bool(lost[i]) != self.last_lost
                if ti >= self.next_t - 0.01 / self.rate_hz or changed:  # slack: a 100 Hz source keeps all
                    kept.append((c, i))
                    self.next_t = max(self.next_t + 1 / self.rate_hz, ti + 0.5 / self.rate_hz)
                    self.last_lost = bool(lost[i])
        rows = np.empty((len(kept), POSE_COLS))
        for r, (c, i) in enumerate(kept):
            rows[r, 0] = c["host_time"][i]
            rows[r, 1:4] = c["position"][i]
            rows[r, 4:8] = c["orientation"][i]
            rows[r, 8] = c["state"][i]
        return rows

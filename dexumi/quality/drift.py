"""Calibration drift across a session: each channel's reference-hold level, episode after episode.

A calibration offset can drift through a day unnoticed (a loosening sensor, a slipping magnet). Every episode
contains the reference hold — the open hand the operator starts and ends in (the sim's grasp cycle holds it
every cycle) — so each channel's level in that hold is a fixed point of the calibration: the `percentile`-th
percentile of the channel's angles (the hold is the low end of the motion) over an episode. Its move across
the session (the robust Theil–Sen trend of the levels in episode order, times the number of episodes − 1)
names the channel whose offset drifts. Checked every `every` episodes by the session, and over a folder by `validate`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

PERCENTILE = 5.0
MIN_SPAN_S = 3.0  # an episode shorter than this may miss the hold: no level


def reference_levels(
    angles: np.ndarray, times: np.ndarray | None = None, percentile: float = PERCENTILE
) -> np.ndarray | None:
    """Each channel's reference-hold level (J,) in radians, or None when the episode is too short."""
    a = np.asarray(angles, np.float64)
    if a.ndim != 2 or len(a) < 10:
        return None
    if times is not None and len(times) > 1 and float(times[-1] - times[0]) < MIN_SPAN_S:
        return None
    with np.errstate(all="ignore"):
        return np.nanpercentile(a, percentile, axis=0)


@dataclass
class DriftFinding:
    channel: str
    index: int
    drift_deg: float  # late − early level
    episodes: int
    level: str  # warn | error

    def line(self) -> str:
        return (
            f"calibration drift: channel {self.channel} moved {self.drift_deg:+.1f}° over {self.episodes} "
            f"episodes — re-check its calibration"
        )


@dataclass
class DriftTracker:
    """Per-episode levels in, findings out (every `every` episodes)."""

    names: list[str] = field(default_factory=list)
    every: int = 5
    warn_deg: float = 1.5
    error_deg: float = 5.0
    window: int = 3
    levels: list[np.ndarray] = field(default_factory=list)
    episodes: list[str] = field(default_factory=list)

    def add(self, episode: str, levels: np.ndarray | None) -> list[DriftFinding] | None:
        """Record one episode's levels; every `every` episodes, return the findings (else None)."""
        if levels is None:
            return None
        self.levels.append(np.asarray(levels, np.float64))
        self.episodes.append(episode)
        if self.every > 0 and len(self.levels) % self.every == 0:
            return self.findings()
        return None

    def findings(self) -> list[DriftFinding]:
        return drift_findings(self.levels, self.names, self.warn_deg, self.error_deg, self.window)


def drift_findings(
    levels: list[np.ndarray], names: list[str], warn_deg: float = 1.5, error_deg: float = 5.0, window: int = 3
) -> list[DriftFinding]:
    """Channels whose level moved more than `warn_deg` over the episodes (at least 4), worst first.
    `window` is kept for callers; the trend uses every episode."""
    rows = [np.asarray(x, np.float64) for x in levels if x is not None]
    if len(rows) < 4 or len({len(x) for x in rows}) != 1:
        return []
    m = np.degrees(np.stack(rows))
    drift = _trend(m)
    out = []
    for j in np.argsort(-np.abs(drift)):
        d = float(drift[j])
        if not math.isfinite(d) or abs(d) <= warn_deg:
            continue
        name = names[j] if j < len(names) else f"ch{j}"
        out.append(DriftFinding(name, int(j), d, len(m), "error" if abs(d) > error_deg else "warn"))
    return out


def _trend(m: np.ndarray) -> np.ndarray:
    """Per channel: the Theil–Sen slope of level against episode order × (episodes − 1) — the move over the
    session, robust to a few odd episodes."""
    from scipy.stats import theilslopes

    x = np.arange(len(m), dtype=np.float64)
    out = np.full(m.shape[1], np.nan)
    for j in range(m.shape[1]):
        ok = np.isfinite(m[:, j])
        if ok.sum() >= 3:
            out[j] = float(theilslopes(m[ok, j], x[ok])[0]) * (len(m) - 1)
    return out


def one_line(findings: list[DriftFinding]) -> str:
    """The worst drifting channel in one line ('' when none)."""
    if not findings:
        return ""
    extra = f" (+{len(findings) - 1} more channel(s))" if len(findings) > 1 else ""
    return findings[0].line() + extra

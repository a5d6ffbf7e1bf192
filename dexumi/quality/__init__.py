"""Sync quality of recorded episodes: the latency self-check, calibration drift, the per-episode QA hook.
Ranking a folder by these is `dexumi.validate.rank` (it scores with validate's checks). Names load on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dexumi.lazy import Where, lazy_exports

_NAMES: dict[str, Where] = {
    "DriftFinding": "dexumi.quality.drift",
    "DriftTracker": "dexumi.quality.drift",
    "drift_findings": "dexumi.quality.drift",
    "LatencyThresholds": "dexumi.episode.latency_check",
    "CameraLatencyCheck": "dexumi.episode.latency_check",
    "check_open_file": "dexumi.episode.latency_check",
    "EpisodeQA": "dexumi.quality.session_hook",
}
__all__ = list(_NAMES)
__getattr__, __dir__ = lazy_exports(__name__, _NAMES)

if TYPE_CHECKING:
    from dexumi.quality.drift import DriftFinding as DriftFinding
    from dexumi.quality.drift import DriftTracker as DriftTracker
    from dexumi.quality.drift import drift_findings as drift_findings
    from dexumi.episode.latency_check import CameraLatencyCheck as CameraLatencyCheck
    from dexumi.episode.latency_check import LatencyThresholds as LatencyThresholds
    from dexumi.episode.latency_check import check_open_file as check_open_file
    from dexumi.quality.session_hook import EpisodeQA as EpisodeQA

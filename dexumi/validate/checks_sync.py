"""Sync self-checks: each camera's latency re-estimated from the episode vs the profile (`latency_drift`),
and the per-channel reference-hold level that the folder's `calibration_drift` check compares."""

from __future__ import annotations

from dexumi.episode.latency_check import CameraLatencyCheck, LatencyThresholds, check_open_file, grade
from dexumi.validate.config import ValidateConfig
from dexumi.validate.context import EpisodeData
from dexumi.validate.emit import emit
from dexumi.validate.result import ERROR, WARN, EpisodeReport


def check_latency_drift(d: EpisodeData, cfg: ValidateConfig, r: EpisodeReport) -> None:
    """The finalise-time self-check from the sync report (re-estimated when the file has none), graded with
    the configured thresholds."""
    th = LatencyThresholds(cfg.latency_warn_ms, cfg.latency_error_ms)
    rep = d.sync_report.get("latency_check")
    if not rep or not rep.get("cameras"):
        if not d.cameras:
            emit(r, cfg, "latency_drift", "pass", "no camera")
            return
        rep = check_open_file(d.f, th=th)
    checks = [grade(CameraLatencyCheck.from_json(c), th) for c in rep.get("cameras", {}).values()]
    diffs = {c.camera: c.difference_s * 1e3 for c in checks if c.difference_s is not None}
    r.metrics["latency_difference_ms"] = diffs
    bad = [c for c in checks if c.status in ("warn", "error")]
    details = {c.camera: c.to_json() for c in checks}
    if bad:
        level = ERROR if any(c.status == "error" for c in bad) else WARN
        emit(r, cfg, "latency_drift", level, "; ".join(c.message for c in bad), cameras=details)
    elif any(c.status == "ok" for c in checks):
        emit(r, cfg, "latency_drift", "pass", "; ".join(c.message for c in checks if c.status == "ok"), cameras=details)
    else:
        emit(r, cfg, "latency_drift", "info", "; ".join(c.message for c in checks) or "not measured", cameras=details)
    from dexumi.quality.drift import reference_levels

    ang = d.encoder.get("angles")
    if ang is not None:
        lv = reference_levels(ang, d.encoder.get("host_time"))
        r.metrics["reference_levels_rad"] = None if lv is None else [float(x) for x in lv]
        r.metrics["channel_names"] = list(d.exo_names)

"""Timing checks: monotonic timestamps, effective rates, gaps, drops, sequence numbers, alignment residuals."""

from __future__ import annotations

import numpy as np

from dexumi.validate.config import ValidateConfig
from dexumi.validate.context import EpisodeData
from dexumi.validate.emit import emit, graded
from dexumi.validate.result import ERROR, INFO, PASS, RANK, EpisodeReport
from dexumi.vocab import CheckLevel
from dexumi.validate.series import effective_rate, gaps, segment_slices


def _reversals(t: np.ndarray, strict: bool) -> np.ndarray:
    """Indices i where t[i] does not come after t[i-1] (strict) or comes before it."""
    if len(t) < 2:
        return np.zeros(0, np.int64)
    dt = np.diff(t)
    return np.flatnonzero(dt <= 0 if strict else dt < 0) + 1


def check_timestamps(d: EpisodeData, cfg: ValidateConfig, r: EpisodeReport) -> None:
    """The aligned timeline and camera grab times strictly increase; encoder device times increase per segment."""
    found: dict[str, int] = {}
    times: list[float] = []
    t0 = d.t0
    if d.timestamps is not None:
        k = _reversals(d.timestamps, strict=True)
        if len(k):
            found["timestamps"] = len(k)
            times += (d.timestamps[k - 1] - t0).tolist()
    for cam in d.cameras.values():
        k = _reversals(cam.grab_time, strict=True)
        if len(k):
            found[f"{cam.name} grab_time"] = len(k)
            times += (cam.grab_time[k - 1] - t0).tolist()
    enc = d.encoder
    if "device_time_us" in enc and "segment" in enc:
        n = 0
        for sel in segment_slices(enc["segment"]):
            k = _reversals(enc["device_time_us"][sel], strict=True)
            n += len(k)
            if len(k) and "host_time" in enc:
                times += (enc["host_time"][sel][k] - t0).tolist()
        if n:
            found["encoder device_time_us"] = n
    if "host_time" in enc:
        k = _reversals(enc["host_time"], strict=False)
        if len(k):
            found["encoder host_time"] = len(k)
    if found:
        emit(
            r,
            cfg,
            "timestamps",
            "error",
            "time goes backwards: " + ", ".join(f"{k} ×{v}" for k, v in found.items()),
            times,
            reversals=found,
        )
    else:
        emit(r, cfg, "timestamps", "pass", "monotonic")


def _rate_level(eff: float, nominal: float, cfg: ValidateConfig) -> CheckLevel:
    if nominal <= 0:
        return INFO
    return graded(abs(eff - nominal) / nominal, cfg.rate_warn_frac, cfg.rate_error_frac)


def check_rates(d: EpisodeData, cfg: ValidateConfig, r: EpisodeReport) -> None:
    """Effective rate of each stream against its nominal rate."""
    rows: dict[str, dict] = {}
    if d.timestamps is not None:
        rows["aligned"] = {"rate_hz": effective_rate(d.timestamps), "nominal_hz": d.nominal_fps}
    if "mapped_time" in d.encoder:
        rows["encoder"] = {
            "rate_hz": effective_rate(d.encoder["mapped_time"]),
            "nominal_hz": float(d.encoder_attrs.get("nominal_rate_hz", 0.0) or 0.0),
        }
    for cam in d.cameras.values():
        rows[cam.name] = {"rate_hz": effective_rate(cam.grab_time), "nominal_hz": cam.fps}
    worst = PASS
    parts = []
    for name, row in rows.items():
        lvl = _rate_level(row["rate_hz"], row["nominal_hz"], cfg)
        row["level"] = lvl
        worst = max(worst, lvl, key=lambda x: RANK[x])
        nom = f"/{row['nominal_hz']:.4g}" if row["nominal_hz"] > 0 else ""
        parts.append(f"{name} {row['rate_hz']:.4g}{nom} Hz")
    r.metrics["rates_hz"] = {k: round(v["rate_hz"], 3) for k, v in rows.items()}
    emit(r, cfg, "rates", PASS if worst == INFO else worst, ", ".join(parts), streams=rows)


def check_gaps(d: EpisodeData, cfg: ValidateConfig, r: EpisodeReport) -> None:
    """Intervals longer than `gap_factor` nominal periods in every stream, and gaps the recorder logged."""
    t0 = d.t0
    found: dict[str, list[tuple[float, float]]] = {}
    if d.timestamps is not None and d.nominal_fps > 0:
        found["aligned"] = gaps(d.timestamps, cfg.gap_factor / d.nominal_fps)
    if "mapped_time" in d.encoder:
        nom = float(d.encoder_attrs.get("nominal_rate_hz", 0.0) or 0.0)
        thr = max(cfg.gap_factor / nom, 0.01) if nom > 0 else 0.05
        found["encoder"] = gaps(np.sort(d.encoder["mapped_time"]), thr)
    logged = [(float(a), float(b)) for a, b in d.encoder_gaps]
    if logged:
        found["encoder (logged)"] = logged
    for cam in d.cameras.values():
        if cam.fps > 0:
            found[cam.name] = gaps(cam.grab_time, cfg.gap_factor / cam.fps)
    found = {k: v for k, v in found.items() if v}
    if not found:
        emit(r, cfg, "gaps", "pass", "no gaps")
        return
    longest = max(b - a for v in found.values() for a, b in v)
    lvl = ERROR if longest > cfg.gap_error_s else CheckLevel.WARN
    msg = ", ".join(f"{k} {len(v)} (max {max(b - a for a, b in v) * 1e3:.0f} ms)" for k, v in found.items())
    emit(
        r,
        cfg,
        "gaps",
        lvl,
        f"gaps: {msg}",
        [a - t0 for v in found.values() for a, _ in v],
        gaps={k: [[round(a - t0, 4), round(b - a, 4)] for a, b in v[:50]] for k, v in found.items()},
        longest_s=round(longest, 4),
    )


def check_drops(d: EpisodeData, cfg: ValidateConfig, r: EpisodeReport) -> None:
    """Dropped camera frames and missing encoder samples (from the sources' counters)."""
    rows: dict[str, dict] = {}
    enc = d.encoder
    if "index" in enc and "segment" in enc:
        missing = 0
        for sel in segment_slices(enc["segment"]):
            dd = np.diff(enc["index"][sel])
            missing += int((dd[dd > 1] - 1).sum())
        over = int(d.stats.get("encoder_overflows", 0) or 0)
        n = len(enc["index"])
        rows["encoder"] = {"dropped": missing + over, "of": n + missing + over, "overflows": over}
    for cam in d.cameras.values():
        dd = np.diff(cam.index)
        dropped = int((dd[dd > 1] - 1).sum())
        rows[cam.name] = {"dropped": dropped, "of": len(cam.index) + dropped}
    worst, parts = PASS, []
    for name, row in rows.items():
        frac = row["dropped"] / row["of"] if row["of"] else 0.0
        row["fraction"] = frac
        lvl = graded(frac, cfg.drop_warn_frac, cfg.drop_error_frac) if row["dropped"] else PASS
        worst = lvl if RANK[lvl] > RANK[worst] else worst
        parts.append(f"{name} {row['dropped']}")
    r.metrics["drops"] = {k: v["dropped"] for k, v in rows.items()}
    emit(r, cfg, "drops", worst, "dropped: " + ", ".join(parts), streams=rows)


def _crc_errors(stats: dict) -> int | None:
    for key in ("crc_errors", "encoder_crc_errors"):
        if key in stats:
            return int(stats[key])
    for group in ("link", "encoder"):  # the session records the link's counters under "link"
        sub = stats.get(group)
        if isinstance(sub, dict) and "crc_errors" in sub:
            return int(sub["crc_errors"])
    return None


def check_sequence(d: EpisodeData, cfg: ValidateConfig, r: EpisodeReport) -> None:
    """Sequence-number statistics: duplicates, reordering, reconnect segments; CRC errors when recorded."""
    enc = d.encoder
    info: dict[str, int | None] = {"duplicates": 0, "out_of_order": 0, "segments": 0}
    if "index" in enc and "segment" in enc:
        segs = segment_slices(enc["segment"])
        info["segments"] = len(segs)
        for sel in segs:
            dd = np.diff(enc["index"][sel])
            info["duplicates"] = int(info["duplicates"] or 0) + int((dd == 0).sum())
            info["out_of_order"] = int(info["out_of_order"] or 0) + int((dd < 0).sum())
    cam_bad = {}
    for cam in d.cameras.values():
        dd = np.diff(cam.index)
        if (dd <= 0).any():
            cam_bad[cam.name] = int((dd <= 0).sum())
    info["crc_errors"] = _crc_errors(d.stats)
    r.metrics["sequence"] = dict(info)
    crc = "CRC errors not recorded" if info["crc_errors"] is None else f"CRC errors {info['crc_errors']}"
    msg = (
        f"encoder: {info['segments']} segment(s), {info['duplicates']} duplicate(s), "
        f"{info['out_of_order']} out of order; {crc}"
    )
    if info["duplicates"] or info["out_of_order"] or cam_bad:
        extra = f"; camera index not increasing: {cam_bad}" if cam_bad else ""
        emit(r, cfg, "sequence", "error", msg + extra, **info, cameras=cam_bad)
    elif info["segments"] and info["segments"] > 1 or (info["crc_errors"] or 0) > 0:
        emit(r, cfg, "sequence", "warn", msg, **info)
    else:
        emit(r, cfg, "sequence", "pass", msg, **info)


def check_alignment(d: EpisodeData, cfg: ValidateConfig, r: EpisodeReport) -> None:
    """Clock-fit residuals, frames without bracketing encoder samples, secondary-camera offsets."""
    levels: list[str] = []
    parts: list[str] = []
    details: dict = {}
    times: list[float] = []
    clocks = (d.sync_report.get("encoder") or {}).get("clock") or {}
    res = [c["residual_ms"] for c in clocks.values() if c]
    if res:
        worst = max(res)
        details["clock_residual_ms"] = worst
        levels.append(graded(worst, cfg.clock_residual_warn_ms, cfg.clock_residual_error_ms))
        parts.append(f"clock residual {worst:.3g} ms")
    if d.valid is not None and len(d.valid):
        inv = int((d.valid == 0).sum())
        frac = inv / len(d.valid)
        details["invalid_frames"] = inv
        levels.append(PASS if inv == 0 else graded(frac, cfg.invalid_warn_frac, cfg.invalid_error_frac))
        parts.append(f"{inv} invalid frame(s)")
        if inv and d.timestamps is not None and len(d.timestamps) == len(d.valid):
            times += (d.timestamps[d.valid == 0] - d.t0).tolist()
    for cam in d.cameras.values():
        if (
            cam.aligned_offset is None
            or cam.aligned_index is None
            or cam.aligned_offset.shape != cam.aligned_index.shape
        ):
            continue
        off = np.abs(cam.aligned_offset[cam.aligned_index >= 0])
        off = off[np.isfinite(off)]
        missing = int((cam.aligned_index < 0).sum())
        if not len(off) and not missing:
            continue
        period = 1.0 / cam.fps if cam.fps > 0 else 1.0 / max(d.nominal_fps, 1.0)
        mx = float(off.max()) if len(off) else 0.0
        details[f"{cam.name}_offset_ms_max"] = mx * 1e3
        details[f"{cam.name}_offset_ms_median"] = float(np.median(off)) * 1e3 if len(off) else 0.0
        levels.append(graded(mx / period, cfg.image_offset_warn_periods, cfg.image_offset_error_periods))
        if missing:
            levels.append(ERROR)
            details[f"{cam.name}_missing"] = missing
        parts.append(f"{cam.name} offset max {mx * 1e3:.0f} ms" + (f", {missing} without a frame" if missing else ""))
    r.metrics["alignment"] = {k: round(v, 4) if isinstance(v, float) else v for k, v in details.items()}
    lvl = max(levels or [PASS], key=lambda x: RANK[x])
    emit(r, cfg, "alignment", lvl, ", ".join(parts) or "nothing to align", times, **details)

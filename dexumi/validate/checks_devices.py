"""The `devices` check (issue 17): per further device (`/raw/<role>`) and the primary exoskeleton —
saturation (values at the format's limits), stuck-at (a channel frozen at one value), tactile baseline drift
(the no-load level moving between the start and the end), gaps, and cross-device sync (each device's clock
fit residual combined pairwise, and how much of the aligned timeline each device covers)."""

from __future__ import annotations

import json

import h5py
import numpy as np

from dexumi.episode import schema as S
from dexumi.validate.config import ValidateConfig
from dexumi.validate.context import EpisodeData
from dexumi.validate.emit import emit, graded
from dexumi.validate.result import ERROR, PASS, WARN, EpisodeReport
from dexumi.vocab import Protocol, TactileProtocol

V1_FULL_SCALE = 1 << 23


def limits(protocol: str, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) raw limits per channel: a value at either is saturated."""
    lo, hi = np.full(channels, -V1_FULL_SCALE, np.int64), np.full(channels, V1_FULL_SCALE - 1, np.int64)
    if protocol == TactileProtocol.FSR:
        lo[12:], hi[12:] = 0, 0xFFFF
    elif protocol == TactileProtocol.XHAND:
        lo[:2], hi[:2] = -128, 127
        lo[2], hi[2] = -1, 255  # fz is unsigned: only its top is a limit
        lo[3:], hi[3:] = -1, 0xFFFF
    elif protocol == Protocol.LEGACY:
        lo[:], hi[:] = -1, (1 << 23) - 1
    return lo, hi


def stuck_channels(raw: np.ndarray, t: np.ndarray, min_s: float, tactile: bool) -> list[int]:
    """Exoskeleton: channels whose value stays exactly the same for at least `min_s` (a live ADC always
    moves by its noise). Tactile: a constant reading is what no touch looks like, so a channel is stuck only
    when it holds one non-zero value through the whole episode while another force channel of the board
    moves (`min_s` at least)."""
    out: list[int] = []
    if len(raw) < 3 or t[-1] - t[0] < min_s:
        return out
    if tactile:
        const = np.all(raw == raw[0], axis=0)
        force = np.zeros(raw.shape[1], bool)
        force[-2:] = raw.shape[1] == 14  # FSR: the two FSR readings (the ADC words are not forces)
        if raw.shape[1] != 14:
            force[3:] = True  # XHand: the taxels
        moving = force & ~const
        if not moving.any():
            return out
        return [int(c) for c in np.flatnonzero(const & force & (raw[0] != 0))]
    for c in range(raw.shape[1]):
        v = raw[:, c]
        change = np.flatnonzero(np.diff(v) != 0)
        starts = np.concatenate([[0], change + 1])
        ends = np.concatenate([change, [len(v) - 1]])
        long = (t[ends] - t[starts]) >= min_s
        if long.any():
            out.append(c)
    return out


BASELINE_MIN_S = 4.0


def baseline_drift(protocol: str, values: np.ndarray, t: np.ndarray) -> float | None:
    """|second − first| of the no-load level of the per-finger totals (the 5th percentile of each half of the
    episode: the lowest readings are the untouched ones), in the device's unit; None when shorter than
    `BASELINE_MIN_S` (a half may then be all touch)."""
    from dexumi.devices.tactile import finger_totals

    if len(values) < 50 or t[-1] - t[0] < BASELINE_MIN_S:
        return None
    tot, _ = finger_totals(protocol, values)
    k = len(tot) // 2
    a = np.percentile(tot[:k], 5, axis=0)
    b = np.percentile(tot[k:], 5, axis=0)
    return float(np.max(np.abs(b - a)))


def _attr(g: h5py.Group, key: str, default: object = "") -> object:
    v = g.attrs.get(key, default)
    return v.decode() if isinstance(v, bytes) else v


def check_devices(d: EpisodeData, cfg: ValidateConfig, r: EpisodeReport) -> None:
    from dexumi.episode.device_stream import device_groups

    f = d.f
    groups = device_groups(f)
    if not groups:
        emit(r, cfg, "devices", "pass", "one device (no further devices recorded)")
        return
    rep = {}
    if S.SYNC_REPORT in f and f[S.SYNC_REPORT].shape[0]:
        v = f[S.SYNC_REPORT][0]
        rep = json.loads(v.decode() if isinstance(v, bytes) else v)
    dev_rep = rep.get("devices", {})
    enc = f[S.ENCODER]
    primary_role = str(_attr(enc, "role", "encoder")) or "encoder"
    residual = {primary_role: float((rep.get("encoder", {}).get("clock", {}).get("0") or {}).get("residual_ms", 0.0))}
    all_groups = {primary_role: (enc, Protocol.V1.value if "angles" in enc else "")} | {
        k: (g, str(_attr(g, "protocol"))) for k, g in groups.items()
    }
    per: dict[str, dict] = {}
    levels, notes = [], []
    for role, (g, protocol) in all_groups.items():
        n = min(g[k].shape[0] for k in ("host_time", "raw"))
        raw, host = g["raw"][:n], g["host_time"][:n]
        kind = str(_attr(g, "kind", "exo"))
        m: dict = {"kind": kind, "protocol": protocol, "samples": int(n)}
        if n:
            lo, hi = limits(protocol, raw.shape[1])
            sat = (raw <= lo) | (raw >= hi)
            m["saturated_fraction"] = float(sat.any(axis=1).mean())
            m["saturated_channels"] = [int(c) for c in np.flatnonzero(sat.mean(axis=0) > cfg.saturation_warn_frac)]
            m["stuck_channels"] = stuck_channels(raw, host, cfg.stuck_min_s, kind == "tactile")
            lv = graded(m["saturated_fraction"], cfg.saturation_warn_frac, cfg.saturation_error_frac)
            if lv != PASS:
                notes.append(
                    f"{role}: {m['saturated_fraction']:.1%} of samples saturated (channels "
                    f"{m['saturated_channels'][:8]})"
                )
            levels.append(lv)
            if m["stuck_channels"]:
                levels.append(WARN)
                notes.append(
                    f"{role}: channel(s) {m['stuck_channels'][:8]} stuck at one value for ≥ {cfg.stuck_min_s:g} s"
                )
        if role in groups:
            dr = dev_rep.get(role, {})
            residual[role] = float((dr.get("clock", {}).get("0") or {}).get("residual_ms", 0.0))
            frames = int(dr.get("aligned_frames", 0))
            m["aligned_valid_fraction"] = float(dr.get("aligned_valid", 0)) / frames if frames else 0.0
            m["gaps_s"] = [round(x["seconds"], 3) for x in dr.get("gaps", [])]
            if m["gaps_s"]:
                levels.append(WARN)
                notes.append(f"{role}: {len(m['gaps_s'])} gap(s) ({', '.join(f'{x:.2f}' for x in m['gaps_s'])} s)")
            lv = (
                graded(1.0 - m["aligned_valid_fraction"], cfg.device_invalid_warn_frac, cfg.device_invalid_error_frac)
                if frames
                else WARN
            )
            if lv != PASS:
                notes.append(f"{role}: valid at {m['aligned_valid_fraction']:.1%} of the aligned frames")
            levels.append(lv)
            if kind == "tactile" and n:
                vals = g["values"][:n]
                drift = baseline_drift(protocol, vals, host)
                m["baseline_drift"] = drift
                limit = (
                    cfg.fsr_baseline_drift_warn_counts
                    if protocol == TactileProtocol.FSR
                    else cfg.tactile_baseline_drift_warn_n
                )
                if drift is not None and drift > limit:
                    levels.append(WARN)
                    unit = "counts" if protocol == TactileProtocol.FSR else "N"
                    notes.append(
                        f"{role}: no-load baseline moved {drift:.2f} {unit} over the episode (limit "
                        f"{limit:g}): re-zero the board"
                    )
        per[role] = m
    roles = list(residual)
    pairs = {f"{a}/{b}": float(np.hypot(residual[a], residual[b])) for i, a in enumerate(roles) for b in roles[i + 1 :]}
    worst = max(pairs.values()) if pairs else 0.0
    lv = graded(worst, cfg.cross_device_sync_warn_ms, cfg.cross_device_sync_error_ms)
    if lv != PASS:
        notes.append(
            f"cross-device sync: clock fits allow {worst:.2f} ms between devices (limit "
            f"{cfg.cross_device_sync_warn_ms:g} ms)"
        )
    levels.append(lv)
    r.metrics["devices"] = per
    r.metrics["cross_device_sync_ms"] = worst
    level = ERROR if ERROR in levels else WARN if WARN in levels else PASS
    msg = (
        "; ".join(notes)
        if notes
        else (
            f"{len(per)} devices ({', '.join(per)}): no saturation, nothing stuck, "
            f"cross-device sync within {worst:.2f} ms"
        )
    )
    emit(r, cfg, "devices", level, msg, streams=per, cross_device_sync_ms=pairs)

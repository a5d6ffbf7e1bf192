"""The `pose` check: per wrist-pose stream, jumps (speed / angular-speed limits between consecutive tracking
samples), the tracking-loss fraction (lost + dropped samples), and each camera's latency against the pose
where it is measurable (the camera's optical flow regressed on the wrist's twist, `dexumi.latency_twist`)."""

from __future__ import annotations

import h5py
import numpy as np
from scipy.spatial.transform import Rotation

from dexumi.episode import schema as S
from dexumi.errors import DexumiError
from dexumi.validate.config import ValidateConfig
from dexumi.validate.context import EpisodeData
from dexumi.validate.emit import emit, graded
from dexumi.validate.result import ERROR, PASS, WARN, EpisodeReport

LATENCY_SEARCH_S = 0.3
LATENCY_MIN_CORRELATION = 0.3


def _raw(g: h5py.Group) -> dict[str, np.ndarray]:
    from dexumi.episode.pose_stream import RECORDED

    n = min(g[k].shape[0] for k in (*RECORDED, "time"))
    return {k: g[k][:n] for k in (*RECORDED, "time")}


def _pairs(r: dict[str, np.ndarray], counts: bool) -> np.ndarray:
    """Mask over sample pairs (i, i+1) that are consecutive tracking samples of one segment."""
    from dexumi.pose_sample import LOST

    ok = (r["state"] != LOST) & np.isfinite(r["position"]).all(axis=1)
    pair = ok[:-1] & ok[1:] & (r["segment"][:-1] == r["segment"][1:]) & (np.diff(r["time"]) > 0)
    if counts:
        pair &= np.diff(r["index"]) == 1
    return pair


def speeds(r: dict[str, np.ndarray], counts: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times, linear speed m/s, angular speed rad/s) between consecutive tracking samples."""
    if len(r["time"]) < 2:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    pair = _pairs(r, counts)
    i = np.flatnonzero(pair)
    dt = r["time"][i + 1] - r["time"][i]
    v = np.linalg.norm(r["position"][i + 1] - r["position"][i], axis=1) / dt
    if len(i):
        w = (
            Rotation.from_quat(r["orientation"][i]).inv() * Rotation.from_quat(r["orientation"][i + 1])
        ).magnitude() / dt
    else:
        w = np.zeros(0)
    return 0.5 * (r["time"][i] + r["time"][i + 1]), v, w


def camera_latencies(d: EpisodeData, stream: str) -> dict[str, dict]:
    """How late each camera's frames are against the pose stream `stream` (ms), for the cameras where it is
    measurable: each camera's optical flow against the wrist's twist (`dexumi.latency_twist`)."""
    from dexumi.episode.latency_check import measure_against_pose, pose_twist

    t, tw = pose_twist(d.f[f"{S.POSE}/{stream}"])
    out: dict[str, dict] = {}
    if len(t) < 50:
        return out
    for cam in d.cameras.values():
        try:
            _, est, used = measure_against_pose(
                d.f[f"{S.CAMERAS}/{cam.name}/{S.FRAMES}"], cam.mapped_time, cam.width, {stream: (t, tw)}
            )
        except DexumiError:
            continue
        if est.peak_correlation < LATENCY_MIN_CORRELATION or abs(est.latency_s) > 0.98 * LATENCY_SEARCH_S:
            continue
        out[cam.name] = {
            "camera": cam.name,
            "camera_late_ms": float(est.latency_s * 1e3),
            "uncertainty_ms": float(est.uncertainty_s * 1e3),
            "peak_correlation": float(est.peak_correlation),
            "frame_pairs": used,
        }
    return out


def check_pose(d: EpisodeData, cfg: ValidateConfig, r: EpisodeReport) -> None:
    g = d.f.get(S.POSE)
    if g is None or not len(g):
        emit(r, cfg, "pose", "pass", "no wrist pose recorded")
        return
    t0 = d.t0
    per: dict[str, dict] = {}
    levels, notes, marks = [], [], []
    for name, pg in g.items():
        raw = _raw(pg)
        counts = bool(pg.attrs.get("counts_samples", True))
        from dexumi.episode.pose_view import stream_summary

        summ = stream_summary(raw, counts)
        t, v, w = speeds(raw, counts)
        jumps = (v > cfg.pose_speed_max_m_s) | (np.degrees(w) > cfg.pose_angular_speed_max_deg_s)
        m = {
            "samples": summ["samples"],
            "lost": summ["lost"],
            "dropped": summ["dropped"],
            "lost_fraction": summ["lost_fraction"],
            "jumps": int(jumps.sum()),
            "speed_max_m_s": float(v.max()) if len(v) else 0.0,
            "angular_speed_max_deg_s": float(np.degrees(w.max())) if len(w) else 0.0,
        }
        vp = f"{S.WRIST_POSE}/{name}/valid"
        if vp in d.f:
            valid = d.f[vp][:]
            m["aligned_invalid_fraction"] = float(1 - valid.mean()) if len(valid) else 0.0
        lats = camera_latencies(d, name) if cfg.pose_latency and len(v) else {}
        main = str(d.attrs.get(S.A_MAIN_CAMERA, ""))
        m["camera_latencies"] = lats
        m["camera_latency"] = lats.get(main) or next(iter(lats.values()), None)
        per[name] = m
        lv_loss = graded(summ["lost_fraction"], cfg.pose_loss_warn_frac, cfg.pose_loss_error_frac)
        jf = float(jumps.mean()) if len(jumps) else 0.0
        lv_jump = PASS if not jumps.any() else (ERROR if jf > cfg.pose_jump_error_frac else WARN)
        levels += [lv_loss, lv_jump]
        if lv_loss != PASS:
            notes.append(
                f"{name}: tracking lost for {summ['lost_fraction']:.1%} of samples "
                f"({summ['lost']} lost, {summ['dropped']} dropped)"
            )
        if lv_jump != PASS:
            notes.append(
                f"{name}: {int(jumps.sum())} pose jump(s) (max {m['speed_max_m_s']:.1f} m/s, "
                f"{m['angular_speed_max_deg_s']:.0f} °/s; limits {cfg.pose_speed_max_m_s:g} m/s, "
                f"{cfg.pose_angular_speed_max_deg_s:g} °/s)"
            )
            marks += list(t[jumps] - t0)
        for lat in lats.values():
            if abs(lat["camera_late_ms"]) > cfg.pose_latency_warn_ms:
                levels.append(WARN)
                notes.append(
                    f"{name}: camera {lat['camera']} is {lat['camera_late_ms']:+.1f} ms against the pose "
                    f"(± {lat['uncertainty_ms']:.1f} ms): calibrate the pose latency"
                )
    r.metrics["pose"] = per
    level = ERROR if ERROR in levels else WARN if WARN in levels else PASS
    if level == PASS:
        msg = "; ".join(
            f"{k}: {m['samples']} samples, {m['lost_fraction']:.1%} lost, no jumps"
            + "".join(f", {c} {x['camera_late_ms']:+.1f} ms" for c, x in m["camera_latencies"].items())
            for k, m in per.items()
        )
    else:
        msg = "; ".join(notes)
    emit(r, cfg, "pose", level, msg, marks or None, streams=per)

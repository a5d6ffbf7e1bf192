"""Finalising an episode file: aligned view, sync report and statistics, final attributes."""

from __future__ import annotations

import json
import logging
from enum import Enum
from typing import Any, Protocol

import h5py
import numpy as np

from dexumi.episode import schema as S
from dexumi.episode.aligned import (
    ACTION_HORIZON,
    ACTION_RULE,
    AlignedView,
    action_rule_text,
    build_aligned,
    next_step_action,
    refit_encoder_times,
)
from dexumi.episode.layout import EpisodeMeta

log = logging.getLogger(__name__)


class JointMapper(Protocol):
    """What finalising needs of a retargeter: (N, J) exoskeleton joints → (N, A) robot joints."""

    @property
    def robot_joint_names(self) -> tuple[str, ...]: ...

    def retarget(self, exo_q: np.ndarray) -> np.ndarray: ...


def _put(f: h5py.File, name: str, data: np.ndarray) -> None:
    """Fill a dataset made empty at creation (resize + write: allowed in SWMR mode)."""
    ds = f[name]
    if ds.shape[1:] != data.shape[1:]:
        raise ValueError(f"{name}: shape {data.shape} does not fit the dataset {ds.shape}")
    ds.resize(len(data), axis=0)
    if len(data):
        ds[...] = data


def _text(f: h5py.File, name: str, text: str) -> None:
    ds = f[name]
    ds.resize((1,))
    ds[0] = text


def _attr(obj: h5py.HLObject, key: str, value: object) -> None:
    if isinstance(value, Enum):  # a str Enum member (EpisodeState, Outcome): h5py stores plain str only
        value = value.value
    if key in obj.attrs:
        obj.attrs.modify(key, value)
    else:
        obj.attrs[key] = value


def read_text(f: h5py.File, name: str) -> str:
    if name not in f:
        return ""
    ds = f[name]
    if ds.shape == (0,):
        return ""
    v = ds[0] if ds.shape == (1,) else ds[()]
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def _camera_times(f: h5py.File) -> dict[str, np.ndarray]:
    cams = f.get(S.CAMERAS)
    if cams is None:
        return {}
    return {name: g["mapped_time"][:] for name, g in cams.items()}


def _camera_report(g: h5py.Group, drops: int | None) -> dict[str, Any]:
    idx = g["index"][:]
    grab = g["grab_time"][:]
    if drops is None:
        jumps = np.diff(idx) - 1
        drops = int(jumps[jumps > 0].sum())
    dt = np.diff(grab)
    return {
        "frames": int(len(idx)),
        "dropped": int(drops),
        "latency_s": float(g.attrs.get("latency_s", 0.0)),
        "rate_hz": float((len(grab) - 1) / (grab[-1] - grab[0])) if len(grab) > 1 and grab[-1] > grab[0] else 0.0,
        "interval_max_s": float(dt.max()) if len(dt) else 0.0,
        "width": int(g.attrs.get("width", 0)),
        "height": int(g.attrs.get("height", 0)),
    }


def finalize_open_file(
    f: h5py.File,
    meta: EpisodeMeta,
    state: str,
    stop_reason: str,
    retargeter: JointMapper | None,
    extra_stats: dict | None = None,
    gap_reasons: list[str] | None = None,
    camera_drops: dict[str, int] | None = None,
    device_retargeters: dict | None = None,
) -> AlignedView:
    """Compute and write the aligned view, reports and final attributes into an open (SWMR) episode file."""
    enc = f[S.ENCODER]
    n = min(enc[k].shape[0] for k in S.ENCODER_FIELDS)
    dev, host = enc["device_time_us"][:n], enc["host_time"][:n]
    seg, ang = enc["segment"][:n], enc["angles"][:n]
    names = [str(x) for x in enc["angles"].attrs.get("names", [])] or [f"j{i}" for i in range(ang.shape[1])]
    times = refit_encoder_times(dev, host, seg, float(enc.attrs.get("latency_s", 0.0)))
    cam_times = _camera_times(f)
    main = meta.main_camera if meta.main_camera in cam_times else (sorted(cam_times)[0] if cam_times else "")
    view = build_aligned(times.time, ang, cam_times, main, grid_fps=meta.nominal_fps or 30.0, segments=seg)
    if retargeter is not None and len(view):
        action = np.asarray(retargeter.retarget(view.exo_joints.astype(np.float64)), np.float32)
        action_names = list(retargeter.robot_joint_names)
    elif retargeter is not None:
        action = np.zeros((0, len(retargeter.robot_joint_names)), np.float32)
        action_names = list(retargeter.robot_joint_names)
    else:
        action, action_names = view.exo_joints.copy(), names
    if list(f[S.ACTION].attrs["names"]) != action_names:
        raise ValueError(f"action names {action_names} differ from those the file was made with")
    _put(f, S.TIMESTAMPS, view.timestamps)
    _attr(f[S.TIMESTAMPS], "source", f"{view.source}:{main}" if main else view.source)
    _put(f, S.ACTION, next_step_action(action))  # the command for the next step, never a copy of qpos
    _put(f, S.QPOS, action)
    _put(f, S.EXO_JOINTS, view.exo_joints)
    _put(f, S.VALID, view.valid)
    for cam in cam_times:
        _put(f, f"{S.IMAGES}/{cam}", view.images[cam])
        _put(f, f"{S.IMAGE_OFFSETS}/{cam}", view.image_offsets[cam])

    from dexumi.episode.pose_view import write_pose_view

    pose_report = write_pose_view(f, view.timestamps)  # observations/wrist_pose, action_wrist_pose
    report = sync_report(f, n, times, view, gap_reasons or [], camera_drops or {})
    if pose_report:
        report["pose"] = pose_report
    from dexumi.episode.device_stream import device_groups, write_device_view

    if device_groups(f):  # further devices: /raw/<role> → observations/<side>/… (issue 17)
        report["devices"] = write_device_view(f, view.timestamps, device_retargeters)
    # the per-episode latency self-check (imported here: a recorder loads its estimator only when it finalises)
    from dexumi.episode.latency_check import safe_check_open_file

    report["latency_check"] = safe_check_open_file(f, times.time)
    _text(f, S.SYNC_REPORT, json.dumps(report, indent=1))
    duration = float(view.timestamps[-1] - view.timestamps[0]) if len(view) > 1 else 0.0
    stats = {
        "aligned_frames": len(view),
        "valid_frames": int(view.valid.sum()),
        "duration_s": duration,
        "encoder_samples": int(n),
        "camera_frames": {c: int(len(t)) for c, t in cam_times.items()},
        "action_min": action.min(axis=0).tolist() if len(action) else [],
        "action_max": action.max(axis=0).tolist() if len(action) else [],
        "exo_min": view.exo_joints.min(axis=0).tolist() if len(view) else [],
        "exo_max": view.exo_joints.max(axis=0).tolist() if len(view) else [],
        "stop_reason": stop_reason,
        # no new attributes can be made in SWMR mode: the action rule is kept here
        "action_rule": {"rule": ACTION_RULE, "horizon": ACTION_HORIZON, "description": action_rule_text()},
    }
    if pose_report:
        stats["pose"] = {
            k: {x: v[x] for x in ("samples", "lost", "dropped", "lost_fraction", "aligned_valid")}
            for k, v in pose_report.items()
        }
    stats.update(extra_stats or {})
    _text(f, S.STATS, json.dumps(stats, indent=1))
    for k, v in (
        (S.A_OUTCOME, meta.outcome),
        (S.A_NOTES, meta.notes),
        (S.A_DURATION, duration),
        (S.A_STOP_REASON, stop_reason),
        (S.A_MAIN_CAMERA, main),
        (S.A_STATE, state),
    ):  # state last: a file whose state is final/recovered is complete
        _attr(f, k, v)
    f.flush()
    return view


def sync_report(
    f: h5py.File, n: int, times, view: AlignedView, gap_reasons: list[str], camera_drops: dict[str, int]
) -> dict[str, Any]:
    enc = f[S.ENCODER]
    idx = enc["index"][:n]
    seg = enc["segment"][:n]
    missing = 0
    for s in np.unique(seg):
        d = np.diff(idx[seg == s])
        missing += int(d[d > 1].sum() - (d > 1).sum())
    gaps = enc["gaps"][:] if "gaps" in enc else np.zeros((0, 2))
    host = enc["host_time"][:n]
    mapped_online = enc["mapped_time"][:n]
    resid = (times.time + float(enc.attrs.get("latency_s", 0.0))) - host
    encoder = {
        "samples": int(n),
        "latency_s": float(enc.attrs.get("latency_s", 0.0)),
        "nominal_rate_hz": float(enc.attrs.get("nominal_rate_hz", 0.0)),
        "rate_hz": float((n - 1) / (host[-1] - host[0])) if n > 1 and host[-1] > host[0] else 0.0,
        "missing_samples": missing,
        "segments": len(times.fits),
        "clock": {
            str(k): (
                None
                if e is None
                else {"drift_ppm": e.drift_ppm, "residual_ms": e.residual_ms, "points": e.points, "span_s": e.span_s}
            )
            for k, e in times.fits.items()
        },
        "arrival_minus_mapped_ms": {
            "median": float(np.median(-resid) * 1e3) if n else 0.0,
            "p99": float(np.percentile(-resid, 99) * 1e3) if n else 0.0,
        },
        "online_vs_final_mapping_ms_max": float(
            np.abs(mapped_online - times.time - float(enc.attrs.get("latency_s", 0.0))).max() * 1e3
        )
        if n
        else 0.0,
        "gaps": [
            {
                "start": float(g[0]),
                "end": float(g[1]),
                "seconds": float(g[1] - g[0]),
                "reason": gap_reasons[i] if i < len(gap_reasons) else "",
            }
            for i, g in enumerate(gaps)
        ],
    }
    cams = {name: _camera_report(g, camera_drops.get(name)) for name, g in f.get(S.CAMERAS, {}).items()}
    for name in cams:
        off = np.abs(view.image_offsets.get(name, np.zeros(0)))
        off = off[np.isfinite(off)]
        cams[name]["aligned_offset_ms_max"] = float(off.max() * 1e3) if len(off) else 0.0
        cams[name]["aligned_offset_ms_median"] = float(np.median(off) * 1e3) if len(off) else 0.0
    return {
        "clock": "host_monotonic",
        "main_camera": view.main_camera,
        "timeline": view.source,
        "aligned_frames": len(view),
        "invalid_frames": int(len(view) - view.valid.sum()),
        "encoder": encoder,
        "cameras": cams,
    }

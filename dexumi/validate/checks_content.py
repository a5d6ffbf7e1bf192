"""Content checks: joint limits, fingertip correspondence, every image decodes."""

from __future__ import annotations

import cv2
import numpy as np

from dexumi.episode import schema as S
from dexumi.episode.reader import REDUCE_FLAGS
from dexumi.validate import models
from dexumi.validate.config import ValidateConfig
from dexumi.validate.context import EpisodeData
from dexumi.validate.emit import emit, graded
from dexumi.validate.jpeg_fast import DecodeChecker
from dexumi.validate.result import EpisodeReport

IMAGE_BLOCK = 256


def check_joint_limits(d: EpisodeData, cfg: ValidateConfig, r: EpisodeReport) -> None:
    """Action and qpos within the robot hand's joint limits (matched by joint name)."""
    name = str(d.attrs.get(S.A_HAND, ""))
    kin = models.hand(name) if name else None
    if kin is None or d.action is None or not d.action_names:
        emit(r, cfg, "joint_limits", "skip", f"robot hand {name!r} not available here" if name else "no robot hand")
        return
    cols = [(i, kin.index(n)) for i, n in enumerate(d.action_names) if n in kin.joint_names]
    if not cols:
        emit(r, cfg, "joint_limits", "skip", f"action joints are not joints of {name}")
        return
    src = np.array([c[0] for c in cols])
    lo, hi = kin.lower[[c[1] for c in cols]], kin.upper[[c[1] for c in cols]]
    out: dict[str, int] = {}
    worst = 0.0
    rows = np.zeros(0, np.int64)
    for label, arr in (("action", d.action), ("qpos", d.qpos)):
        if arr is None or arr.ndim != 2 or arr.shape[1] != len(d.action_names):
            continue
        a = arr[:, src].astype(np.float64)
        excess = np.maximum(lo - a, 0.0) + np.maximum(a - hi, 0.0)
        excess = np.where(np.isfinite(excess), excess, 0.0)
        bad = excess > cfg.limit_tolerance_rad
        if bad.any():
            for j in np.flatnonzero(bad.any(axis=0)):
                key = f"{label}:{d.action_names[src[j]]}"
                out[key] = int(bad[:, j].sum())
            worst = max(worst, float(excess.max()))
            rows = np.union1d(rows, np.flatnonzero(bad.any(axis=1)))
    r.metrics["limit_violation_max_rad"] = round(worst, 5)
    exo_out = _exo_outside(d, cfg)
    if out:
        times = d.timestamps[rows] - d.t0 if d.timestamps is not None and len(d.timestamps) == len(d.action) else None
        emit(
            r,
            cfg,
            "joint_limits",
            "error",
            f"outside {name}'s limits by up to {worst:.3f} rad: "
            + ", ".join(f"{k} ({v} frames)" for k, v in list(out.items())[:4]),
            times,
            violations=out,
            max_excess_rad=worst,
        )
    elif exo_out:
        emit(
            r,
            cfg,
            "joint_limits",
            "warn",
            f"action within {name}'s limits; exoskeleton joints outside "
            f"{d.attrs.get(S.A_EXO)}'s range (calibration?): "
            + ", ".join(f"{k} by {v:.2f} rad" for k, v in list(exo_out.items())[:4]),
            exo_excess_rad=exo_out,
        )
    else:
        emit(r, cfg, "joint_limits", "pass", f"within {name}'s limits")


def _exo_outside(d: EpisodeData, cfg: ValidateConfig) -> dict[str, float]:
    """Exoskeleton joints beyond the exoskeleton model's range (a calibration hint, not a data defect)."""
    name = str(d.attrs.get(S.A_EXO, ""))
    kin = models.hand(name) if name else None
    if kin is None or d.exo is None or d.exo.ndim != 2 or len(d.exo_names) != d.exo.shape[1] or not len(d.exo):
        return {}
    out = {}
    for i, n in enumerate(d.exo_names):
        if n in kin.joint_names:
            j = kin.index(n)
            col = d.exo[:, i][np.isfinite(d.exo[:, i])]
            ex = max(float(kin.lower[j] - col.min(initial=np.inf)), float(col.max(initial=-np.inf) - kin.upper[j]), 0.0)
            if ex > cfg.limit_tolerance_rad:
                out[n] = round(ex, 4)
    return out


def check_fingertips(d: EpisodeData, cfg: ValidateConfig, r: EpisodeReport) -> None:
    """Exoskeleton vs robot fingertip distance (mm) over the episode, through the stored retarget map."""
    rt = models.retargeter(d.retarget_map)
    if rt is None or rt.tips is None or d.exo is None or d.action is None or not len(d.exo):
        emit(r, cfg, "fingertips", "skip", "no fingertip correspondence for this episode's map")
        return
    ok = np.isfinite(d.exo).all(axis=1) & np.isfinite(d.action).all(axis=1)
    if d.exo.shape[1] != len(rt.channels) or not ok.any():
        emit(r, cfg, "fingertips", "skip", "exoskeleton joints do not match the episode's map")
        return
    try:
        targets = rt.fingertip_targets(d.exo[ok].astype(np.float64))
        q = np.zeros((int(ok.sum()), rt.robot.nq))
        for i, n in enumerate(d.action_names):
            if n in rt.robot.joint_names:
                q[:, rt.robot.index(n)] = d.action[ok, i]
        pos = rt.robot.batch_positions(q, rt.tips.robot_frames)
    except Exception as exc:  # noqa: BLE001 - a model problem must not stop the other checks
        emit(r, cfg, "fingertips", "skip", f"cannot evaluate: {exc}")
        return
    err = 1000.0 * np.linalg.norm(pos - targets, axis=-1)
    p95 = float(np.percentile(err, 95))
    per_tip = {k: round(float(v), 2) for k, v in zip(rt.tips.robot_frames, err.mean(axis=0))}
    r.metrics["tip_error_mm"] = {
        "mean": round(float(err.mean()), 2),
        "p95": round(p95, 2),
        "max": round(float(err.max()), 2),
    }
    lvl = graded(p95, cfg.tip_warn_mm, cfg.tip_error_mm)
    emit(
        r,
        cfg,
        "fingertips",
        lvl,
        f"fingertip error mean {err.mean():.1f} mm, p95 {p95:.1f} mm, max {err.max():.1f} mm",
        mean_mm=float(err.mean()),
        p95_mm=p95,
        max_mm=float(err.max()),
        per_tip_mm=per_tip,
    )


def check_images(d: EpisodeData, cfg: ValidateConfig, r: EpisodeReport) -> None:
    """Every stored JPEG is structurally complete and decodes, at the size the camera declares."""
    flag = REDUCE_FLAGS.get(cfg.decode_reduce, cv2.IMREAD_REDUCED_COLOR_8)
    bad: dict[str, list[int]] = {}
    total = 0
    for cam in d.cameras.values():
        ds = d.f[f"{S.CAMERAS}/{cam.name}/{S.FRAMES}"]
        from dexumi.episode.heapcheck import readable_rows

        n = readable_rows(ds)  # a torn file: frames whose heap lies past the end are never read (HDF5 spins)
        if n < ds.shape[0]:
            bad.setdefault(cam.name, []).extend(range(n, min(ds.shape[0], n + 50)))
        want = (-(-cam.height // cfg.decode_reduce), -(-cam.width // cfg.decode_reduce)) if cam.width else None
        checker = DecodeChecker(flag, want)  # decodes a frame only when its verdict is not already known
        for k0 in range(0, n, IMAGE_BLOCK):
            try:
                block = ds[k0 : min(n, k0 + IMAGE_BLOCK)]
            except OSError:
                bad.setdefault(cam.name, []).extend(range(k0, min(n, k0 + IMAGE_BLOCK)))
                continue
            for k, buf in enumerate(block):
                total += 1
                if not checker.ok(buf):
                    bad.setdefault(cam.name, []).append(k0 + k)
    r.metrics["images"] = total
    if bad:
        times = []
        for name, idx in bad.items():
            gt = d.cameras[name].grab_time
            times += [float(gt[i]) - d.t0 for i in idx if i < len(gt)]
        emit(
            r,
            cfg,
            "images",
            "error",
            "undecodable frames: " + ", ".join(f"{k} {len(v)} (first #{v[0]})" for k, v in bad.items()),
            times,
            frames={k: v[:50] for k, v in bad.items()},
        )
    else:
        emit(r, cfg, "images", "pass", f"{total} frames decode")

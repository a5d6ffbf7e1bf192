"""The aligned training view: one timeline (the main camera's frames), encoder values at those instants.

Pure computation on arrays read back from the raw streams, so finalising and recovery build the same view.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dexumi.clock import ClockEstimate, ClockFit
from dexumi.sync import align as sync_align
from dexumi.sync import nearest_frames

ACTION_RULE = "next_state"  # action[t] = qpos[min(t + horizon, T - 1)]: the command for the next control step
ACTION_HORIZON = 1
FIT_BLOCK = 4096  # samples fed to the clock fit at a time
MAX_BRACKET_S = 0.025  # a frame whose surrounding encoder samples are further apart than this is not valid


@dataclass
class EncoderTimes:
    """Per-sample times on the recording clock after the final clock fit, and the fits per segment."""

    time: np.ndarray  # float64 (N,) mapped by the final fit of the sample's segment, minus encoder latency
    fits: dict[int, ClockEstimate | None] = field(default_factory=dict)


@dataclass
class AlignedView:
    timestamps: np.ndarray  # float64 (T,)
    exo_joints: np.ndarray  # float32 (T, J)
    valid: np.ndarray  # uint8 (T,)
    images: dict[str, np.ndarray]  # cam → int64 (T,) frame indices into the raw stream
    image_offsets: dict[str, np.ndarray]  # cam → float32 (T,) image time − timestamp
    main_camera: str = ""
    source: str = "camera"  # camera | grid (no camera: a nominal-fps grid over the encoder span)

    def __len__(self) -> int:
        return len(self.timestamps)


def next_step_action(state: np.ndarray, horizon: int = ACTION_HORIZON) -> np.ndarray:
    """The robot-hand command for step t: the state `horizon` steps later (the last state repeats at the end).

    `horizon` 0 would be the state itself (a copy of the observation), which no trainer should learn from."""
    state = np.asarray(state)
    if len(state) == 0:
        return state.copy()
    k = np.minimum(np.arange(len(state)) + int(horizon), len(state) - 1)
    return state[k].copy()


def action_rule_text(horizon: int = ACTION_HORIZON, rate: str = "aligned frame") -> str:
    return (
        f"action[t] = qpos[t+{horizon}] ({rate}s; the robot-hand joint command for the next control step; "
        f"the last frame repeats)"
    )


def refit_encoder_times(
    device_us: np.ndarray, host_time: np.ndarray, segment: np.ndarray, latency_s: float = 0.0
) -> EncoderTimes:
    """Refit each clock segment on all of its samples (what the online fit only saw incrementally)."""
    out = np.empty(len(device_us), np.float64)
    fits: dict[int, ClockEstimate | None] = {}
    for seg in np.unique(segment).tolist():
        sel = np.flatnonzero(segment == seg)
        fit = ClockFit()
        for k in range(0, len(sel), FIT_BLOCK):
            s = sel[k : k + FIT_BLOCK]
            fit.add(device_us[s], host_time[s])
        est = fit.estimate(refresh=True)
        fits[int(seg)] = est
        out[sel] = est.to_host(device_us[sel]) if est is not None else host_time[sel]
    return EncoderTimes(out - latency_s, fits)


def map_times(stamp: np.ndarray, host_time: np.ndarray, segment: np.ndarray) -> tuple[np.ndarray, dict]:
    """The final mapping of recorded stamped samples (an LSL stream, a pose stream): each segment refit on all of
    its (stamp in seconds, arrival) pairs. Returns the times and each segment's fit (drift, residual, offset)."""
    us = np.round(np.asarray(stamp, np.float64) * 1e6).astype(np.int64)
    t = refit_encoder_times(us, np.asarray(host_time, np.float64), np.asarray(segment, np.int64))
    fits = {
        str(k): (
            None
            if e is None
            else {
                "drift_ppm": e.drift_ppm,
                "residual_ms": e.residual_ms,
                "offset_s": float(e.host_at_ref - e.ref_device_us * 1e-6),
                "points": e.points,
            }
        )
        for k, e in t.fits.items()
    }
    return t.time, fits


def _strictly_increasing(t: np.ndarray) -> np.ndarray:
    """Indices of a strictly increasing subsequence (drops a frame not later than the one before it)."""
    if len(t) == 0:
        return np.zeros(0, np.int64)
    keep = np.ones(len(t), bool)
    running = np.maximum.accumulate(t)
    keep[1:] = t[1:] > running[:-1]
    return np.flatnonzero(keep)


def build_aligned(
    enc_t: np.ndarray,
    angles: np.ndarray,
    cam_times: dict[str, np.ndarray],
    main_camera: str,
    grid_fps: float = 30.0,
    segments: np.ndarray | None = None,
) -> AlignedView:
    """Interpolate joint angles at the main camera's frame times within the encoder's span.

    Each other camera contributes its frame nearest in time (index + offset). With no camera, the timeline is
    a `grid_fps` grid over the encoder span.
    """
    order = np.argsort(enc_t, kind="stable")
    et, ang = enc_t[order], angles[order]
    seg = np.zeros(len(et), np.int64) if segments is None else np.asarray(segments, np.int64)[order]
    if len(et) < 2:
        return AlignedView(
            np.zeros(0),
            np.zeros((0, angles.shape[1]), np.float32),
            np.zeros(0, np.uint8),
            {c: np.zeros(0, np.int64) for c in cam_times},
            {c: np.zeros(0, np.float32) for c in cam_times},
            main_camera,
            "camera" if main_camera else "grid",
        )
    if main_camera and main_camera in cam_times:
        mt = cam_times[main_camera]
        idx = _strictly_increasing(mt)
        idx = idx[(mt[idx] >= et[0]) & (mt[idx] <= et[-1])]
        ts = mt[idx]
        source = "camera"
    else:
        ts = np.arange(et[0], et[-1], 1.0 / grid_fps)
        idx = None
        source = "grid"
    # validity and values from dexumi.sync (segment-aware); invalid instants keep a plain interpolation so
    # that action stays finite, and are flagged in `valid`
    tl = sync_align(et, ang, ts, MAX_BRACKET_S, seg)
    exo = np.empty((len(ts), ang.shape[1]), np.float32)
    for j in range(ang.shape[1]):
        exo[:, j] = np.where(tl.valid, tl.values[:, j], np.interp(ts, et, ang[:, j]))
    valid = tl.valid.astype(np.uint8)
    images: dict[str, np.ndarray] = {}
    offsets: dict[str, np.ndarray] = {}
    for cam, t in cam_times.items():
        if idx is not None and cam == main_camera:
            images[cam] = idx.astype(np.int64)
            offsets[cam] = np.zeros(len(ts), np.float32)
            continue
        if len(t) == 0:
            images[cam] = np.full(len(ts), -1, np.int64)
            offsets[cam] = np.full(len(ts), np.nan, np.float32)
            continue
        frame_idx, off, _ = nearest_frames(t, ts, np.inf)
        images[cam] = frame_idx.astype(np.int64)
        offsets[cam] = off.astype(np.float32)
    return AlignedView(ts, exo, valid, images, offsets, main_camera, source)

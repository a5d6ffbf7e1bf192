"""Wrist pose on the recording clock, aligned to frame times, and the action conventions (docs/pose.md).

- `pose_times`: a pose stream's device times through its final clock fit, minus the stream's calibrated
  latency (exactly what `dexumi.sync` does for the encoder and cameras).
- `align_poses`: position interpolated linearly and orientation with scipy's `Slerp` at frame times, with a
  validity mask. A frame is valid only when it is an exact hit on a tracking sample, or lies between two
  *consecutive* samples (sequence numbers one apart when the source counts them) that are both tracking
  and at most `max_gap_s` apart. A tracking loss, a dropped sample or a gap is never interpolated across:
  such frames are invalid and NaN.
- Actions: the wrist pose absolute (the source's world/board frame) or relative to the episode's first
  valid frame, `T_rel(t) = T(t0)^-1 · T(t)` (the UMI / DexUMI convention: expressed in the first frame's
  wrist axes), with the rotation as quaternion, rotation vector or the 6-D representation (the first two
  columns of the rotation matrix, as UMI's policy uses).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from dexumi.clock import ClockEstimate
from dexumi.pose_sample import LOST
from dexumi.sync import StreamTiming

DEFAULT_POSE_MAX_GAP_S = 0.05


def pose_times(
    device_time: np.ndarray,
    host_time: np.ndarray,
    fit: ClockEstimate | None,
    latency_s: float | None = None,
    name: str = "pose",
) -> tuple[np.ndarray, StreamTiming]:
    """Recording-clock times of pose samples: device time through `fit` (host time without one) − latency."""
    dev = np.asarray(device_time, np.float64)
    if fit is not None:
        t = np.asarray(fit.to_host(np.round(dev * 1e6).astype(np.int64)), np.float64)
        method = "final clock fit"
    else:
        t, method = np.asarray(host_time, np.float64).copy(), "host time"
    lat = float(latency_s or 0.0)
    timing = StreamTiming(
        name,
        "pose",
        method,
        lat,
        latency_s is not None,
        len(t),
        1,
        [fit.drift_ppm] if fit is not None else [],
        [fit.residual_ms] if fit is not None else [],
    )
    return t - lat, timing


@dataclass
class PoseTimeline:
    """Wrist pose at frame times: what `observations/wrist_pose/<name>` stores."""

    timestamps: np.ndarray  # float64 (T,)
    position: np.ndarray  # float64 (T, 3) metres; NaN where not valid
    orientation: np.ndarray  # float64 (T, 4) x, y, z, w, sign-continuous; NaN where not valid
    valid: np.ndarray  # bool (T,)
    nearest_s: np.ndarray  # float64 (T,) distance to the nearest pose sample (inf: none)
    max_gap_s: float = DEFAULT_POSE_MAX_GAP_S

    def __len__(self) -> int:
        return len(self.timestamps)

    def matrices(self) -> np.ndarray:
        """(T, 4, 4) poses; NaN where not valid."""
        return pose_matrices(self.position, self.orientation)


def align_poses(
    times: np.ndarray,
    position: np.ndarray,
    orientation: np.ndarray,
    state: np.ndarray | None,
    frame_times: np.ndarray,
    index: np.ndarray | None = None,
    max_gap_s: float = DEFAULT_POSE_MAX_GAP_S,
) -> PoseTimeline:
    """Pose samples (times on the recording clock, all of them, lost ones included) at `frame_times`."""
    t = np.asarray(times, np.float64)
    pos = np.asarray(position, np.float64).reshape(-1, 3)
    quat = np.asarray(orientation, np.float64).reshape(-1, 4)
    n = len(t)
    ok = np.ones(n, bool) if state is None else np.asarray(state) != LOST
    ok &= np.isfinite(pos).all(axis=1) & np.isfinite(quat).all(axis=1)
    idx = None if index is None else np.asarray(index, np.int64)
    if n and np.any(np.diff(t) < 0):
        order = np.argsort(t, kind="stable")
        t, pos, quat, ok = t[order], pos[order], quat[order], ok[order]
        idx = None if idx is None else idx[order]
    ft = np.asarray(frame_times, np.float64)
    out_p = np.full((len(ft), 3), np.nan)
    out_q = np.full((len(ft), 4), np.nan)
    if n == 0:
        inf = np.full(len(ft), np.inf)
        return PoseTimeline(ft.copy(), out_p, out_q, np.zeros(len(ft), bool), inf, max_gap_s)
    k = np.searchsorted(t, ft, side="right")  # t[k-1] <= ft < t[k]
    has_l, has_r = k >= 1, k < n
    lc, rc = np.clip(k - 1, 0, n - 1), np.clip(k, 0, n - 1)
    exact = has_l & (t[lc] == ft) & ok[lc]
    consecutive = np.ones(len(ft), bool)
    if idx is not None:
        counted = (idx[lc] >= 0) & (idx[rc] >= 0)
        consecutive = ~counted | (idx[rc] - idx[lc] == 1)
    valid = exact | (has_l & has_r & ok[lc] & ok[rc] & consecutive & (t[rc] - t[lc] <= max_gap_s))
    nearest = np.minimum(np.where(has_l, ft - t[lc], np.inf), np.where(has_r, t[rc] - ft, np.inf))
    if valid.any():
        # Every valid frame lies between two neighbouring tracking samples, which are neighbours in the
        # tracking-only series too: Slerp over that series is the per-pair slerp.
        tt, keep = np.unique(t[ok], return_index=True)
        pp, qq = pos[ok][keep], quat[ok][keep]
        fv = ft[valid]
        if len(tt) == 1:
            out_p[valid], rot = pp[0], Rotation.from_quat(np.repeat(qq[:1], len(fv), axis=0))
        else:
            out_p[valid] = np.stack([np.interp(fv, tt, pp[:, j]) for j in range(3)], axis=1)
            rot = Slerp(tt, Rotation.from_quat(qq))(fv)
        out_q[valid] = continuous_quaternions(rot.as_quat())
    return PoseTimeline(ft.copy(), out_p, out_q, valid, nearest, max_gap_s)


def continuous_quaternions(q: np.ndarray) -> np.ndarray:
    """Flip signs so each quaternion is in the hemisphere of the previous one (q and -q: same rotation)."""
    q = np.array(q, np.float64, copy=True)
    for i in range(1, len(q)):
        if np.dot(q[i], q[i - 1]) < 0:
            q[i] = -q[i]
    return q


def pose_matrices(position: np.ndarray, orientation: np.ndarray) -> np.ndarray:
    """(T, 4, 4) homogeneous poses from positions (T, 3) and quaternions x, y, z, w (T, 4); NaN rows stay NaN."""
    p = np.asarray(position, np.float64).reshape(-1, 3)
    q = np.asarray(orientation, np.float64).reshape(-1, 4)
    T = np.full((len(p), 4, 4), np.nan)
    ok = np.isfinite(p).all(axis=1) & np.isfinite(q).all(axis=1)
    T[:, 3] = [0.0, 0.0, 0.0, 1.0]
    if ok.any():
        T[ok, :3, :3] = Rotation.from_quat(q[ok]).as_matrix()
        T[ok, :3, 3] = p[ok]
    return T


def relative_to_first(
    position: np.ndarray, orientation: np.ndarray, valid: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Poses relative to the first valid one: `T(t0)^-1 · T(t)` as (positions, quaternions x, y, z, w).

    The first valid frame becomes the identity; invalid frames stay NaN. No valid frame: all NaN.
    """
    T = pose_matrices(position, orientation)
    ok = np.isfinite(T).all(axis=(1, 2)) if valid is None else np.asarray(valid, bool) & np.isfinite(T).all(axis=(1, 2))
    p_out = np.full((len(T), 3), np.nan)
    q_out = np.full((len(T), 4), np.nan)
    if not ok.any():
        return p_out, q_out
    T0_inv = np.linalg.inv(T[int(np.argmax(ok))])
    rel = T0_inv[None] @ T[ok]
    p_out[ok] = rel[:, :3, 3]
    q_out[ok] = continuous_quaternions(Rotation.from_matrix(rel[:, :3, :3]).as_quat())
    return p_out, q_out


ROTATIONS = ("quat", "rotvec", "rot6d")


def pose_action(
    position: np.ndarray,
    orientation: np.ndarray,
    valid: np.ndarray | None = None,
    frame: str = "relative",
    rotation: str = "rot6d",
    prefix: str = "wrist",
) -> tuple[np.ndarray, list[str]]:
    """The wrist-pose part of an action/state vector and its names.

    `frame`: "absolute" (the source's world frame) or "relative" (to the first valid frame).
    `rotation`: "quat" (x, y, z, w), "rotvec" (axis·angle, rad) or "rot6d" (rotation-matrix columns 0 and 1).
    Names: `{prefix}_x, _y, _z` then `{prefix}_qx.._qw` | `_rx.._rz` | `_r00, _r10, _r20, _r01, _r11, _r21`
    (r<row><col> of the rotation matrix).
    """
    if frame not in ("absolute", "relative"):
        raise ValueError(f"frame must be 'absolute' or 'relative', got {frame!r}")
    if rotation not in ROTATIONS:
        raise ValueError(f"rotation must be one of {', '.join(ROTATIONS)}, got {rotation!r}")
    p = np.asarray(position, np.float64).reshape(-1, 3)
    q = np.asarray(orientation, np.float64).reshape(-1, 4)
    ok = np.asarray(np.isfinite(p).all(axis=1) & np.isfinite(q).all(axis=1))
    if valid is not None:
        ok &= np.asarray(valid, bool)
    if frame == "relative":
        p, q = relative_to_first(p, q, ok)
    names = [f"{prefix}_x", f"{prefix}_y", f"{prefix}_z"]
    if rotation == "quat":
        rot = q.copy()
        names += [f"{prefix}_q{c}" for c in "xyzw"]
    else:
        width = 3 if rotation == "rotvec" else 6
        rot = np.full((len(q), width), np.nan)
        if ok.any():
            R = Rotation.from_quat(q[ok])
            rot[ok] = (
                R.as_rotvec() if rotation == "rotvec" else R.as_matrix()[:, :, :2].transpose(0, 2, 1).reshape(-1, 6)
            )
        names += (
            [f"{prefix}_r{c}" for c in "xyz"]
            if rotation == "rotvec"
            else [f"{prefix}_r{r}{c}" for c in "01" for r in "012"]
        )
    out = np.concatenate([p, rot], axis=1)
    out[~ok] = np.nan
    return out, names

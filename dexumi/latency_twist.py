"""Camera latency against a 6-DoF wrist pose: the image's optical flow regressed on the wrist's twist.

A wrist camera turns and moves with the wrist, so the mean flow of its image over a pair of frames is, to first
order, a fixed linear function of the camera's body-frame twist (rotation: independent of the scene's depth;
translation: weighted by inverse depth) averaged over the same interval. For every candidate lag the twist of
the pose stream is averaged over each frame pair's interval shifted by that lag, and the mean flows are
fitted to it by least squares (with a constant); the lag that explains the flow best (largest R²) is the
latency, refined on a finer grid around the peak and a parabola through its neighbours. Unlike a correlation of speeds, the
fit uses the motion's direction about every axis, so a brisk irregular motion (the world's `shake` script,
or a collector shaking the camera) pins the lag within a few milliseconds.

The uncertainty is the standard error of the same estimate made on independent blocks of the recording.
Convention as in `dexumi.latency`: `latency_s` is how much later a camera timestamp is than the moment its
image shows, against the pose stream's clock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from dexumi.errors import DexumiError
from dexumi.latency import LatencyEstimate, parabola_peak

log = logging.getLogger(__name__)

FLOW_WIDTH = 80  # px the flow is computed at (aspect kept): as accurate as 160 px on the world, 4× faster


def mean_flow(a: np.ndarray, b: np.ndarray, width: int = FLOW_WIDTH) -> np.ndarray:
    """The mean dense optical flow (x, y) from image `a` to image `b`, in pixels of the images scaled to
    `width`. (Its rotation and expansion about the centre were tried as further moments: noisier, and they
    pulled the lag by up to 2 ms on the world's cameras.)"""
    ga, gb = _grey(a), _grey(b)
    if ga.shape[1] != width:
        size = (width, max(8, int(round(width * ga.shape[0] / ga.shape[1]))))
        ga, gb = (cv2.resize(x, size, interpolation=cv2.INTER_AREA) for x in (ga, gb))
    flow = cv2.calcOpticalFlowFarneback(ga, gb, None, 0.5, 3, 15, 3, 5, 1.2, 0)  # type: ignore[call-overload, unused-ignore]  # older OpenCV stubs omit flow=None
    return flow.reshape(-1, 2).mean(axis=0).astype(np.float64)


def _grey(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img


def pair_flows(pairs: Iterable[tuple[np.ndarray, np.ndarray]], width: int = FLOW_WIDTH) -> np.ndarray:
    """`mean_flow` of each (earlier, later) image pair: (n, 2)."""
    out = [mean_flow(a, b, width) for a, b in pairs]
    return np.array(out) if out else np.zeros((0, 2))


def body_twist(
    times: np.ndarray, positions: np.ndarray, quats_xyzw: np.ndarray, pairs: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The wrist's body-frame twist between pose samples i and i+1 for each i of `pairs` (default: all):
    (midpoint times, (k, 6)) with columns linear velocity (m/s) then angular velocity (rad/s), both in sample
    i's frame."""
    t = np.asarray(times, np.float64)
    p = np.asarray(positions, np.float64)
    q = np.asarray(quats_xyzw, np.float64)
    i = np.arange(len(t) - 1) if pairs is None else np.asarray(pairs, np.int64)
    if len(i) == 0:
        return np.zeros(0), np.zeros((0, 6))
    r0, r1 = Rotation.from_quat(q[i]), Rotation.from_quat(q[i + 1])
    dt = (t[i + 1] - t[i])[:, None]
    lin = r0.inv().apply(p[i + 1] - p[i]) / dt
    ang = (r0.inv() * r1).as_rotvec() / dt
    return 0.5 * (t[i] + t[i + 1]), np.hstack([lin, ang])


class _IntervalMean:
    """Mean of a piecewise-constant signal over arbitrary intervals, from its running integral."""

    def __init__(self, times: np.ndarray, values: np.ndarray) -> None:
        # values[i] holds over [edges[i], edges[i+1]]: sample i sits at the middle of its interval
        t = np.asarray(times, np.float64)
        mids = 0.5 * (t[1:] + t[:-1])
        self.edges = np.concatenate([[t[0] - (mids[0] - t[0])], mids, [t[-1] + (t[-1] - mids[-1])]])
        seg = np.diff(self.edges)[:, None] * values
        self.cum = np.vstack([np.zeros((1, values.shape[1])), np.cumsum(seg, axis=0)])
        self.values = values

    def integral(self, at: np.ndarray) -> np.ndarray:
        e = self.edges
        i = np.clip(np.searchsorted(e, at, side="right") - 1, 0, len(e) - 2)
        return self.cum[i] + (at - e[i])[:, None] * self.values[i]

    def mean(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (self.integral(b) - self.integral(a)) / np.maximum(b - a, 1e-9)[:, None]

    @property
    def span(self) -> tuple[float, float]:
        return float(self.edges[0]), float(self.edges[-1])


def _r2(x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of the variance of the (standardised) columns of `y` explained by a linear fit on `x` + 1."""
    a = np.hstack([x, np.ones((len(x), 1))])
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    res = y - a @ coef
    tot = ((y - y.mean(axis=0)) ** 2).sum()
    return float(1.0 - (res**2).sum() / tot) if tot > 0 else 0.0


def _fit_lag(
    twist: _IntervalMean, starts: np.ndarray, ends: np.ndarray, flow: np.ndarray, lags: np.ndarray
) -> tuple[float, float]:
    """(lag s, R² at the peak) of the flow of frame pairs over [starts, ends] against the twist."""
    y = (flow - flow.mean(axis=0)) / np.maximum(flow.std(axis=0), 1e-12)
    r2 = np.array([_r2(twist.mean(starts - lag, ends - lag), y) for lag in lags])
    j, frac = parabola_peak(r2)
    step = float(lags[1] - lags[0]) if len(lags) > 1 else 0.0
    return float(lags[j] + frac * step), float(r2[j])


def _search(
    twist: _IntervalMean, starts: np.ndarray, ends: np.ndarray, flow: np.ndarray, lags: np.ndarray
) -> tuple[float, float]:
    """`_fit_lag` over `lags`, then again on a 10× finer grid around the peak (a parabola through coarse
    steps is biased by the peak's skew)."""
    lag, _ = _fit_lag(twist, starts, ends, flow, lags)
    step = float(lags[1] - lags[0]) if len(lags) > 1 else 0.001
    fine = np.arange(lag - 2 * step, lag + 2 * step + step / 20, step / 10)
    return _fit_lag(twist, starts, ends, flow, fine)


def estimate_latency_from_twist(
    pose_times: np.ndarray,
    twist: np.ndarray,
    pair_starts: np.ndarray,
    pair_ends: np.ndarray,
    flow: np.ndarray,
    search_s: float = 0.3,
    step_s: float = 0.002,
    block_s: float = 10.0,
) -> LatencyEstimate:
    """How late the camera's timestamps are against the pose stream's clock.

    `twist` (n, 6) at `pose_times` (`body_twist`); `flow` (m, D) the mean flows (`mean_flow`) of frame pairs
    whose frames are stamped `pair_starts` and `pair_ends` (latency not subtracted). `peak_correlation` is
    √R² of the fit.
    """
    pt = np.asarray(pose_times, np.float64)
    tw = np.asarray(twist, np.float64)
    a, b = np.asarray(pair_starts, np.float64), np.asarray(pair_ends, np.float64)
    fl = np.asarray(flow, np.float64)
    good = np.isfinite(tw).all(axis=1)
    pt, tw = pt[good], tw[good]
    if len(pt) < 10 or len(a) < 20:
        raise DexumiError(f"latency estimate needs more data: {len(pt)} pose samples, {len(a)} frame pairs")
    mean = _IntervalMean(pt, tw)
    lo, hi = mean.span
    inside = (a - search_s >= lo) & (b + search_s <= hi) & np.isfinite(fl).all(axis=1) & (b > a)
    a, b, fl = a[inside], b[inside], fl[inside]
    if len(a) < 20:
        raise DexumiError(
            f"latency estimate needs more overlap of camera and pose: {len(a)} frame pairs inside the pose "
            f"stream's span less ±{search_s:g} s"
        )
    if not np.any(fl.std(axis=0) > 1e-9) or not np.any(tw.std(axis=0) > 1e-12):
        raise DexumiError("latency estimate: no motion in one of the streams (move the wrist while recording)")
    lags = np.arange(-search_s, search_s + step_s / 2, step_s)
    lag, r2 = _search(mean, a, b, fl, lags)
    block_lags = []
    nblocks = int((a[-1] - a[0]) // block_s) if block_s > 0 else 0
    for k in range(nblocks if nblocks >= 2 else 0):
        sel = (a >= a[0] + k * block_s) & (a < a[0] + (k + 1) * block_s)
        if sel.sum() >= 20:
            block_lags.append(_search(mean, a[sel], b[sel], fl[sel], lags)[0])
    unc = float(np.std(block_lags, ddof=1) / np.sqrt(len(block_lags))) if len(block_lags) >= 2 else step_s / 2
    est = LatencyEstimate(
        float(lag), unc, float(np.sqrt(max(r2, 0.0))), 0.0, len(block_lags), block_lags, float(b[-1] - a[0])
    )
    log.info("pose-camera %s", est)
    if abs(lag) > search_s * 0.98:
        log.warning("pose-camera latency %.0f ms is at the edge of the ±%.0f ms window", lag * 1e3, search_s * 1e3)
    return est

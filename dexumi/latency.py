"""Camera-vs-encoder latency from data: cross-correlation of the same motion seen by both streams.

As UMI's latency utility does, both motion signals are resampled on a common 1 kHz grid, normalised, and
cross-correlated over a search window (±0.5 s); the peak is refined to sub-sample precision by a parabola
through its three highest points. The camera's signal must come from its images: for the sim camera, the
fingers' flexion measured from the pixels (`flexion_from_jpegs`); for a real camera filming the
exoskeleton, optical-flow motion energy (`motion_energy`) against the joints' speed (`joint_speed`).

The uncertainty is the standard error of the same estimate made on independent blocks of the recording
(`block_s` each); the correlation peak's width is reported too.

Convention: `latency_s` is how much later a camera timestamp is than the moment its image shows, so that
`recording time of a frame = timestamp − latency_s` (what `dexumi.sync.camera_times` subtracts).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from dexumi.errors import DexumiError
from dexumi.finger_bars import measure_flexion
from dexumi.jpeg import decode_jpeg

log = logging.getLogger(__name__)


@dataclass
class LatencyEstimate:
    latency_s: float  # camera timestamp − true time of what the image shows
    uncertainty_s: float  # standard error over blocks (or half the peak's sub-sample spread if one block)
    peak_correlation: float  # normalised correlation at the peak (1 = identical shapes)
    peak_width_s: float  # full width of the peak at half its height above the window's minimum
    blocks: int
    block_latencies_s: list[float]
    span_s: float  # length of the overlap used

    def __str__(self) -> str:
        return (
            f"latency {self.latency_s * 1e3:.2f} ± {self.uncertainty_s * 1e3:.2f} ms "
            f"(peak r={self.peak_correlation:.3f}, {self.blocks} blocks over {self.span_s:.1f} s)"
        )


def _resample(t: np.ndarray, x: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Linear resampling of each channel, skipping NaN samples (failed measurements)."""
    out = np.empty((len(grid), x.shape[1]))
    for c in range(x.shape[1]):
        ok = np.isfinite(x[:, c])
        out[:, c] = np.interp(grid, t[ok], x[ok, c]) if ok.sum() >= 2 else 0.0
    return out


def parabola_peak(values: np.ndarray) -> tuple[int, float]:
    """(index of the largest value, sub-sample offset in [-0.5, 0.5] of a parabola's vertex through it and
    its two neighbours; 0 at an edge or where the three points do not curve down)."""
    j = int(np.argmax(values))
    if not 0 < j < len(values) - 1:
        return j, 0.0
    y0, y1, y2 = values[j - 1], values[j], values[j + 1]
    den = y0 - 2 * y1 + y2
    return j, float(0.5 * (y0 - y2) / den) if den < 0 else 0.0


def _peak(ref: np.ndarray, cam: np.ndarray, m: int, rate_hz: float) -> tuple[float, float, float]:
    """(lag s, correlation, width s) of cam against ref; ref is m samples longer on each side than cam.

    Normalised cross-correlation: at every lag the reference window is normalised on its own, so a
    change of the motion's amplitude across the search window does not pull the peak.
    """
    from scipy.signal import correlate  # here: scipy.signal costs ~1 s of every recorder's start

    n = len(cam)
    c = cam - cam.mean(axis=0)
    corr = np.zeros(2 * m + 1)
    active = 0
    for ch in range(ref.shape[1]):
        cn = float(np.sqrt(np.sum(c[:, ch] ** 2)))
        if cn <= 1e-12:
            continue
        r = ref[:, ch] - ref[:, ch].mean()
        s1 = np.concatenate([[0.0], np.cumsum(r)])
        s2 = np.concatenate([[0.0], np.cumsum(r * r)])
        win1, win2 = s1[n:] - s1[:-n], s2[n:] - s2[:-n]  # sums over each window of length n
        rn = np.sqrt(np.maximum(win2 - win1 * win1 / n, 1e-24))
        corr += correlate(r, c[:, ch], mode="valid", method="fft") / (rn * cn)
        active += 1
    corr /= max(1, active)
    j, frac = parabola_peak(corr)
    half = corr.min() + 0.5 * (corr[j] - corr.min())
    above = np.flatnonzero(corr >= half)
    width = (above[-1] - above[0] + 1) / rate_hz if len(above) else 0.0
    # cam[i] ≈ ref[i − L]: the best alignment is j = m − L
    return (m - (j + frac)) / rate_hz, float(corr[j]), width


def estimate_latency(
    ref_times: np.ndarray,
    ref_signal: np.ndarray,
    cam_times: np.ndarray,
    cam_signal: np.ndarray,
    search_s: float = 0.5,
    rate_hz: float = 1000.0,
    block_s: float = 5.0,
) -> LatencyEstimate:
    """How late the camera's timestamps are against the reference (encoder) clock.

    `ref_signal` (n,) or (n, C) at `ref_times` (the encoder on the recording clock); `cam_signal` (m,) or
    (m, C) at `cam_times` (frame timestamps, latency not subtracted). Channels pair up; their correlations
    are summed. Needs motion: a still hand has nothing to correlate.
    """
    rt, ct = np.asarray(ref_times, np.float64), np.asarray(cam_times, np.float64)
    rs, cs = np.asarray(ref_signal, np.float64), np.asarray(cam_signal, np.float64)
    rs = rs[:, None] if rs.ndim == 1 else rs
    cs = cs[:, None] if cs.ndim == 1 else cs
    if rs.shape[1] != cs.shape[1]:
        raise ValueError(f"{rs.shape[1]} reference channels but {cs.shape[1]} camera channels")
    lo, hi = max(rt[0], ct[0]), min(rt[-1], ct[-1])
    m = int(round(search_s * rate_hz))
    span = hi - lo - 2 * search_s
    if span < 4 * search_s:
        raise DexumiError(
            f"latency estimate needs more overlap of the two streams: {hi - lo:.1f} s (at least {6 * search_s:.1f} s)"
        )
    grid = lo + np.arange(int((hi - lo) * rate_hz)) / rate_hz
    ref = _resample(rt, rs, grid)
    cam = _resample(ct, cs, grid)
    if not np.any(cam.std(axis=0) > 1e-12) or not np.any(ref.std(axis=0) > 1e-12):
        raise DexumiError("latency estimate: no motion in one of the streams (move the fingers while recording)")
    inner = cam[m : len(cam) - m]
    lag, r, width = _peak(ref, inner, m, rate_hz)
    block = int(block_s * rate_hz)
    nblocks = len(inner) // block if block > 0 else 0
    lags = []
    for b in range(nblocks if nblocks >= 2 else 0):
        a = b * block
        lags.append(_peak(ref[a : a + block + 2 * m], inner[a : a + block], m, rate_hz)[0])
    unc = float(np.std(lags, ddof=1) / np.sqrt(len(lags))) if len(lags) >= 2 else 0.5 / rate_hz
    est = LatencyEstimate(float(lag), unc, r, width, len(lags), [float(x) for x in lags], float(hi - lo))
    log.info("%s", est)
    if abs(lag) > search_s * 0.98:
        log.warning(
            "latency estimate %.0f ms is at the edge of the ±%.0f ms search window: widen it", lag * 1e3, search_s * 1e3
        )
    return est


# ------------------------------------------------------------------------------------- motion signals


def flexion_from_jpegs(frames: Iterable[bytes | np.ndarray], reduce: int = 4) -> np.ndarray:
    """Per-finger flexion (n, 5) measured from sim-camera JPEGs (pixels only, decoded at 1/`reduce` size)."""
    return np.array([measure_flexion(decode_jpeg(f, reduce)) for f in frames])


def motion_energy(images: Iterable[np.ndarray], size: tuple[int, int] = (160, 100)) -> np.ndarray:
    """Mean optical-flow magnitude between consecutive images (n,), first value repeated: for real cameras.

    Dense Farneback flow on small grey images; pair with `joint_speed` of the encoder, at the times
    `motion_energy_times` gives (the middle of each pair of frames).
    """
    out: list[float] = []
    prev = None
    for img in images:
        g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
        g = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
        if prev is not None:
            flow = cv2.calcOpticalFlowFarneback(prev, g, None, 0.5, 2, 9, 2, 5, 1.1, 0)  # type: ignore[call-overload, unused-ignore]  # older OpenCV stubs omit flow=None
            out.append(float(np.mean(np.hypot(flow[..., 0], flow[..., 1]))))
        prev = g
    return np.array(out[:1] + out) if out else np.zeros(1 if prev is not None else 0)


def motion_energy_times(times: np.ndarray) -> np.ndarray:
    """The moment each `motion_energy` value describes: the middle of its frame and the one before it.

    The flow between frames k−1 and k measures the motion between them; stamping it with frame k's time would
    make every camera look half a frame later than it is (17 ms at 30 fps). The first value (a copy of the
    second) gets the second's moment."""
    t = np.asarray(times, np.float64)
    if len(t) < 2:
        return t.copy()
    mid = 0.5 * (t[1:] + t[:-1])
    return np.concatenate([mid[:1], mid])


def joint_speed(times: np.ndarray, angles: np.ndarray, smooth_s: float = 0.02) -> np.ndarray:
    """Total joint speed |dq/dt| summed over joints (n,), lightly smoothed: the encoder's motion energy."""
    t = np.asarray(times, np.float64)
    q = np.asarray(angles, np.float64)
    q = q[:, None] if q.ndim == 1 else q
    dq = np.gradient(q, t, axis=0)
    speed = np.abs(dq).sum(axis=1)
    if smooth_s > 0 and len(t) > 2:
        dt = float(np.median(np.diff(t)))
        k = max(1, int(round(smooth_s / dt)))
        speed = np.convolve(speed, np.ones(k) / k, mode="same")
    return speed

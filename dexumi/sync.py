"""Every stream on one recording clock (host monotonic seconds), and the encoder aligned to camera frames.

- Encoder samples: the device time of each sample mapped by the drift-corrected clock fit of its clock
  segment — at the end of a recording, the *final* fit (refit on everything), applied to all samples, so
  the first seconds get the same accuracy as the last. Device resets start a new segment with its own fit.
- Camera frames: the frame's timestamp minus the stream's calibrated latency (exposure → timestamp).
  The timestamp is the source's own timestamp when that is on the host clock (V4L2 buffer times, the sim
  camera) — it carries no user-space scheduling delay, where grab times under load have outliers of
  10 ms and more — else the grab time. An uncalibrated stream uses latency 0 and says so in a warning.
- `align()` interpolates encoder values (float, never rounded) at the frame times; a frame is valid only
  when encoder samples of the same segment lie on both sides within `max_gap_s` of each other (an exact
  hit is valid too). Outside the stream, across gaps or across a device reset: invalid, values NaN.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from dexumi.clock import ClockEstimate, ClockFit
from dexumi.types import CameraFrame, EncoderBatch

log = logging.getLogger(__name__)

DEFAULT_MAX_GAP_S = 0.025


@dataclass
class StreamTiming:
    """How one stream's times were put on the recording clock."""

    name: str
    kind: str  # "encoder" | "camera"
    method: str  # "final clock fit" | "online clock fit" | "grab time" | "device time"
    latency_s: float = 0.0
    calibrated: bool = True
    samples: int = 0
    segments: int = 1
    drift_ppm: list[float] = field(default_factory=list)  # per clock segment (encoder)
    residual_ms: list[float] = field(default_factory=list)  # per clock segment (encoder)


@dataclass
class AlignedTimeline:
    """Encoder values at camera frame times: what the episode writer stores as the aligned training view."""

    timestamps: np.ndarray  # float64 (T,) frame times on the recording clock
    values: np.ndarray  # float64 (T, J) interpolated encoder values; NaN where not valid
    valid: np.ndarray  # bool (T,) bracketed by samples of one segment within max_gap_s (or an exact hit)
    nearest_s: np.ndarray  # float64 (T,) distance to the nearest encoder sample (inf: no samples)
    bracket_s: np.ndarray  # float64 (T,) spacing of the two samples interpolated between (inf: none)
    segment: np.ndarray  # int64 (T,) encoder clock segment used (-1: none)
    max_gap_s: float = DEFAULT_MAX_GAP_S
    streams: dict[str, StreamTiming] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.timestamps)

    @property
    def valid_count(self) -> int:
        return int(self.valid.sum())

    def summary(self) -> dict[str, Any]:
        """Figures for reports (JSON-friendly)."""
        ok = self.valid
        return {
            "frames": len(self),
            "valid_frames": self.valid_count,
            "nearest_ms_max": float(self.nearest_s[ok].max() * 1e3) if ok.any() else None,
            "nearest_ms_median": float(np.median(self.nearest_s[ok]) * 1e3) if ok.any() else None,
            "max_gap_ms": self.max_gap_s * 1e3,
        }


# ------------------------------------------------------------------------------------- recording clock


def encoder_times(
    device_time_us: np.ndarray,
    segment: np.ndarray,
    fits: Mapping[int, ClockEstimate | None] | Sequence[ClockEstimate | None],
    fallback: np.ndarray | None = None,
) -> np.ndarray:
    """Recording-clock times of encoder samples: each sample's device time through its segment's fit.

    Samples of a segment without a fit get `fallback` (e.g. host receive times), else NaN.
    """
    d = np.asarray(device_time_us, np.int64)
    seg = np.asarray(segment, np.int64)
    out = np.full(len(d), np.nan) if fallback is None else np.asarray(fallback, np.float64).copy()
    get = fits.get if isinstance(fits, Mapping) else (lambda k: fits[k] if 0 <= k < len(fits) else None)
    for k in np.unique(seg).tolist():
        est = get(int(k))
        if est is not None:
            sel = seg == k
            out[sel] = est.to_host(d[sel])
    return out


class _Segment(Protocol):
    @property
    def fit(self) -> ClockFit: ...


class _Segmented(Protocol):
    """What `final_fits` needs of an encoder driver: its clock segments."""

    @property
    def segments(self) -> Sequence[_Segment]: ...


def final_fits(driver: _Segmented) -> list[ClockEstimate | None]:
    """Each clock segment's fit of an EncoderDriver, refit on everything it saw (call at the end)."""
    return [s.fit.estimate(refresh=True) for s in driver.segments]


def encoder_stream(
    batches: Iterable[EncoderBatch],
    fits: Sequence[ClockEstimate | None] | Mapping[int, ClockEstimate | None],
    name: str = "encoder",
    final: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, StreamTiming]:
    """(times, angles, segments, timing) of encoder batches, all remapped with `fits` (one per segment)."""
    batches = list(batches)
    if not batches:
        return np.empty(0), np.empty((0, 0)), np.empty(0, np.int64), StreamTiming(name, "encoder", "none", samples=0)
    dev = np.concatenate([b.device_time_us for b in batches])
    seg = np.concatenate([np.full(len(b), b.segment, np.int64) for b in batches])
    host = np.concatenate([b.host_time for b in batches])
    angles = np.concatenate([b.angles for b in batches])
    times = encoder_times(dev, seg, fits, fallback=host)
    ests = list(fits.values()) if isinstance(fits, Mapping) else list(fits)
    timing = StreamTiming(
        name,
        "encoder",
        "final clock fit" if final else "online clock fit",
        samples=len(times),
        segments=int(len(np.unique(seg))),
        drift_ppm=[e.drift_ppm for e in ests if e is not None],
        residual_ms=[e.residual_ms for e in ests if e is not None],
    )
    return times, angles, seg, timing


def camera_times(
    grab_time: np.ndarray, latency_s: float | None, name: str = "camera", device_time: np.ndarray | None = None
) -> tuple[np.ndarray, StreamTiming]:
    """Recording-clock times of camera frames: timestamp − latency.

    `device_time`: the source's own timestamps when they are on the host clock (preferred: no user-space
    scheduling delay in them). `latency_s=None` means uncalibrated: 0 is used and a warning logged.
    """
    calibrated = latency_s is not None
    if not calibrated:
        log.warning("camera %s has no calibrated latency: using 0 s (run the latency calibration)", name)
    lat = float(latency_s or 0.0)
    if device_time is not None:
        stamps, method = np.asarray(device_time, np.float64), "device time"
    else:
        stamps, method = np.asarray(grab_time, np.float64), "grab time"
    return stamps - lat, StreamTiming(name, "camera", method, lat, calibrated, len(stamps))


def frame_times(
    frames: Sequence[CameraFrame],
    latency_s: float | None,
    name: str = "camera",
    device_time_is_host_clock: bool = False,
) -> tuple[np.ndarray, StreamTiming]:
    """`camera_times` of CameraFrames: their device times if the source says those are on the host clock
    (`source.device_time_is_host_clock`) and every frame has one, else their grab times."""
    grab = np.fromiter((f.grab_time for f in frames), np.float64, len(frames))
    dev = None
    if device_time_is_host_clock and all(f.device_time is not None for f in frames):
        dev = np.fromiter((f.device_time for f in frames), np.float64, len(frames))
    return camera_times(grab, latency_s, name, dev)


# ------------------------------------------------------------------------------------------- alignment


def align(
    encoder_times: np.ndarray,
    encoder_values: np.ndarray,
    frame_times: np.ndarray,
    max_gap_s: float = DEFAULT_MAX_GAP_S,
    segments: np.ndarray | None = None,
    wrap_period: float | None = None,
    streams: Mapping[str, StreamTiming] | None = None,
) -> AlignedTimeline:
    """Encoder values linearly interpolated (float64) at `frame_times`, with per-frame validity.

    `segments`: the encoder samples' clock segment (no interpolation between segments).
    `wrap_period`: interpolate angles that wrap (e.g. 2π) the short way round.
    """
    t = np.asarray(encoder_times, np.float64)
    v = np.asarray(encoder_values, np.float64)
    squeeze = v.ndim == 1
    v = v[:, None] if squeeze else v
    seg = np.zeros(len(t), np.int64) if segments is None else np.asarray(segments, np.int64)
    ft = np.asarray(frame_times, np.float64)
    if len(t) and np.any(np.diff(t) < 0):
        order = np.argsort(t, kind="stable")
        t, v, seg = t[order], v[order], seg[order]
    n = len(t)
    if n == 0:
        inf = np.full(len(ft), np.inf)
        values = np.full((len(ft), v.shape[1]), np.nan)
        return AlignedTimeline(
            ft.copy(),
            values[:, 0] if squeeze else values,
            np.zeros(len(ft), bool),
            inf,
            inf.copy(),
            np.full(len(ft), -1, np.int64),
            max_gap_s,
            dict(streams or {}),
        )
    k = np.searchsorted(t, ft, side="right")  # t[k-1] <= ft < t[k]
    has_left, has_right = k >= 1, k < n
    lc, rc = np.clip(k - 1, 0, n - 1), np.clip(k, 0, n - 1)
    exact = has_left & (t[lc] == ft)
    bracket = np.where(has_left & has_right, t[rc] - t[lc], np.inf)
    valid = exact | (has_left & has_right & (bracket <= max_gap_s) & (seg[lc] == seg[rc]))
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(exact | ~valid, 0.0, (ft - t[lc]) / np.where(bracket > 0, bracket, 1.0))
    d = v[rc] - v[lc]
    if wrap_period:
        d = (d + wrap_period / 2) % wrap_period - wrap_period / 2
    values = v[lc] + w[:, None] * d
    if wrap_period:
        values = (values + wrap_period / 2) % wrap_period - wrap_period / 2
    values[~valid] = np.nan
    nearest = np.minimum(np.where(has_left, ft - t[lc], np.inf), np.where(has_right, t[rc] - ft, np.inf))
    out_seg = np.where(valid, seg[lc], -1)
    return AlignedTimeline(
        ft.copy(),
        values[:, 0] if squeeze else values,
        valid,
        nearest,
        np.where(valid, np.where(exact, 0.0, bracket), np.inf),
        out_seg,
        max_gap_s,
        dict(streams or {}),
    )


def nearest_frames(
    frame_times: np.ndarray, at_times: np.ndarray, max_offset_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each of `at_times`, the nearest frame of another camera: (index, offset_s, valid).

    Used to attach a second camera's frames to the main camera's timeline; index is -1 when invalid.
    """
    ft = np.asarray(frame_times, np.float64)
    at = np.asarray(at_times, np.float64)
    if len(ft) == 0:
        return np.full(len(at), -1, np.int64), np.full(len(at), np.nan), np.zeros(len(at), bool)
    order = np.argsort(ft, kind="stable")
    st = ft[order]
    j = np.clip(np.searchsorted(st, at), 0, len(st) - 1)
    prev = np.maximum(j - 1, 0)
    j = np.where(np.abs(st[prev] - at) <= np.abs(st[j] - at), prev, j)
    offset = st[j] - at
    valid = np.abs(offset) <= max_offset_s
    return np.where(valid, order[j], -1).astype(np.int64), offset, valid

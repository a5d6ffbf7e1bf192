"""Encoder calibration from a guided range-of-motion capture: per-channel zero, sign, scale and range.

The collector holds reference poses (`calibration.poses`: flat, fist, spread, opposition) and sweeps each
finger. For every channel a straight line angle = a·x + b is fitted through the held poses (x = the
driver's calibration input: raw counts for v1 boards, V/V_ref in turns for legacy ratiometric boards), so
sign = sign(a), scale = |a| and zero = −b — exactly what `EncoderCalibration.apply` undoes. Full-turn
sensors are unwrapped around each channel's circular mean before fitting, so a sensor whose 0/2π point
falls inside the joint's range calibrates as well as any other. A short flat hold later (the zero check)
tells whether a sensor drifted since the calibration.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from calibration.profile import ChannelCalibration
from dexumi.errors import DexumiError
from dexumi.types import EncoderBatch, EncoderCalibration
from dexumi.vocab import Protocol
from firmware_bridge import legacy

log = logging.getLogger(__name__)

MIN_REFERENCE_SPAN_RAD = 0.1  # a channel's poses must differ by at least this much
MAX_HOLD_MOTION_RAD = math.radians(2.0)  # a "held" pose that moves more than this is rejected
DEFAULT_ZERO_TOLERANCE_RAD = math.radians(2.0)


@dataclass
class EncoderInput:
    """How raw counts become the calibration's input x, and how x wraps."""

    protocol: str = "v1"  # v1: x = counts; legacy: x = V / V_ref (turns)
    resolution_bits: int = 24

    @property
    def period(self) -> float | None:
        """x per full sensor turn for wrapping sensors (legacy ratiometric), None if x never wraps."""
        return 1.0 if self.protocol == Protocol.LEGACY else None

    @property
    def nominal_scale(self) -> float:
        """Radians per unit of x before calibration (the board's nominal conversion)."""
        return 2 * math.pi if self.protocol == Protocol.LEGACY else math.pi / float(1 << (self.resolution_bits - 1))

    def x(self, raw: np.ndarray) -> np.ndarray:
        """Raw counts (n, channels) → calibration input (n, joints): ratiometric for legacy boards."""
        if self.protocol == Protocol.LEGACY:
            return legacy.ratiometric_angles(raw) / (2 * np.pi)
        return np.asarray(raw, dtype=np.float64)

    def reference_volts(self, raw: np.ndarray) -> np.ndarray | None:
        """Legacy boards: the reference channel in volts (the ratiometric denominator); else None."""
        if self.protocol != Protocol.LEGACY:
            return None
        return legacy.counts_to_volts(np.asarray(raw)[:, -2])


@dataclass
class EncoderSamples:
    """Calibration input over time: `time` (n,) on the host clock, `x` (n, joints)."""

    time: np.ndarray
    x: np.ndarray
    reference_volts: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.time)

    def window(self, t0: float, t1: float) -> EncoderSamples:
        m = (self.time >= t0) & (self.time < t1)
        ref = self.reference_volts[m] if self.reference_volts is not None else None
        return EncoderSamples(self.time[m], self.x[m], ref)


class SampleBuffer:
    """Collects the driver's batches as calibration input (the whole capture is a few MB at most)."""

    def __init__(self, encoder_input: EncoderInput) -> None:
        self.input = encoder_input
        self._t: list[np.ndarray] = []
        self._x: list[np.ndarray] = []
        self._v: list[np.ndarray] = []

    def add(self, batches: Sequence[EncoderBatch]) -> None:
        for b in batches:
            if len(b):
                self._t.append(np.asarray(b.mapped_time, np.float64))
                self._x.append(self.input.x(b.raw))
                v = self.input.reference_volts(b.raw)
                if v is not None:
                    self._v.append(v)

    def samples(self) -> EncoderSamples:
        if not self._t:
            return EncoderSamples(np.empty(0), np.empty((0, 0)))
        t = np.concatenate(self._t)
        x = np.concatenate(self._x)
        if len(self._t) > 1:
            self._t, self._x = [t], [x]
        v = np.concatenate(self._v) if self._v else None
        if v is not None:
            self._v = [v]
        return EncoderSamples(t, x, v)

    def window(self, t0: float, t1: float) -> EncoderSamples:
        return self.samples().window(t0, t1)

    def latest(self) -> np.ndarray | None:
        return self._x[-1][-1] if self._x else None


def circular_center(x: np.ndarray, period: float) -> np.ndarray:
    """Per-channel circular mean of x (n, joints) with the given period."""
    return stats.circmean(x, high=period, low=0.0, axis=0)


def unwrap_around(x: np.ndarray, center: np.ndarray, period: float | None) -> np.ndarray:
    """x moved by whole periods to lie within half a period of `center` (identity if period is None)."""
    if period is None:
        return x
    return center + (x - center + period / 2) % period - period / 2


@dataclass
class HoldCapture:
    """A held pose: the reference angles and the x measured over its stillest stretch."""

    name: str
    reference: np.ndarray  # (joints,) radians
    x: np.ndarray  # (joints,) median over the still stretch
    motion_rad: np.ndarray  # (joints,) standard deviation over that stretch, in nominal radians
    samples: int
    t0: float = 0.0
    t1: float = 0.0


def capture_hold(
    samples: EncoderSamples,
    reference: np.ndarray,
    name: str,
    encoder_input: EncoderInput,
    still_s: float = 0.5,
    center: np.ndarray | None = None,
) -> HoldCapture:
    """The stillest `still_s` of a hold window → median x per channel. DexumiError if the hand moved."""
    n = len(samples)
    if n < 10:
        raise DexumiError(f"pose '{name}': only {n} encoder samples captured; is the exoskeleton streaming?")
    period = encoder_input.period
    x = samples.x
    if period is not None:
        x = unwrap_around(x, circular_center(x, period) if center is None else center, period)
    rate = (n - 1) / max(samples.time[-1] - samples.time[0], 1e-9)
    w = int(min(n, max(10, round(still_s * rate))))
    step = max(1, w // 4)
    starts = np.arange(0, n - w + 1, step)
    scale = encoder_input.nominal_scale
    motion = np.array([np.std(x[s : s + w], axis=0).sum() for s in starts])
    best = int(starts[int(np.argmin(motion))])
    seg = x[best : best + w]
    spread = np.std(seg, axis=0) * scale
    if np.max(spread) > MAX_HOLD_MOTION_RAD:
        j = int(np.argmax(spread))
        raise DexumiError(
            f"pose '{name}': channel {j} moved {math.degrees(spread[j]):.1f}° while it should be "
            f"held still; redo the step and hold the pose"
        )
    return HoldCapture(
        name,
        np.asarray(reference, np.float64),
        np.median(seg, axis=0),
        spread,
        w,
        float(samples.time[best]),
        float(samples.time[best + w - 1]),
    )


@dataclass
class ChannelFit:
    """One channel's result: angle = sign·scale·x − zero; residuals over the held poses."""

    name: str
    zero_rad: float
    sign: int
    scale: float
    residual_rms_rad: float
    residual_max_rad: float
    range_rad: tuple[float, float] = (-math.pi, math.pi)
    center_x: float | None = None  # circular mean of x for wrapping channels


@dataclass
class EncoderFit:
    """The encoder calibration: per-channel fits plus how x was made."""

    channels: list[ChannelFit]
    encoder_input: EncoderInput = field(default_factory=EncoderInput)
    reference_volts: tuple[float, float] | None = None  # legacy: mean and std of V_ref during the capture

    @property
    def wrap(self) -> bool:
        return self.encoder_input.period is not None

    def calibration(self, profile_id: str = "") -> EncoderCalibration:
        return EncoderCalibration(
            tuple(c.zero_rad for c in self.channels),
            tuple(float(c.sign) for c in self.channels),
            tuple(c.scale for c in self.channels),
            self.wrap,
            profile_id,
        )

    def channel_calibrations(self) -> list[ChannelCalibration]:
        return [
            ChannelCalibration(c.name, c.zero_rad, c.sign, c.scale, c.range_rad, c.residual_rms_rad)
            for c in self.channels
        ]

    def angles(self, x: np.ndarray) -> np.ndarray:
        return self.calibration().apply(x)

    def summary(self) -> list[dict]:
        return [
            {
                "channel": c.name,
                "sign": c.sign,
                "zero_deg": round(math.degrees(c.zero_rad), 3),
                "scale_rad_per_count": c.scale,
                "residual_deg": round(math.degrees(c.residual_max_rad), 4),
                "range_deg": [round(math.degrees(v), 1) for v in c.range_rad],
            }
            for c in self.channels
        ]


def fit_encoders(
    holds: Sequence[HoldCapture], names: Sequence[str], encoder_input: EncoderInput, centers: np.ndarray | None = None
) -> EncoderFit:
    """Least-squares line per channel through the held poses. DexumiError names a channel that cannot be
    calibrated (its poses do not differ, or its sensor did not change)."""
    if len(holds) < 2:
        raise DexumiError(f"need at least two held poses to calibrate the encoders, got {len(holds)}")
    ref = np.stack([h.reference for h in holds])
    x = np.stack([h.x for h in holds])
    if ref.shape[1] != len(names) or x.shape[1] != len(names):
        raise DexumiError(
            f"the capture has {x.shape[1]} channels but the exoskeleton model has {len(names)} "
            f"joints ({', '.join(names)}); pick the model of this exoskeleton"
        )
    noise = encoder_input.nominal_scale
    out = []
    for j, name in enumerate(names):
        r, xj = ref[:, j], x[:, j]
        if np.ptp(r) < MIN_REFERENCE_SPAN_RAD:
            raise DexumiError(
                f"channel '{name}': the reference poses do not move it (span "
                f"{math.degrees(np.ptp(r)):.1f}°); the exoskeleton model's poses are degenerate"
            )
        if np.ptp(xj) * noise < 0.2 * np.ptp(r):
            raise DexumiError(
                f"channel '{name}': its sensor hardly changed between the poses "
                f"({', '.join(h.name for h in holds)}); is it connected and did the joint move?"
            )
        a, b = np.polyfit(xj, r, 1)
        res = a * xj + b - r
        out.append(
            ChannelFit(
                name,
                float(-b),
                1 if a > 0 else -1,
                float(abs(a)),
                float(np.sqrt(np.mean(res**2))),
                float(np.max(np.abs(res))),
                center_x=None if centers is None else float(centers[j]),
            )
        )
    fit = EncoderFit(out, encoder_input)
    period = encoder_input.period
    if period is not None:
        for c in out:
            if abs(c.scale * period - 2 * np.pi) > 0.02 * 2 * np.pi:
                log.warning(
                    "channel %s: one sensor turn is %.1f° of joint, not 360°; angles near the sensor's "
                    "wrap point will be off",
                    c.name,
                    math.degrees(c.scale * period),
                )
    return fit


def observed_ranges(fit: EncoderFit, samples: EncoderSamples, centers: np.ndarray | None = None) -> None:
    """Set each channel's `range_rad` to the range of calibrated angles seen (0.5–99.5 percentiles)."""
    if len(samples) == 0:
        return
    x = unwrap_around(samples.x, centers, fit.encoder_input.period) if centers is not None else samples.x
    cal = fit.calibration()
    angles = np.asarray(cal.sign) * x * np.asarray(cal.scale_rad_per_count) - np.asarray(cal.zero_rad)
    lo, hi = np.percentile(angles, [0.5, 99.5], axis=0)
    for c, a, b in zip(fit.channels, lo, hi):
        c.range_rad = (float(a), float(b))


@dataclass
class ZeroCheck:
    """Drift since calibration: calibrated angles at the flat pose minus the flat reference."""

    drift_rad: np.ndarray
    tolerance_rad: float
    names: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return bool(np.all(np.abs(self.drift_rad) <= self.tolerance_rad))

    @property
    def worst(self) -> tuple[str, float]:
        j = int(np.argmax(np.abs(self.drift_rad)))
        return self.names[j], float(self.drift_rad[j])

    def message(self) -> str:
        name, d = self.worst
        verdict = "ok" if self.ok else "DRIFTED: recalibrate"
        return f"zero check {verdict}: worst channel {name} {math.degrees(d):+.2f}° (tolerance ±{math.degrees(self.tolerance_rad):.1f}°)"


def zero_check(
    calibration: EncoderCalibration,
    samples: EncoderSamples,
    names: Sequence[str],
    encoder_input: EncoderInput,
    reference: np.ndarray | None = None,
    tolerance_rad: float = DEFAULT_ZERO_TOLERANCE_RAD,
) -> ZeroCheck:
    """Hold the flat pose briefly; compare what the calibration reads with the pose's reference angles."""
    if calibration.channels != samples.x.shape[1]:
        raise DexumiError(
            f"zero check: the profile has {calibration.channels} channels but the device gives {samples.x.shape[1]}"
        )
    hold = capture_hold(
        samples, np.zeros(calibration.channels) if reference is None else reference, "zero_check", encoder_input
    )
    angles = calibration.apply(hold.x[None, :])[0]
    return ZeroCheck(angles - hold.reference, tolerance_rad, tuple(names))

"""Data that flows between drivers, sync, retargeting and the episode writer."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class EncoderBatch:
    """Consecutive encoder samples as they arrived. Times: host monotonic seconds unless named `_us`."""

    index: np.ndarray  # int64 (n,) the device's sample sequence numbers
    device_time_us: np.ndarray  # int64 (n,) device clock, unwrapped
    host_time: np.ndarray  # float64 (n,) host receive time of the bytes that completed the sample's frame
    mapped_time: np.ndarray  # float64 (n,) device time mapped onto the host clock by the fit at that moment
    raw: np.ndarray  # int32 (n, channels) raw ADC counts
    angles: np.ndarray  # float64 (n, joints) joint angles in radians (calibrated if a calibration was given)
    segment: int = 0  # device-clock segment: +1 whenever the device restarted

    def __len__(self) -> int:
        return len(self.index)


@dataclass(frozen=True)
class EncoderCalibration:
    """Per-channel conversion of raw counts to joint angles: angle = sign * (counts * scale) - zero.

    `scale` is radians per count, `zero` the angle (after sign) that reads as zero. Full-turn sensors are
    unwrapped around `zero` so that a joint at the wrap point does not jump by 2π.
    """

    zero_rad: tuple[float, ...]
    sign: tuple[float, ...]
    scale_rad_per_count: tuple[float, ...]
    wrap: bool = False
    profile_id: str = ""

    @property
    def channels(self) -> int:
        return len(self.zero_rad)

    def apply(self, counts: np.ndarray) -> np.ndarray:
        c = np.asarray(counts, dtype=np.float64)
        angles: np.ndarray = np.asarray(self.sign) * c * np.asarray(self.scale_rad_per_count) - np.asarray(
            self.zero_rad
        )
        if self.wrap:
            angles = (angles + np.pi) % (2 * np.pi) - np.pi
        return angles


@dataclass
class GapEvent:
    """A stretch of time with no data from a stream (unplug, radio drop, lost frames)."""

    start: float  # host time of the last data before the gap
    end: float  # host time of the first data after it
    missing_samples: int | None = None  # exact when sequence numbers tell, else None
    reason: str = ""


@dataclass
class StreamStats:
    """A snapshot of one stream's health, for status displays and reports."""

    name: str
    connected: bool = False
    protocol: str = ""
    frames: int = 0
    samples: int = 0
    rate_hz: float = 0.0
    nominal_rate_hz: float = 0.0
    crc_errors: int = 0
    resync_bytes: int = 0
    gaps: int = 0
    missing_samples: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    reconnects: int = 0
    device_resets: int = 0
    overflows: int = 0
    device_errors: int = 0
    drift_ppm: float = 0.0
    residual_ms: float = 0.0
    last_data_age_s: float = float("inf")
    gap_events: list[GapEvent] = field(default_factory=list)


@dataclass
class CameraFrame:
    """One frame as a camera delivered it. Times: host monotonic seconds."""

    camera: str  # stream name, e.g. "wrist0"
    index: int  # the source's frame counter: a jump means frames were dropped
    grab_time: float  # host time when the frame was grabbed
    data: bytes | np.ndarray  # JPEG bytes as the camera sent them (MJPG pass-through), or a decoded BGR image
    encoding: str  # "jpeg" or "bgr"
    width: int
    height: int
    device_time: float | None = None  # the source's own timestamp, when it gives one

"""What an episode holds: its metadata and the shape of its streams (plain data, no I/O)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


def utc_now() -> str:
    """UTC ISO 8601 with a Z, to the second."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class EncoderLayout:
    """The encoder stream: raw ADC channels and calibrated joints (names in the retarget map's order)."""

    channels: int
    joint_names: tuple[str, ...]
    nominal_rate_hz: float = 0.0
    latency_s: float = 0.0  # subtracted from mapped times when aligning
    device: str = ""  # device id / port, informational


@dataclass
class CameraLayout:
    """One camera stream. `latency_s` = grab time − exposure time (from the calibration profile)."""

    name: str
    width: int
    height: int
    encoding: str = "jpeg"
    fps: float = 0.0
    latency_s: float = 0.0
    spec: str = ""


@dataclass
class EpisodeMeta:
    """Root attributes and texts written at episode start (outcome and notes may change until the end)."""

    number: int
    task: str = ""
    operator: str = ""
    robot_hand: str = ""
    exoskeleton: str = ""
    nominal_fps: float = 0.0
    software_version: str = ""
    calibration_profile_id: str = ""
    calibration_profile_yaml: str = ""
    retarget_map_yaml: str = ""
    main_camera: str = ""
    created_utc: str = field(default_factory=utc_now)
    outcome: str = "unknown"
    notes: str = ""
    session_json: str = "{}"

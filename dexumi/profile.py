"""Calibration profiles: one human-readable, versioned YAML file per exoskeleton (the format; the procedures
that make one live in `calibration/`).

`load_profile(path)`, `save_profile(profile, path)`, `validate_profile(path | mapping)`. Loading validates every key and reports the first problem in one line naming the key; nothing in a
profile can execute code (yaml.safe_load only).
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from dexumi.checked_doc import KeyPath, load_document, read_text
from dexumi.errors import DexumiError
from dexumi.safe_output import TargetExists, write_atomic
from dexumi.safe_yaml import YamlError
from dexumi.types import EncoderCalibration

FORMAT = "dexumi-profile"
VERSION = 1
TOP_KEYS = frozenset(
    {
        "format",
        "version",
        "id",
        "created",
        "device",
        "hand",
        "exoskeleton",
        "encoder",
        "cameras",
        "latencies_s",
        "latency_uncertainty_s",
        "mapping",
        "notes",
        "report",
        "handeye",
        "camera_mounts",
    }
)
HANDEYE_VERSION = 1
HANDEYE_KEYS = frozenset(
    {
        "version",
        "tracker",
        "camera",
        "T_tracker_camera",
        "T_base_camera",
        "T_tracker_base",
        "latency_s",
        "residual_mm",
        "residual_deg",
        "views",
        "method",
    }
)


class ProfileError(DexumiError):
    """A profile file that cannot be used, with the offending key in the message (and its path in `path`)."""

    def __init__(self, message: str, path: KeyPath = ()) -> None:
        super().__init__(message)
        self.path = path


@dataclass
class ChannelCalibration:
    """One encoder channel: angle = sign * counts * scale_rad_per_count - zero_rad."""

    name: str
    zero_rad: float
    sign: int
    scale_rad_per_count: float
    range_rad: tuple[float, float] = (-math.pi, math.pi)
    residual_rad: float = 0.0  # RMS fit residual over the held poses


@dataclass
class CameraIntrinsics:
    """A camera's intrinsics (OpenCV conventions) as calibrated, with the figures of that calibration."""

    model: str  # pinhole | fisheye
    width: int
    height: int
    matrix: list[list[float]]
    distortion: list[float]
    rms_px: float = 0.0
    views: int = 0
    coverage: float = 0.0  # fraction of the image grid's cells that saw board corners


@dataclass
class HandEye:
    """The optional `handeye` section (version 1): tracker ↔ wrist camera ↔ exoskeleton base, pose latency.

    `T_tracker_camera` is the camera (OpenCV axes) in the tracker's frame; `T_base_camera` the camera in the
    exoskeleton base (wrist) frame, from the mount; `T_tracker_base` = T_tracker_camera · T_base_camera⁻¹.
    `latency_s`: how late the pose stream is against the camera's mapped times (+ = later)."""

    tracker: str
    camera: str
    T_tracker_camera: list[list[float]]
    latency_s: float
    residual_mm: float
    residual_deg: float
    views: int
    T_base_camera: list[list[float]] | None = None
    T_tracker_base: list[list[float]] | None = None
    method: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"version": HANDEYE_VERSION, **_plain(asdict(self))}


@dataclass
class Profile:
    id: str
    created: str
    device: dict[str, Any]
    channels: list[ChannelCalibration]
    wrap: bool = False
    encoder_input: str = "counts"  # counts (v1 boards) | ratiometric (legacy boards: V / V_ref in turns)
    cameras: dict[str, CameraIntrinsics] = field(default_factory=dict)
    latencies_s: dict[str, float] = field(default_factory=dict)
    latency_uncertainty_s: dict[str, float] = field(default_factory=dict)
    mapping: str | None = None
    hand: str | None = None
    exoskeleton: str | None = None
    notes: str = ""
    report: dict[str, Any] = field(default_factory=dict)  # figures of the calibration run (residuals, checks)
    source: Path | None = None
    handeye: HandEye | None = None
    # optional versioned section: camera -> dexumi.visual.mount.CameraMount (camera ↔ exoskeleton extrinsics)
    camera_mounts: dict[str, Any] = field(default_factory=dict)

    def encoder_calibration(self) -> EncoderCalibration:
        return EncoderCalibration(
            tuple(c.zero_rad for c in self.channels),
            tuple(float(c.sign) for c in self.channels),
            tuple(c.scale_rad_per_count for c in self.channels),
            self.wrap,
            self.id,
        )

    def to_dict(self) -> dict[str, Any]:
        d = {
            "format": FORMAT,
            "version": VERSION,
            "id": self.id,
            "created": self.created,
            "device": dict(self.device),
            "hand": self.hand,
            "exoskeleton": self.exoskeleton,
            "encoder": {
                "wrap": bool(self.wrap),
                "input": self.encoder_input,
                "channels": [
                    {
                        "name": c.name,
                        "zero_rad": float(c.zero_rad),
                        "sign": int(c.sign),
                        "scale_rad_per_count": float(c.scale_rad_per_count),
                        "range_rad": [float(x) for x in c.range_rad],
                        "residual_rad": float(c.residual_rad),
                    }
                    for c in self.channels
                ],
            },
            "cameras": {k: asdict(v) for k, v in self.cameras.items()},
            "latencies_s": {k: float(v) for k, v in self.latencies_s.items()},
            "latency_uncertainty_s": {k: float(v) for k, v in self.latency_uncertainty_s.items()},
            "mapping": self.mapping,
            "notes": self.notes,
            "report": _plain(self.report),
            **({"handeye": self.handeye.to_dict()} if self.handeye is not None else {}),
        }
        if self.camera_mounts:
            from dexumi.visual.mount import SECTION, mounts_to_dict

            d[SECTION] = mounts_to_dict(self.camera_mounts)
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)


def _plain(value: Any) -> Any:
    """Numbers, strings, lists and dicts only (numpy scalars/arrays become Python ones): safe_dump-able."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Enum):  # a str Enum member (Protocol, ...): its plain string
        return value.value
    return value


def new_profile_id(device_id: str) -> str:
    return f"{device_id or 'device'}-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# ------------------------------------------------------------------------------------------- validation
# Every check names its key path (("encoder", "channels", 1, "zero_rad") reads 'encoder.channels[1].zero_rad');
# `load_profile` adds the key's line from the file (`dexumi.checked_doc`).


def _key(path: KeyPath) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p)) for i, p in enumerate(path))


def _bad(path: KeyPath, text: str) -> ProfileError:
    """ProfileError "'key.path' TEXT" at `path`."""
    return ProfileError(f"'{_key(path)}' {text}", path)


def _req(d: dict, path: KeyPath, key: str) -> Any:
    if not isinstance(d, dict) or key not in d:
        raise ProfileError(f"missing key '{_key(path + (key,))}'", path + (key,))
    return d[key]


def _num(value: Any, path: KeyPath) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad(path, f"must be a finite number, not {value!r}")
    return float(value)


def _str(value: Any, path: KeyPath) -> str:
    if not isinstance(value, str) or not value:
        raise _bad(path, f"must be a non-empty string, not {value!r}")
    return value


def _int(value: Any, path: KeyPath, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _bad(path, f"must be an integer >= {low}, not {value!r}")
    return value


def _opt_str(doc: dict, key: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise _bad((key,), f"must be a string, not {value!r}")
    return value


def _channel(c: Any, i: int) -> ChannelCalibration:
    at: KeyPath = ("encoder", "channels", i)
    if not isinstance(c, dict):
        raise _bad(at, f"must be a mapping, not {type(c).__name__}")
    sign = _num(_req(c, at, "sign"), at + ("sign",))
    if sign not in (1.0, -1.0):
        raise _bad(at + ("sign",), f"must be 1 or -1, not {c['sign']!r}")
    scale = _num(_req(c, at, "scale_rad_per_count"), at + ("scale_rad_per_count",))
    if scale <= 0:
        raise _bad(at + ("scale_rad_per_count",), "must be positive")
    rng = c.get("range_rad", [-math.pi, math.pi])
    if not isinstance(rng, list) or len(rng) != 2:
        raise _bad(at + ("range_rad",), "must be [low, high]")
    lo, hi = (_num(x, at + ("range_rad",)) for x in rng)
    return ChannelCalibration(
        _str(c.get("name", f"ch{i}"), at + ("name",)),
        _num(_req(c, at, "zero_rad"), at + ("zero_rad",)),
        int(sign),
        scale,
        (lo, hi),
        _num(c.get("residual_rad", 0.0), at + ("residual_rad",)),
    )


def _camera(key: str, c: Any) -> CameraIntrinsics:
    at: KeyPath = ("cameras", key)
    if not isinstance(c, dict):
        raise _bad(at, "must be a mapping")
    matrix = _req(c, at, "matrix")
    if not isinstance(matrix, list) or len(matrix) != 3 or not all(isinstance(r, list) and len(r) == 3 for r in matrix):
        raise _bad(at + ("matrix",), "must be a 3×3 list")
    dist = _req(c, at, "distortion")
    if not isinstance(dist, list):
        raise _bad(at + ("distortion",), "must be a list")
    model = _str(c.get("model", "pinhole"), at + ("model",))
    if model not in ("pinhole", "fisheye"):
        raise _bad(at + ("model",), "must be pinhole or fisheye")
    allowed = (4,) if model == "fisheye" else (4, 5, 8, 12, 14)
    if len(dist) not in allowed:
        expected = "4" if model == "fisheye" else "4, 5, 8, 12 or 14"
        raise _bad(at + ("distortion",), f"of a {model} camera needs {expected} coefficients, not {len(dist)}")
    return CameraIntrinsics(
        model,
        _int(_req(c, at, "width"), at + ("width",)),
        _int(_req(c, at, "height"), at + ("height",)),
        [[_num(x, at + ("matrix",)) for x in r] for r in matrix],
        [_num(x, at + ("distortion",)) for x in dist],
        _num(c.get("rms_px", 0.0), at + ("rms_px",)),
        _int(c.get("views", 0), at + ("views",), 0),
        _num(c.get("coverage", 0.0), at + ("coverage",)),
    )


def _rigid(value: Any, path: KeyPath) -> list[list[float]]:
    """A 4×4 rigid transform (rotation orthonormal to 1e-6, last row 0 0 0 1)."""
    if not isinstance(value, list) or len(value) != 4 or not all(isinstance(r, list) and len(r) == 4 for r in value):
        raise _bad(path, "must be a 4×4 list")
    m = [[_num(x, path) for x in r] for r in value]
    R = [r[:3] for r in m[:3]]
    for i in range(3):
        for j in range(3):
            dot = sum(R[k][i] * R[k][j] for k in range(3))
            if abs(dot - (1.0 if i == j else 0.0)) > 1e-6:
                raise _bad(path, "is not a rigid transform (its rotation is not orthonormal)")
    if m[3] != [0.0, 0.0, 0.0, 1.0]:
        raise _bad(path, "must end with the row [0, 0, 0, 1]")
    return m


def _handeye(doc: Any) -> HandEye:
    at: KeyPath = ("handeye",)
    if not isinstance(doc, dict):
        raise _bad(at, "must be a mapping")
    version = _req(doc, at, "version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _bad(at + ("version",), f"must be an integer >= 1, not {version!r}")
    if version > HANDEYE_VERSION:
        raise _bad(
            at, f"section version {version} is newer than this dexumi understands ({HANDEYE_VERSION}); upgrade dexumi"
        )
    unknown = sorted(set(doc) - HANDEYE_KEYS)
    if unknown:
        raise ProfileError(
            f"unknown key 'handeye.{unknown[0]}' (known: {', '.join(sorted(HANDEYE_KEYS))})", at + (unknown[0],)
        )
    opt = {
        k: (_rigid(doc[k], at + (k,)) if doc.get(k) is not None else None) for k in ("T_base_camera", "T_tracker_base")
    }
    return HandEye(
        _str(_req(doc, at, "tracker"), at + ("tracker",)),
        _str(_req(doc, at, "camera"), at + ("camera",)),
        _rigid(_req(doc, at, "T_tracker_camera"), at + ("T_tracker_camera",)),
        _num(_req(doc, at, "latency_s"), at + ("latency_s",)),
        _num(doc.get("residual_mm", 0.0), at + ("residual_mm",)),
        _num(doc.get("residual_deg", 0.0), at + ("residual_deg",)),
        _int(doc.get("views", 0), at + ("views",), 0),
        opt["T_base_camera"],
        opt["T_tracker_base"],
        str(doc.get("method") or ""),
    )


def _mapping(doc: dict, key: str, what: str) -> dict:
    value = doc.get(key) or {}
    if not isinstance(value, dict):
        raise _bad((key,), f"must be a mapping{what}")
    return value


def profile_from_dict(doc: Any, source: Path | None = None) -> Profile:
    if not isinstance(doc, dict):
        raise ProfileError("a profile must be a YAML mapping at the top level")
    if doc.get("format", FORMAT) != FORMAT:
        raise ProfileError(f"'format' is {doc.get('format')!r}, not {FORMAT!r}", ("format",))
    version = _req(doc, (), "version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _bad(("version",), f"must be an integer, not {version!r}")
    if version > VERSION:
        raise ProfileError(
            f"profile version {version} is newer than this dexumi understands ({VERSION}); upgrade dexumi", ("version",)
        )
    unknown = sorted(set(doc) - TOP_KEYS)
    if unknown:
        raise ProfileError(f"unknown key '{unknown[0]}' (known: {', '.join(sorted(TOP_KEYS))})", (unknown[0],))
    enc = _req(doc, (), "encoder")
    if not isinstance(enc, dict):
        raise _bad(("encoder",), f"must be a mapping, not {type(enc).__name__}")
    channels = _req(enc, ("encoder",), "channels")
    if not isinstance(channels, list) or not channels:
        raise _bad(("encoder", "channels"), "must be a non-empty list")
    device = doc.get("device", {})
    if not isinstance(device, dict):
        raise _bad(("device",), "must be a mapping")
    cams = _mapping(doc, "cameras", " of camera serial → intrinsics")
    lat = _mapping(doc, "latencies_s", " of stream → seconds")
    unc = _mapping(doc, "latency_uncertainty_s", " of stream → seconds")
    wrap = enc.get("wrap", False)
    if not isinstance(wrap, bool):
        raise _bad(("encoder", "wrap"), f"must be true or false, not {wrap!r}")
    enc_input = enc.get("input", "counts")
    if enc_input not in ("counts", "ratiometric"):
        raise _bad(("encoder", "input"), f"must be counts or ratiometric, not {enc_input!r}")
    report = _mapping(doc, "report", "")
    created = doc.get("created", "")
    if not isinstance(created, str):
        created = str(created)
    profile = Profile(
        id=_str(_req(doc, (), "id"), ("id",)),
        created=created,
        device=device,
        channels=[_channel(c, i) for i, c in enumerate(channels)],
        wrap=wrap,
        encoder_input=enc_input,
        cameras={str(k): _camera(str(k), v) for k, v in cams.items()},
        latencies_s={str(k): _num(v, ("latencies_s", str(k))) for k, v in lat.items()},
        latency_uncertainty_s={str(k): _num(v, ("latency_uncertainty_s", str(k))) for k, v in unc.items()},
        mapping=_opt_str(doc, "mapping"),
        hand=_opt_str(doc, "hand"),
        exoskeleton=_opt_str(doc, "exoskeleton"),
        notes=str(doc.get("notes") or ""),
        report=report,
        source=source,
        handeye=_handeye(doc["handeye"]) if doc.get("handeye") is not None else None,
    )
    if doc.get("camera_mounts"):
        from dexumi.visual.mount import mounts_from_dict

        try:
            profile.camera_mounts = mounts_from_dict(doc["camera_mounts"])
        except DexumiError as exc:
            raise ProfileError(str(exc), ("camera_mounts",)) from None
    declared = device.get("channels")
    if declared is not None:
        _int(declared, ("device", "channels"))
    if declared is not None and declared != len(profile.channels) and declared - 2 != len(profile.channels):
        raise _bad(("device", "channels"), f"says {declared} but 'encoder.channels' lists {len(profile.channels)}")
    return profile


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile file; every problem is one ProfileError line `profile PATH:LINE: ...`."""
    path = Path(path)
    if not path.exists():
        raise ProfileError(f"profile {path} does not exist")
    try:
        doc = load_document(read_text(path, "profile"), f"profile {path}")  # bounded: alias bombs, huge files
    except YamlError as exc:
        where = f" at line {exc.line}" if exc.line else ""
        raise ProfileError(f"profile {path} is not valid YAML{where}: {exc.problem}") from None
    except DexumiError as exc:
        raise ProfileError(str(exc)) from None
    try:
        return profile_from_dict(doc.data, path)
    except ProfileError as exc:
        line = doc.line(exc.path)
        raise ProfileError(f"profile {path}{f':{line}' if line else ''}: {exc}", exc.path) from None


def save_profile(profile: Profile, path: str | Path, overwrite: bool = False) -> Path:
    """Write atomically (`dexumi.safe_output.write_atomic`); refuses to replace an existing file unless told."""
    path = Path(path)
    try:
        return write_atomic(path, profile.to_yaml(), clobber=overwrite)
    except TargetExists:
        raise ProfileError(f"{path} exists; choose another name or pass --force") from None


def validate_profile(source: str | Path | dict[str, Any]) -> Profile:
    """A profile file or an already-parsed mapping, checked key by key: the `Profile`, or `ProfileError` (one line)."""
    if isinstance(source, dict):
        return profile_from_dict(source)
    return load_profile(source)

"""Camera intrinsics and the camera ↔ exoskeleton mount (extrinsics) as the visual bridge reads them.

The mount of each wrist camera lives in the calibration profile's optional, versioned `camera_mounts`
section (written by `calibration.mount`, validated here and by `calibration.profile`):

    camera_mounts:
      version: 1
      wrist0: {xyz_m: [x, y, z], rotvec_rad: [rx, ry, rz], method: edges|caps|cad, residual_px: 0.4,
               frames: 12, points: 240, prior_shift_mm: 3.1, prior_shift_deg: 1.2}

`xyz_m`/`rotvec_rad` give `T_wrist_cam`: the camera (OpenCV axes: x right, y down, z forward) in the wrist
frame of the hand models (+z wrist → fingers, +y thumb side, +x out of the palm). The profile is copied into
every episode (`meta/calibration_profile`), so an episode carries the mount it was recorded with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dexumi.errors import DexumiError

SECTION = "camera_mounts"
SECTION_VERSION = 1


@dataclass(frozen=True)
class Intrinsics:
    """OpenCV camera model: pinhole (k1 k2 p1 p2 [k3 ...]) or fisheye (k1..k4)."""

    model: str
    width: int
    height: int
    K: tuple[tuple[float, ...], ...]
    dist: tuple[float, ...]

    @classmethod
    def from_spec(cls, spec) -> Intrinsics:
        """From a simulated rig's `CameraSpec`."""
        return cls(spec.lens, spec.width, spec.height, tuple(map(tuple, spec.K())), tuple(spec.dist()))

    def scaled(self, width: int, height: int) -> Intrinsics:
        """The same lens at another image size (a resized image: focal and centre scale, distortion stays)."""
        if (width, height) == (self.width, self.height):
            return self
        sx, sy = width / self.width, height / self.height
        K = np.asarray(self.K, np.float64)
        K2 = [
            [K[0, 0] * sx, 0.0, (K[0, 2] + 0.5) * sx - 0.5],
            [0.0, K[1, 1] * sy, (K[1, 2] + 0.5) * sy - 0.5],
            [0.0, 0.0, 1.0],
        ]
        return Intrinsics(self.model, width, height, tuple(map(tuple, K2)), self.dist)


def rotvec_matrix(rv) -> np.ndarray:
    import cv2

    return cv2.Rodrigues(np.asarray(rv, np.float64).reshape(3, 1))[0]


def matrix_rotvec(R: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.Rodrigues(np.asarray(R, np.float64))[0].ravel()


def pose_error(A: np.ndarray, B: np.ndarray) -> tuple[float, float]:
    """(translation mm, rotation deg) between two 4×4 poses."""
    dt = float(np.linalg.norm(A[:3, 3] - B[:3, 3])) * 1e3
    c = (np.trace(A[:3, :3].T @ B[:3, :3]) - 1) / 2
    return dt, math.degrees(math.acos(max(-1.0, min(1.0, c))))


@dataclass
class CameraMount:
    """A camera's pose in the wrist frame and the figures of the calibration that found it."""

    xyz_m: tuple[float, float, float]
    rotvec_rad: tuple[float, float, float]
    method: str = "cad"
    residual_px: float = 0.0
    frames: int = 0
    points: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_matrix(cls, T: np.ndarray, **kw: Any) -> CameraMount:
        T = np.asarray(T, np.float64)
        x, y, z = (float(v) for v in T[:3, 3])
        rx, ry, rz = (float(v) for v in matrix_rotvec(T[:3, :3]))
        return cls((x, y, z), (rx, ry, rz), **kw)

    def matrix(self) -> np.ndarray:
        T = np.eye(4)
        T[:3, :3] = rotvec_matrix(self.rotvec_rad)
        T[:3, 3] = self.xyz_m
        return T

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "xyz_m": [float(v) for v in self.xyz_m],
            "rotvec_rad": [float(v) for v in self.rotvec_rad],
            "method": self.method,
            "residual_px": float(self.residual_px),
            "frames": int(self.frames),
            "points": int(self.points),
        }
        d.update({k: float(v) for k, v in self.extra.items()})
        return d


def _vec3(v: Any, where: str) -> tuple[float, float, float]:
    if (
        not isinstance(v, list)
        or len(v) != 3
        or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v)
    ):
        raise DexumiError(f"'{where}' must be a list of 3 finite numbers, not {v!r}")
    return float(v[0]), float(v[1]), float(v[2])


def mounts_from_dict(section: Any) -> dict[str, CameraMount]:
    """Validate a profile's `camera_mounts` section; DexumiError names the offending key."""
    if not isinstance(section, dict):
        raise DexumiError(f"'{SECTION}' must be a mapping of camera → mount")
    ver = section.get("version", SECTION_VERSION)
    if not isinstance(ver, int) or isinstance(ver, bool) or ver < 1:
        raise DexumiError(f"'{SECTION}.version' must be a positive integer, not {ver!r}")
    if ver > SECTION_VERSION:
        raise DexumiError(f"'{SECTION}' version {ver} is newer than this dexumi reads ({SECTION_VERSION})")
    out = {}
    for cam, m in section.items():
        if cam == "version":
            continue
        where = f"{SECTION}.{cam}"
        if not isinstance(m, dict):
            raise DexumiError(f"'{where}' must be a mapping")
        known = {"xyz_m", "rotvec_rad", "method", "residual_px", "frames", "points"}
        extra = {}
        for k, v in m.items():
            if k in known:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise DexumiError(f"'{where}.{k}' must be a number, not {v!r}")
            extra[str(k)] = float(v)
        for k in ("xyz_m", "rotvec_rad"):
            if k not in m:
                raise DexumiError(f"missing key '{where}.{k}'")
        res = m.get("residual_px", 0.0)
        if isinstance(res, bool) or not isinstance(res, (int, float)) or not math.isfinite(res) or res < 0:
            raise DexumiError(f"'{where}.residual_px' must be a number >= 0, not {res!r}")
        method = m.get("method", "cad")
        if not isinstance(method, str):
            raise DexumiError(f"'{where}.method' must be a string")
        ints = []
        for k in ("frames", "points"):
            v = m.get(k, 0)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise DexumiError(f"'{where}.{k}' must be an integer >= 0, not {v!r}")
            ints.append(v)
        out[str(cam)] = CameraMount(
            _vec3(m["xyz_m"], f"{where}.xyz_m"),
            _vec3(m["rotvec_rad"], f"{where}.rotvec_rad"),
            method,
            float(res),
            ints[0],
            ints[1],
            extra,
        )
    return out


def mounts_to_dict(mounts: dict[str, CameraMount]) -> dict[str, Any]:
    return {"version": SECTION_VERSION, **{k: v.to_dict() for k, v in mounts.items()}}


def intrinsics_from_dict(cam: str, c: Any) -> Intrinsics:
    """A profile's `cameras.<name>` entry (already validated by calibration.profile when loaded from a file)."""
    where = f"cameras.{cam}"
    try:
        K = tuple(tuple(float(x) for x in row) for row in c["matrix"])
        dist = tuple(float(x) for x in c["distortion"])
        model = str(c.get("model", "pinhole"))
        w, h = int(c["width"]), int(c["height"])
    except (KeyError, TypeError, ValueError):
        raise DexumiError(f"'{where}' needs model, width, height, matrix (3×3) and distortion") from None
    if len(K) != 3 or any(len(r) != 3 for r in K) or model not in ("pinhole", "fisheye"):
        raise DexumiError(f"'{where}': matrix must be 3×3 and model pinhole or fisheye")
    return Intrinsics(model, w, h, K, dist)


@dataclass
class CameraCalibration:
    """What the visual bridge needs of one camera: its lens and its mount."""

    name: str
    intrinsics: Intrinsics
    mount: CameraMount


def from_profile_text(text: str, source: str) -> tuple[dict[str, Any], dict[str, CameraMount]]:
    """(cameras section, mounts) of a profile's YAML text (an episode's `meta/calibration_profile`)."""
    from dexumi.safe_yaml import safe_load

    if not text.strip():
        return {}, {}
    doc = safe_load(text, source)
    if not isinstance(doc, dict):
        raise DexumiError(f"{source}: the calibration profile is not a mapping")
    cams = doc.get("cameras") or {}
    mounts = mounts_from_dict(doc[SECTION]) if doc.get(SECTION) else {}
    return (cams if isinstance(cams, dict) else {}), mounts


def episode_cameras(ep, cameras: list[str] | None = None) -> dict[str, CameraCalibration]:
    """Every requested camera's lens and mount from the episode's calibration profile; a one-line
    DexumiError when the episode has no calibrated mount (or no intrinsics) for one of them."""
    from dexumi.episode import schema as S

    src = f"{ep.path}"
    try:
        text = ep.text(S.CALIBRATION_PROFILE)
    except (KeyError, DexumiError):
        text = ""
    cams, mounts = from_profile_text(text, f"{src}: meta/calibration_profile")
    out = {}
    for name in cameras or ep.cameras:
        if name not in ep.cameras:
            raise DexumiError(f"{src}: no camera '{name}' (cameras: {', '.join(ep.cameras) or 'none'})")
        if name not in mounts:
            why = "no calibration profile" if not text.strip() else f"its calibration profile has no '{SECTION}.{name}'"
            raise DexumiError(
                f"{src}: camera {name} has no calibrated mount ({why}); calibrate it with "
                "`dexumi calibrate-mount` and record with that profile"
            )
        if name not in cams:
            raise DexumiError(
                f"{src}: camera {name} has no intrinsics in its calibration profile "
                f"('cameras.{name}'); calibrate the camera first"
            )
        out[name] = CameraCalibration(name, intrinsics_from_dict(name, cams[name]), mounts[name])
    return out

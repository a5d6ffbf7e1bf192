"""Camera spec strings → camera sources.

Grammar (also in docs/cameras-and-sync.md):

    SPEC    := INDEX | DEVPATH | "sim" [":" OPTIONS] | "world" [":" WOPTIONS] | "file:" PATH
    INDEX   := digits                       0, 1, ...        (OpenCV / V4L2 device index)
    DEVPATH := "/dev/" ...                  /dev/video2, /dev/v4l/by-id/usb-...-video-index0
    OPTIONS := KEY "=" VALUE ("," KEY "=" VALUE)*
    KEY     := latency | fps | width | height | size | seed | epoch | drop | motion | joints | quality
               | frames | buffers | name | flat      ("sim:flat": the flat five-bar camera, same as "sim")
    WOPTIONS := OPTIONS with KEY := name (wrist0 | wrist1) | latency | fps | width | height | size | seed
               | epoch | drop | motion | script (pick | calibration | still) | joints | quality | frames
               | buffers | noise | exposure | cameras (1 | 2) | prerender (a duration: render ahead, then play)
                                                                      (the MuJoCo world, docs/simulation.md)

Durations (`latency`) need a unit: `40ms`, `0.04s`, `40000us`. `size=1280x800` sets width and height.
`epoch` is the host monotonic time at which the motion starts (the emulator's `--motion-epoch`).
Width, height and fps for real cameras come from the arguments of `make_camera` (the CLI's flags).
"""

from __future__ import annotations

import re
from pathlib import Path

from dexumi.devices.cameras.base import CameraSource
from dexumi.devices.cameras.file import FileCamera
from dexumi.devices.cameras.opencv import OpenCVCamera
from dexumi.devices.cameras.sim import SimCamera, SimCameraConfig
from dexumi.errors import DexumiError

SPEC_HELP = "use 0, /dev/video2, /dev/v4l/by-id/..., sim[:key=value,...], world[:key=value,...] or file:PATH"
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def parse_duration(text: str, key: str) -> float:
    """'40ms' → 0.04; a bare number is refused (milliseconds or seconds? say which)."""
    m = re.fullmatch(r"\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|[-+]?\.\d+)\s*(us|ms|s)\s*", text)
    if not m:
        raise DexumiError(f"camera spec: {key}={text!r} needs a number with a unit, e.g. {key}=40ms or {key}=0.04s")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _number(text: str, key: str, kind: type) -> float | int:
    try:
        return kind(text)
    except ValueError:
        raise DexumiError(f"camera spec: {key}={text!r} is not {'an integer' if kind is int else 'a number'}") from None


def parse_sim_options(options: str, name: str = "sim") -> SimCameraConfig:
    """'latency=40ms,fps=60' → SimCameraConfig; unknown keys and bad values are one-line errors."""
    cfg = SimCameraConfig(name=name)
    if not options:
        return cfg
    for item in options.split(","):
        if not item.strip() or item.strip() == "flat":
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            raise DexumiError(f"camera spec: {item!r} is not key=value ({SPEC_HELP})")
        if key == "latency":
            cfg.latency_s = parse_duration(value, key)
        elif key in ("fps", "drop", "epoch"):
            setattr(cfg, key, float(_number(value, key, float)))
        elif key in ("width", "height", "seed", "joints", "quality", "frames", "buffers"):
            setattr(cfg, key, int(_number(value, key, int)))
        elif key == "size":
            m = re.fullmatch(r"(\d+)x(\d+)", value)
            if not m:
                raise DexumiError(f"camera spec: size={value!r} must look like 1280x800")
            cfg.width, cfg.height = int(m.group(1)), int(m.group(2))
        elif key in ("motion", "name"):
            setattr(cfg, key, value)
        else:
            raise DexumiError(f"camera spec: unknown sim option {key!r} (latency, fps, width, height, size, seed, "
                              f"epoch, drop, motion, joints, quality, frames, buffers, name)")
    cfg.validate()
    return cfg


def _parse_options(options: str, what: str) -> list[tuple[str, str]]:
    out = []
    for item in options.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            raise DexumiError(f"camera spec: {item!r} is not key=value ({what})")
        out.append((key, value))
    return out


def parse_world_options(options: str):
    """'name=wrist1,latency=40ms' → WorldCameraConfig; unknown keys and bad values are one-line errors."""
    from dexumi.devices.cameras.world import WorldCameraConfig

    cfg = WorldCameraConfig()
    for key, value in _parse_options(options, SPEC_HELP):
        if key == "latency":
            cfg.latency_s = parse_duration(value, key)
        elif key in ("fps", "drop", "epoch", "noise", "exposure"):
            setattr(cfg, key, float(_number(value, key, float)))
        elif key == "prerender":
            cfg.prerender_s = parse_duration(value, key)
        elif key in ("width", "height", "seed", "joints", "quality", "frames", "buffers", "cameras"):
            setattr(cfg, key, int(_number(value, key, int)))
        elif key == "size":
            m = re.fullmatch(r"(\d+)x(\d+)", value)
            if not m:
                raise DexumiError(f"camera spec: size={value!r} must look like 640x480")
            cfg.width, cfg.height = int(m.group(1)), int(m.group(2))
        elif key in ("motion", "name", "script"):
            setattr(cfg, key, value)
        else:
            raise DexumiError(f"camera spec: unknown world option {key!r} (name, latency, fps, width, height, size, "
                              f"seed, epoch, drop, motion, script, joints, quality, frames, buffers, noise, "
                              f"exposure, cameras, prerender)")
    from dexumi.sim.trajectory import SCRIPTS

    if cfg.script not in SCRIPTS:
        raise DexumiError(f"camera spec: script={cfg.script!r} is not one of {', '.join(SCRIPTS)}")
    cfg.validate()
    return cfg


def make_camera(spec: str, name: str | None = None, width: int = 1280, height: int = 800, fps: float = 60.0,
                realtime: bool = True) -> CameraSource:
    """The (not yet opened) source a spec names. `width/height/fps`: what to ask a real camera for."""
    spec = str(spec).strip()
    if re.fullmatch(r"\d+", spec):
        return OpenCVCamera(int(spec), name or f"cam{spec}", width, height, fps)
    if spec.startswith("/dev/"):
        return OpenCVCamera(spec, name or Path(spec).name, width, height, fps)
    if spec == "sim" or spec.startswith("sim:"):
        cfg = parse_sim_options(spec[4:], name or "sim")
        return SimCamera(cfg, spec)
    if spec == "world" or spec.startswith("world:"):
        from dexumi.devices.cameras.world import WorldCamera

        return WorldCamera(parse_world_options(spec[6:]), spec)
    if spec.startswith("file:"):
        path = spec[5:]
        if not path:
            raise DexumiError("camera spec: file: needs a path, e.g. file:clip.avi")
        return FileCamera(Path(path).expanduser(), name or Path(path).stem, realtime=realtime)
    raise DexumiError(f"unknown camera spec {spec!r}: {SPEC_HELP}")


def open_camera(spec: str, **kwargs: object) -> CameraSource:
    """`make_camera(spec, ...)` opened; raises DexumiError with a one-line reason."""
    return make_camera(spec, **kwargs).open()  # type: ignore[arg-type]

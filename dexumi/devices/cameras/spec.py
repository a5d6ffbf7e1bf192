"""Camera spec strings → camera sources.

Grammar (also in docs/cameras-and-sync.md):

    SPEC    := INDEX | DEVPATH | "sim" [":" OPTIONS] | "world" [":" WOPTIONS] | "file:" PATH
    INDEX   := digits                       0, 1, ...        (OpenCV / V4L2 device index)
    DEVPATH := "/dev/" ...                  /dev/video2, /dev/v4l/by-id/usb-...-video-index0
    OPTIONS := KEY "=" VALUE ("," KEY "=" VALUE)*
    KEY     := latency | fps | width | height | size | seed | epoch | drop | motion | joints | quality
               | frames | buffers | name | flat      ("sim:flat": the flat five-bar camera, same as "sim")
    WOPTIONS := OPTIONS with KEY := name (wrist0 | wrist1) | latency | fps | width | height | size | seed
               | epoch | drop | motion | script (pick | calibration | shake | still) | joints | quality | frames
               | buffers | noise | exposure | cameras (1 | 2) | prerender (a duration: render ahead, then play)
                                                                      (the MuJoCo world, docs/simulation.md)

Durations (`latency`) need a unit: `40ms`, `0.04s`, `40000us`. `size=1280x800` sets width and height.
`epoch` is the host monotonic time at which the motion starts (the emulator's `--motion-epoch`).
Width, height and fps for real cameras come from the arguments of `make_camera` (the CLI's flags).
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

from dexumi.devices.cameras.base import CameraSource
from dexumi.devices.cameras.file import FileCamera
from dexumi.devices.cameras.opencv import OpenCVCamera
from dexumi.devices.cameras.sim import SimCamera, SimCameraConfig
from dexumi.errors import DexumiError
from firmware_bridge import specs
from firmware_bridge.specs import SchemeRegistry

SPEC_HELP = "use 0, /dev/video2, /dev/v4l/by-id/..., sim[:key=value,...], world[:key=value,...] or file:PATH"
parse_duration = partial(specs.parse_duration, what="camera", error=DexumiError)  # '40ms' → 0.04


def _number(text: str, key: str, kind: type) -> float | int:
    return specs.parse_number(text, key, kind, "camera", DexumiError)


def _parse_options(options: str, what: str) -> list[tuple[str, str]]:
    return specs.parse_options(options, "camera", what, DexumiError, flags=("flat",))


def parse_sim_options(options: str, name: str = "sim") -> SimCameraConfig:
    """'latency=40ms,fps=60' → SimCameraConfig; unknown keys and bad values are one-line errors."""
    cfg = SimCameraConfig(name=name)
    for key, value in _parse_options(options, SPEC_HELP):
        if key == "flat" and not value:
            continue
        if key == "latency":
            cfg.latency_s = parse_duration(value, key)
        elif key in ("fps", "drop", "epoch"):
            setattr(cfg, key, float(_number(value, key, float)))
        elif key in ("width", "height", "seed", "joints", "quality", "frames", "buffers"):
            setattr(cfg, key, int(_number(value, key, int)))
        elif key == "size":
            cfg.width, cfg.height = specs.parse_size(value, "camera", DexumiError, "1280x800")
        elif key in ("motion", "name"):
            setattr(cfg, key, value)
        else:
            raise DexumiError(
                f"camera spec: unknown sim option {key!r} (latency, fps, width, height, size, seed, "
                f"epoch, drop, motion, joints, quality, frames, buffers, name)"
            )
    cfg.validate()
    return cfg


def parse_world_options(options: str):
    """'name=wrist1,latency=40ms' → WorldCameraConfig; unknown keys and bad values are one-line errors."""
    from dexumi.devices.cameras.world import WorldCameraConfig

    cfg = WorldCameraConfig()
    for key, value in specs.parse_options(options, "camera", SPEC_HELP, DexumiError):
        if key == "latency":
            cfg.latency_s = parse_duration(value, key)
        elif key in ("fps", "drop", "epoch", "noise", "exposure"):
            setattr(cfg, key, float(_number(value, key, float)))
        elif key == "prerender":
            cfg.prerender_s = parse_duration(value, key)
        elif key in ("width", "height", "seed", "joints", "quality", "frames", "buffers", "cameras"):
            setattr(cfg, key, int(_number(value, key, int)))
        elif key == "size":
            cfg.width, cfg.height = specs.parse_size(value, "camera", DexumiError, "640x480")
        elif key in ("motion", "name", "script"):
            setattr(cfg, key, value)
        else:
            raise DexumiError(
                f"camera spec: unknown world option {key!r} (name, latency, fps, width, height, size, "
                f"seed, epoch, drop, motion, script, joints, quality, frames, buffers, noise, "
                f"exposure, cameras, prerender)"
            )
    from dexumi.sim.trajectory import SCRIPTS

    if cfg.script not in SCRIPTS:
        raise DexumiError(f"camera spec: script={cfg.script!r} is not one of {', '.join(SCRIPTS)}")
    cfg.validate()
    return cfg


# scheme handlers: (body, spec) → a function of the caller's (name, width, height, fps, realtime)
def _index(body: str, spec: str):
    return lambda name, w, h, fps, rt: OpenCVCamera(int(spec), name or f"cam{spec}", w, h, fps)


def _devpath(body: str, spec: str):
    return lambda name, w, h, fps, rt: OpenCVCamera(spec, name or Path(spec).name, w, h, fps)


def _sim(body: str, spec: str):
    return lambda name, w, h, fps, rt: SimCamera(parse_sim_options(body, name or "sim"), spec)


def _world(body: str, spec: str):
    def make(name, w, h, fps, rt):
        from dexumi.devices.cameras.world import WorldCamera

        return WorldCamera(parse_world_options(body), spec)

    return make


def _file(body: str, spec: str):
    if not body:
        raise DexumiError("camera spec: file: needs a path, e.g. file:clip.avi")
    return lambda name, w, h, fps, rt: FileCamera(Path(body).expanduser(), name or Path(body).stem, realtime=rt)


CAMERAS: SchemeRegistry = SchemeRegistry("camera", DexumiError)
CAMERAS.register("sim", _sim, "sim[:key=value,...]")
CAMERAS.register("world", _world, "world[:key=value,...]")
CAMERAS.register("file", _file, "file:PATH")
CAMERAS.register_fallback(lambda spec: re.fullmatch(r"\d+", spec) is not None, _index, "0")
CAMERAS.register_fallback(lambda spec: spec.startswith("/dev/"), _devpath, "/dev/video2", "/dev/v4l/by-id/...")


def make_camera(
    spec: str, name: str | None = None, width: int = 1280, height: int = 800, fps: float = 60.0, realtime: bool = True
) -> CameraSource:
    """The (not yet opened) source a spec names. `width/height/fps`: what to ask a real camera for."""
    try:
        maker = CAMERAS.resolve(str(spec))
    except DexumiError as exc:
        if str(exc).startswith("unknown camera spec"):
            raise DexumiError(f"unknown camera spec {str(spec).strip()!r}: {SPEC_HELP}") from None
        raise
    return maker(name, width, height, fps, realtime)


def open_camera(spec: str, **kwargs: object) -> CameraSource:
    """`make_camera(spec, ...)` opened; raises DexumiError with a one-line reason."""
    return make_camera(spec, **kwargs).open()  # type: ignore[arg-type]

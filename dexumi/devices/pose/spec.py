"""Pose spec strings → pose sources (the model: dexumi/devices/cameras/spec.py; grammar in docs/pose.md).

    SPEC     := ["pose:"] ( "sim" [":" OPTIONS] | "udp:" PORT [":" UOPTIONS] | "lsl:" STREAM [":" LOPTIONS]
                | board:CAMERA | record3d | openvr:SERIAL )  (the last three: dexumi/devices/pose/extra.py)
    OPTIONS  := KEY "=" VALUE ("," KEY "=" VALUE)*
    KEY      := name | rate | latency | jitter | drift | offset | drop | loss | loss_s | noise | seed | epoch
                | script (pick | calibration | shake | still) | samples
    UOPTIONS := name=NAME | host=ADDRESS (bind address, default 0.0.0.0) | batch=DURATION (default 10ms)
    LOPTIONS := name=NAME | timeout=DURATION (default 5s)

Durations (`latency`, `jitter`, `loss_s`, `offset`) need a unit: `20ms`, `0.02s`, `20000us`; `drift` is in
ppm (`drift=50`), `noise` in millimetres (`noise=0.5`), `rate` in Hz, `drop`/`loss` probabilities per sample.
"""

from __future__ import annotations

import re
from functools import partial

from dexumi.devices.pose.base import PoseSource
from dexumi.devices.pose.sim import SimPose, SimPoseConfig
from dexumi.devices.pose.udp import BATCH_S, UdpPose
from dexumi.errors import DexumiError
from firmware_bridge import specs
from firmware_bridge.specs import SchemeRegistry

SPEC_HELP = (
    "use pose:sim[:key=value,...], pose:udp:PORT[:name=NAME,host=ADDRESS,batch=10ms], "
    "pose:lsl:STREAM[:name=NAME,timeout=5s], pose:board:CAMERA, pose:record3d or pose:openvr:SERIAL"
)
_duration = partial(specs.parse_duration, what="pose", error=DexumiError, example="20ms")


def _number(text: str, key: str, kind: type) -> float | int:
    return specs.parse_number(text, key, kind, "pose", DexumiError)


def _items(options: str) -> list[tuple[str, str]]:
    return specs.parse_options(options, "pose", SPEC_HELP, DexumiError)


def parse_sim_options(options: str) -> SimPoseConfig:
    """'rate=200,drop=0.01' → SimPoseConfig; unknown keys and bad values are one-line errors."""
    cfg = SimPoseConfig()
    for key, value in _items(options):
        if key in ("latency", "jitter", "offset", "loss_s"):
            setattr(cfg, key if key == "loss_s" else f"{key}_s", _duration(value, key))
        elif key in ("rate", "drop", "loss", "epoch"):
            setattr(cfg, key, float(_number(value, key, float)))
        elif key == "drift":
            cfg.drift_ppm = float(_number(value, key, float))
        elif key == "noise":
            cfg.noise_m = float(_number(value, key, float)) * 1e-3
        elif key in ("seed", "samples"):
            setattr(cfg, key, int(_number(value, key, int)))
        elif key in ("name", "script"):
            setattr(cfg, key, value)
        else:
            raise DexumiError(
                f"pose spec: unknown sim option {key!r} (name, rate, latency, jitter, drift, offset, "
                f"drop, loss, loss_s, noise, seed, epoch, script, samples)"
            )
    cfg.validate()
    return cfg


def _sim(body: str, spec: str):
    def make(text: str, name: str | None) -> PoseSource:
        cfg = parse_sim_options(body)
        if name:
            cfg.name = name
        return SimPose(cfg, text)

    return make


def _udp(body: str, spec: str):
    def make(text: str, name: str | None) -> PoseSource:
        port_text, _, options = body.partition(":")
        if not re.fullmatch(r"\d{1,5}", port_text):
            raise DexumiError(f"pose spec: udp needs a port number, e.g. pose:udp:9870 (got {text!r})")
        port, host, uname, batch = int(port_text), "0.0.0.0", name, BATCH_S
        for key, value in _items(options):
            if key == "host":
                host = value
            elif key == "name":
                uname = uname or value
            elif key == "batch":
                batch = _duration(value, key)
                if not 0 <= batch <= 0.1:
                    raise DexumiError(f"pose spec: batch must be 0..100ms, got {value}")
            else:
                raise DexumiError(f"pose spec: unknown udp option {key!r} (name, host, batch)")
        return UdpPose(port, uname, host, text, batch)

    return make


def _lsl(body: str, spec: str):
    def make(text: str, name: str | None) -> PoseSource:
        from dexumi.devices.pose.lsl import LslPose

        stream, _, options = body.partition(":")
        if not stream.strip():
            raise DexumiError(f"pose spec: lsl needs a stream name, e.g. pose:lsl:MocapWrist (got {text!r})")
        lname, timeout = name, 5.0
        for key, value in _items(options):
            if key == "name":
                lname = lname or value
            elif key == "timeout":
                timeout = _duration(value, key)
                if not 0 < timeout <= 600:
                    raise DexumiError(f"pose spec: timeout must be in (0, 600] s, got {value}")
            else:
                raise DexumiError(f"pose spec: unknown lsl option {key!r} (name, timeout)")
        return LslPose(stream.strip(), lname, text, timeout)

    return make


POSES: SchemeRegistry = SchemeRegistry("pose", DexumiError)  # the body after the optional "pose:" prefix
POSES.register("sim", _sim, "pose:sim[:key=value,...]")
POSES.register("udp", _udp, "pose:udp:PORT[:name=NAME,host=ADDRESS,batch=10ms]")
POSES.register("lsl", _lsl, "pose:lsl:STREAM[:name=NAME,timeout=5s]")


def make_pose(spec: str, name: str | None = None) -> PoseSource:
    """The (not yet opened) pose source a spec names."""
    text = str(spec).strip()
    body = text[5:] if text.startswith("pose:") else text
    if specs.split_scheme(body)[0] in ("sim", "udp", "lsl"):
        return POSES.resolve(body)(text, name)
    from dexumi.devices.pose.extra import make_extra

    if (extra := make_extra(body, text, name)) is not None:  # board, record3d, openvr (dexumi/devices/pose/extra.py)
        return extra
    raise DexumiError(f"unknown pose spec {text!r}: {SPEC_HELP}")


def open_pose(spec: str, name: str | None = None) -> PoseSource:
    """`make_pose(spec)` opened; raises DexumiError with a one-line reason."""
    return make_pose(spec, name).open()


def list_pose_sources() -> list[dict]:
    """Pose sources this machine offers without configuration (for `dexumi devices`-style listings).

    The simulated tracker is always there; a UDP stream is whatever port the sender is told, so it is
    listed as a template; LSL, board, Record3D and OpenVR sources are named by their specs (docs/pose.md).
    """
    return [
        {"spec": "pose:sim", "name": "sim", "kind": "simulated wrist tracker (the MuJoCo world's script)"},
        {"spec": "pose:udp:PORT", "name": "udp", "kind": "JSON-over-UDP pose stream (docs/pose.md)"},
    ]

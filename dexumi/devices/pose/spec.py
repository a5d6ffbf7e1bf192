"""Pose spec strings → pose sources (the model: dexumi/devices/cameras/spec.py; grammar in docs/pose.md).

    SPEC     := ["pose:"] ( "sim" [":" OPTIONS] | "udp:" PORT [":" UOPTIONS] | "lsl:" STREAM [":" LOPTIONS] )
    OPTIONS  := KEY "=" VALUE ("," KEY "=" VALUE)*
    KEY      := name | rate | latency | jitter | drift | offset | drop | loss | loss_s | noise | seed | epoch
                | script (pick | calibration | still) | samples
    UOPTIONS := name=NAME | host=ADDRESS (bind address, default 0.0.0.0) | batch=DURATION (default 10ms)
    LOPTIONS := name=NAME | timeout=DURATION (how long to look for the LSL stream, default 5s)

Durations (`latency`, `jitter`, `loss_s`, `offset`) need a unit: `20ms`, `0.02s`, `20000us`; `drift` is in
ppm (`drift=50`), `noise` in millimetres (`noise=0.5`), `rate` in Hz, `drop`/`loss` probabilities per sample.
"""

from __future__ import annotations

import re

from dexumi.devices.pose.base import PoseSource
from dexumi.devices.pose.sim import SimPose, SimPoseConfig
from dexumi.devices.pose.udp import UdpPose
from dexumi.errors import DexumiError

SPEC_HELP = ("use pose:sim[:key=value,...], pose:udp:PORT[:name=NAME,host=ADDRESS,batch=10ms] or "
             "pose:lsl:STREAM[:name=NAME,timeout=5s]")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def _duration(text: str, key: str) -> float:
    m = re.fullmatch(r"\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|[-+]?\.\d+)\s*(us|ms|s)\s*", text)
    if not m:
        raise DexumiError(f"pose spec: {key}={text!r} needs a number with a unit, e.g. {key}=20ms or {key}=0.02s")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _number(text: str, key: str, kind: type) -> float | int:
    try:
        return kind(text)
    except ValueError:
        raise DexumiError(f"pose spec: {key}={text!r} is not {'an integer' if kind is int else 'a number'}") from None


def _items(options: str) -> list[tuple[str, str]]:
    out = []
    for item in options.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            raise DexumiError(f"pose spec: {item!r} is not key=value ({SPEC_HELP})")
        out.append((key, value))
    return out


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
            raise DexumiError(f"pose spec: unknown sim option {key!r} (name, rate, latency, jitter, drift, offset, "
                              f"drop, loss, loss_s, noise, seed, epoch, script, samples)")
    cfg.validate()
    return cfg


def make_pose(spec: str, name: str | None = None) -> PoseSource:
    """The (not yet opened) pose source a spec names."""
    text = str(spec).strip()
    body = text[5:] if text.startswith("pose:") else text
    if body == "sim" or body.startswith("sim:"):
        cfg = parse_sim_options(body[4:])
        if name:
            cfg.name = name
        return SimPose(cfg, text)
    if body.startswith("udp:") or body == "udp":
        port_text, _, options = body[4:].partition(":")
        if not re.fullmatch(r"\d{1,5}", port_text):
            raise DexumiError(f"pose spec: udp needs a port number, e.g. pose:udp:9870 (got {text!r})")
        port, host, uname, batch = int(port_text), "0.0.0.0", name, 0.01
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
    if body.startswith("lsl:") or body == "lsl":
        from dexumi.devices.pose.lsl import LslPose

        stream, _, options = body[4:].partition(":")
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
    from dexumi.devices.pose.extra import make_extra

    if (extra := make_extra(body, text, name)) is not None:  # pose:board:CAMERA (dexumi/devices/pose/extra.py)
        return extra
    raise DexumiError(f"unknown pose spec {text!r}: {SPEC_HELP}")


def open_pose(spec: str, name: str | None = None) -> PoseSource:
    """`make_pose(spec)` opened; raises DexumiError with a one-line reason."""
    return make_pose(spec, name).open()


def list_pose_sources() -> list[dict]:
    """Pose sources this machine offers without configuration (for `dexumi devices`-style listings).

    The simulated tracker is always there; a UDP stream is whatever port the sender is told, so it is
    listed as a template, as is an LSL stream (any motion-capture system's outlet, by its stream name).
    """
    return [{"spec": "pose:sim", "name": "sim", "kind": "simulated wrist tracker (the MuJoCo world's script)"},
            {"spec": "pose:udp:PORT", "name": "udp", "kind": "JSON-over-UDP pose stream (docs/pose.md)"},
            {"spec": "pose:lsl:STREAM", "name": "lsl", "kind": "Lab Streaming Layer pose stream (docs/pose.md)"}]

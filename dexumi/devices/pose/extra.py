"""Pose specs beyond `sim` and `udp`, made here so `spec.make_pose` needs one line for them.

    pose:board:CAMERA[:tags=auto|always|off,size=WxH]   the wrist camera's pose from the board it sees
                                                         (dexumi.devices.pose.board); fed CAMERA's frames
                                                         (in a recording: the session's camera CAMERA)
    pose:record3d[:DEVICE]                              an iPhone/iPad running Record3D (index or udid; default 0)
    pose:openvr:SERIAL[:rate=HZ]                        a Vive tracker through SteamVR, polled at HZ (200)

For a simulated world camera (`wrist0`, `wrist1`) the exact intrinsics are known; for a real camera they come
from the calibration profile (`BoardPose(..., lens=Intrinsics.from_profile(...))`).
"""

from __future__ import annotations

import re

from dexumi.devices.pose.base import PoseSource
from dexumi.errors import DexumiError


def make_extra(body: str, text: str, name: str | None) -> PoseSource | None:
    """The source for `body` (the spec without "pose:"), or None when it is not one of these kinds."""
    if body == "board" or body.startswith("board:"):
        return _board(body[6:], text, name)
    if body == "record3d" or body.startswith("record3d:"):
        from dexumi.devices.pose.record3d import Record3DPose

        device = body[9:] or "0"
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", device):
            raise DexumiError(f"pose spec: record3d device must be an index or a udid (got {text!r})")
        return Record3DPose(device, name=name, spec=text)
    if body.startswith("openvr:"):
        return _openvr(body[7:], text, name)
    return None


def _openvr(rest: str, text: str, name: str | None) -> PoseSource:
    from dexumi.devices.pose.openvr import OpenVRPose

    serial, _, options = rest.partition(":")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", serial or ""):
        raise DexumiError(f"pose spec: openvr needs the tracker's serial, e.g. pose:openvr:LHR-1234ABCD (got {text!r})")
    rate = 200.0
    for item in filter(None, (x.strip() for x in options.split(","))):
        key, _, value = item.partition("=")
        try:
            rate = float(value) if key == "rate" else float("nan")
        except ValueError:
            rate = float("nan")
        if not 1 <= rate <= 2000:
            raise DexumiError(f"pose spec: bad openvr option {item!r} (rate=HZ, 1..2000)")
    return OpenVRPose(serial, rate, name=name, spec=text)


def _board(rest: str, text: str, name: str | None) -> PoseSource:
    from dexumi.devices.pose.board import BoardPose, world_lens
    from dexumi.tracking.target import Target

    camera, _, options = rest.partition(":")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", camera or ""):
        raise DexumiError(f"pose spec: board needs a camera name, e.g. pose:board:wrist0 (got {text!r})")
    tags, size = "auto", (640, 480)
    for item in filter(None, (x.strip() for x in options.split(","))):
        key, sep, value = item.partition("=")
        if key == "tags" and value in ("auto", "always", "off"):
            tags = value
        elif key == "size" and re.fullmatch(r"\d+x\d+", value):
            w, h = value.split("x")
            size = (int(w), int(h))
        else:
            raise DexumiError(f"pose spec: bad board option {item!r} (tags=auto|always|off, size=WxH)")
    lens = world_lens(camera, *size) if camera in ("wrist0", "wrist1") else None
    src = BoardPose(camera, lens, Target.from_scene(), name=name, spec=text, tags=tags)
    src.size_given = "size=" in options
    src.lens_is_world = lens is not None  # the world camera's, until a session says its camera is a real one
    return src

"""Find the video-capture devices of this machine (for `dexumi devices` and for error messages).

Linux only: every `/dev/videoN` whose V4L2 capabilities include video capture (a UVC camera also shows a
metadata node, which is skipped), with its card name and stable `/dev/v4l/by-id/...` name. Elsewhere, or
with no cameras, the list is empty.
"""

from __future__ import annotations

import fcntl
import glob
import logging
import os
import re
import struct

log = logging.getLogger(__name__)

_VIDIOC_QUERYCAP = 0x80685600  # _IOR('V', 0, struct v4l2_capability), 104 bytes
_CAP_VIDEO_CAPTURE = 0x00000001
_CAP_VIDEO_CAPTURE_MPLANE = 0x00001000
_CAP_DEVICE_CAPS = 0x80000000


def _querycap(path: str) -> tuple[str, str, str, int] | None:
    """(driver, card, bus_info, device capabilities) of a V4L2 node, or None if it cannot be asked."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    except OSError as exc:
        log.debug("cannot open %s: %s", path, exc)
        return None
    try:
        buf = fcntl.ioctl(fd, _VIDIOC_QUERYCAP, bytes(104))
    except OSError as exc:
        log.debug("VIDIOC_QUERYCAP on %s failed: %s", path, exc)
        return None
    finally:
        os.close(fd)
    driver, card, bus, _version, caps, device_caps = struct.unpack_from("16s32s32sIII", buf)
    text = lambda b: b.split(b"\0", 1)[0].decode(errors="replace")
    return text(driver), text(card), text(bus), device_caps if caps & _CAP_DEVICE_CAPS else caps


def _by_id_names() -> dict[str, str]:
    """Real device path → its /dev/v4l/by-id name (udev's stable name across re-plugs)."""
    out: dict[str, str] = {}
    for link in sorted(glob.glob("/dev/v4l/by-id/*")):
        out.setdefault(os.path.realpath(link), link)
    return out


def list_cameras() -> list[dict]:
    """Capture devices as dicts: spec (what to pass to --camera), name, by_id, path, index, driver, bus."""
    by_id = _by_id_names()
    cameras = []
    nodes = sorted(glob.glob("/dev/video*"), key=lambda p: int(re.sub(r"\D", "", p) or 0))
    for path in nodes:
        cap = _querycap(path)
        if cap is None:
            continue
        driver, card, bus, caps = cap
        if not caps & (_CAP_VIDEO_CAPTURE | _CAP_VIDEO_CAPTURE_MPLANE):
            continue  # metadata or output node
        stable = by_id.get(os.path.realpath(path), "")
        index = int(re.sub(r"\D", "", path) or -1)
        cameras.append(
            {
                "spec": stable or path,
                "name": card,
                "by_id": stable,
                "path": path,
                "index": index,
                "driver": driver,
                "bus": bus,
            }
        )
    return cameras


def describe_available() -> str:
    """One phrase naming the cameras that can be opened, for error messages."""
    cams = list_cameras()
    if not cams:
        return "no cameras found on this machine ('sim' and 'file:PATH' always work)"
    return "cameras here: " + ", ".join(f"{c['spec']} ({c['name']})" for c in cams)

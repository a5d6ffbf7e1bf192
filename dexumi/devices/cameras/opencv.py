"""A real camera through OpenCV's VideoCapture (V4L2 on Linux), with MJPG pass-through.

With `CAP_PROP_CONVERT_RGB = 0` (and `CAP_PROP_FORMAT = -1` where the backend wants it) the V4L2 backend
hands over the camera's own MJPG buffer as a 1-D uint8 array: those bytes are stored as they are, never
decoded and re-encoded. The frame is stamped with the host clock right after `grab()` returns; the V4L2
buffer timestamp (`CAP_PROP_POS_MSEC`, taken by the kernel on CLOCK_MONOTONIC, the clock of
`time.monotonic()`) becomes `device_time` when it is on that clock.
"""

from __future__ import annotations

import logging
import os
import sys
import time

import cv2
import numpy as np

from dexumi.devices.cameras.base import CameraLost, CameraSettings, CameraSource, report_mismatch
from dexumi.devices.cameras.discovery import describe_available
from dexumi.errors import DexumiError
from dexumi.types import CameraFrame

log = logging.getLogger(__name__)


def _fourcc_text(value: float) -> str:
    v = int(value)
    return "".join(chr((v >> (8 * i)) & 0xFF) for i in range(4)).strip("\0") if v > 0 else ""


class OpenCVCamera(CameraSource):
    """`device`: an index (0), `/dev/videoN`, or a `/dev/v4l/by-id/...` path."""

    counts_frames = False  # V4L2's sequence number is not exposed by OpenCV: drops come from timestamps

    def __init__(
        self,
        device: int | str,
        name: str = "camera",
        width: int = 1280,
        height: int = 800,
        fps: float = 60.0,
        fourcc: str = "MJPG",
        passthrough: bool = True,
    ) -> None:
        super().__init__(name, str(device))
        self.device = device
        self.asked = CameraSettings(width, height, fps, fourcc)
        self.passthrough = passthrough
        self._cap: cv2.VideoCapture | None = None
        self._index = 0
        self._host_clock_checked = False

    def open(self) -> OpenCVCamera:
        if isinstance(self.device, str) and not os.path.exists(self.device):
            raise DexumiError(f"cannot open camera {self.spec!r}: no such device; {describe_available()}")
        api = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # our one line, not OpenCV's three
        try:
            cap = cv2.VideoCapture(self.device, api)
        finally:
            cv2.utils.logging.setLogLevel(level)
        if not cap.isOpened():
            cap.release()
            busy = " (missing, busy or not permitted)"
            raise DexumiError(f"cannot open camera {self.spec!r}{busy}: {describe_available()}")
        a = self.asked
        if a.fourcc:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*a.fourcc))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, a.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, a.height)
        cap.set(cv2.CAP_PROP_FPS, a.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 4)
        granted_fourcc = _fourcc_text(cap.get(cv2.CAP_PROP_FOURCC))
        if self.passthrough and granted_fourcc == "MJPG":
            cap.set(cv2.CAP_PROP_CONVERT_RGB, 0)
            cap.set(cv2.CAP_PROP_FORMAT, -1)  # raw buffer on backends that need it; ignored elsewhere
        self.granted = CameraSettings(
            int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            float(cap.get(cv2.CAP_PROP_FPS)) or a.fps,
            granted_fourcc,
        )
        self.mismatches = report_mismatch(self.name, a, self.granted)
        self._cap = cap
        self._index = 0
        self.opened = True
        return self

    def read(self) -> CameraFrame | None:
        cap = self._cap
        if cap is None:
            raise DexumiError(f"camera {self.spec!r} is not open")
        if not cap.grab():
            raise CameraLost(f"camera {self.spec!r} stopped delivering frames")
        grab_time = time.monotonic()
        ok, data = cap.retrieve()
        if not ok or data is None:
            raise CameraLost(f"camera {self.spec!r}: could not retrieve a grabbed frame")
        g = self.granted
        assert g is not None
        if data.ndim == 1 or (data.ndim == 2 and data.shape[0] == 1):
            payload: bytes | np.ndarray = data.tobytes()  # the camera's own JPEG bytes
            encoding = "jpeg"
        else:
            payload, encoding = data, "bgr"
        frame = CameraFrame(
            self.name, self._index, grab_time, payload, encoding, g.width, g.height, self._buffer_time(grab_time)
        )
        self._index += 1
        return frame

    def _buffer_time(self, grab_time: float) -> float | None:
        """The V4L2 buffer timestamp, if it is on the host monotonic clock (checked on the first frame)."""
        assert self._cap is not None
        ms = self._cap.get(cv2.CAP_PROP_POS_MSEC)
        if ms <= 0:
            return None
        t = ms * 1e-3
        if not self._host_clock_checked:
            self._host_clock_checked = True
            self.device_time_is_host_clock = 0.0 <= grab_time - t < 1.0
            log.info(
                "camera %s: buffer timestamps %s the host clock",
                self.name,
                "are on" if self.device_time_is_host_clock else "are not on",
            )
        return t

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self.opened = False

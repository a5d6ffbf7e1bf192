"""Wrist cameras behind one small interface: real (OpenCV/V4L2), simulated, and video-file sources.

`open_camera(spec)` turns a spec string (`0`, `/dev/video2`, `sim:latency=40ms`, `file:clip.avi`) into an
opened `CameraSource`; a `FrameGrabber` runs one thread per camera; `list_cameras()` finds the devices.
"""

from dexumi.devices.cameras.base import CameraLost, CameraSettings, CameraSource
from dexumi.devices.cameras.discovery import list_cameras
from dexumi.devices.cameras.file import FileCamera
from dexumi.devices.cameras.grabber import FrameGrabber, GrabberConfig
from dexumi.devices.cameras.opencv import OpenCVCamera
from dexumi.devices.cameras.sim import SimCamera, SimCameraConfig
from dexumi.devices.cameras.spec import make_camera, open_camera

__all__ = [
    "CameraLost",
    "CameraSettings",
    "CameraSource",
    "FileCamera",
    "FrameGrabber",
    "GrabberConfig",
    "OpenCVCamera",
    "SimCamera",
    "SimCameraConfig",
    "list_cameras",
    "make_camera",
    "open_camera",
]

"""Decoding a JPEG camera frame, optionally at 1/2, 1/4 or 1/8 size (libjpeg's DCT scaling: much faster).

One implementation for every reader of frames: the episode file, replay, validation, export and the latency
estimate; below them all, it imports only OpenCV and numpy.
"""

from __future__ import annotations

import cv2
import numpy as np

from dexumi.errors import DexumiError

REDUCE_FLAGS = {
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


def decode_jpeg(data: bytes | np.ndarray, reduce: int = 1) -> np.ndarray:
    """BGR uint8 image from JPEG bytes (or a uint8 array of them); `reduce` 2/4/8 decodes at 1/2, 1/4, 1/8 size."""
    if reduce not in REDUCE_FLAGS:
        raise DexumiError(f"reduce must be one of {sorted(REDUCE_FLAGS)}, not {reduce}")
    buf = np.frombuffer(data, np.uint8) if isinstance(data, (bytes, bytearray, memoryview)) else data
    img = cv2.imdecode(buf, REDUCE_FLAGS[reduce])
    if img is None:
        raise DexumiError("a stored camera frame is not a valid JPEG")
    return img

"""A live camera view: decodes the newest JPEG at display rate (reduced size), paints it with an overlay."""

from __future__ import annotations

import time

import cv2
import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

STALE_S = 0.5


def jpeg_width(jpeg: bytes) -> int | None:
    """The image width from the JPEG's SOF marker (no decoding)."""
    for marker in (b"\xff\xc0", b"\xff\xc1", b"\xff\xc2"):
        k = jpeg.find(marker)
        if k >= 0 and k + 9 <= len(jpeg):
            return int.from_bytes(jpeg[k + 7 : k + 9], "big")
    return None


def decode_for_display(jpeg: bytes, max_width: int) -> np.ndarray | None:
    """BGR image decoded at 1/2, 1/4 or 1/8 scale when that still gives `max_width` pixels (cheaper decode)."""
    w = jpeg_width(jpeg) or 0
    flag = cv2.IMREAD_COLOR
    for f, fl in ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2)):
        if w / f >= max_width:
            flag = fl
            break
    return cv2.imdecode(np.frombuffer(jpeg, np.uint8), flag)


class CameraView(QtWidgets.QWidget):
    """Shows one camera; red frame and 'no signal' when frames stop coming."""

    def __init__(self, name: str, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.setMinimumSize(240, 180)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Expanding)
        self._image: QtGui.QImage | None = None
        self._index = -1
        self._last = 0.0
        self._times: list[float] = []
        self.paints = 0
        self.decodes = 0

    def set_jpeg(self, jpeg: bytes, index: int) -> None:
        img = decode_for_display(jpeg, 640)
        if img is None:
            return
        self.decodes += 1
        h, w = img.shape[:2]
        self._image = QtGui.QImage(img.data, w, h, 3 * w, QtGui.QImage.Format.Format_BGR888).copy()
        self._index = index
        now = time.monotonic()
        self._last = now
        self._times = [t for t in self._times if now - t < 1.0] + [now]
        self.update()

    @property
    def shown_fps(self) -> float:
        now = time.monotonic()
        return float(sum(1 for t in self._times if now - t < 1.0))

    def stale(self) -> bool:
        return time.monotonic() - self._last > STALE_S

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        self.paints += 1
        p = QtGui.QPainter(self)
        r = self.rect()
        p.fillRect(r, QtGui.QColor(12, 12, 14))
        if self._image is not None:
            img = self._image.scaled(
                r.size(), QtCore.Qt.AspectRatioMode.KeepAspectRatio, QtCore.Qt.TransformationMode.FastTransformation
            )
            p.drawImage((r.width() - img.width()) // 2, (r.height() - img.height()) // 2, img)
        stale = self._image is None or self.stale()
        p.setPen(QtGui.QColor(255, 255, 255))
        f = p.font()
        f.setBold(True)
        p.setFont(f)
        p.fillRect(0, 0, r.width(), 22, QtGui.QColor(0, 0, 0, 150))
        p.drawText(6, 16, f"{self.name}   frame {self._index}   {self.shown_fps:.0f} fps shown")
        if stale:
            p.setPen(QtGui.QPen(QtGui.QColor(220, 40, 40), 4))
            p.drawRect(r.adjusted(2, 2, -2, -2))
            p.drawText(r, QtCore.Qt.AlignmentFlag.AlignCenter, "no signal")
        p.end()

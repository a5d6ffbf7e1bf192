"""A camera image with a title, scaled to fit, aspect kept."""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets


def to_qimage(img: np.ndarray, bgr: bool = True) -> QtGui.QImage:
    """uint8 (H, W, 3) BGR (or RGB) → QImage (a copy, independent of the array)."""
    img = np.ascontiguousarray(img[..., ::-1] if bgr else img)
    h, w = img.shape[:2]
    return QtGui.QImage(img.data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888).copy()


class CameraView(QtWidgets.QFrame):
    """`set_image(array)` shows a frame; `set_status(text)` overlays a line (e.g. "dropped")."""

    def __init__(self, title: str = "", parent: QtWidgets.QWidget | None = None, bgr: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName(f"camera:{title}")
        self.bgr = bgr
        self.title = title
        self.status = ""
        self._image: QtGui.QImage | None = None
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Expanding)

    def set_image(self, img: np.ndarray | None) -> None:
        self._image = None if img is None else to_qimage(img, self.bgr)
        self.update()

    def set_status(self, text: str) -> None:
        self.status = text
        self.update()

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), QtGui.QColor(20, 20, 20))
        if self._image is not None and not self._image.isNull():
            s = self._image.size().scaled(self.size(), QtCore.Qt.AspectRatioMode.KeepAspectRatio)
            r = QtCore.QRect(QtCore.QPoint(0, 0), s)
            r.moveCenter(self.rect().center())
            p.drawImage(r, self._image)
        else:
            p.setPen(QtGui.QColor(160, 160, 160))
            p.drawText(self.rect(), QtCore.Qt.AlignmentFlag.AlignCenter, "no image")
        p.setPen(QtGui.QColor(255, 255, 255))
        p.drawText(6, 16, self.title)
        if self.status:
            p.setPen(QtGui.QColor(255, 80, 80))
            p.drawText(6, self.height() - 8, self.status)
        p.end()

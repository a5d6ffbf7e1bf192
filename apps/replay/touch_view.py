"""The replay window's touch view: one widget per tactile board, drawing the headless replay's per-finger bars
(apps.replay.touch.draw_touch) for the current frame."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6 import QtGui, QtWidgets

from apps.replay.touch import TouchSeries, draw_touch

ROW_H, TITLE_H, PAD = 12, 14, 4


class TouchView(QtWidgets.QWidget):
    """One tactile board: a bar per finger (red: a valid reading, grey: stale), its value in the board's unit."""

    def __init__(self, series: TouchSeries) -> None:
        super().__init__()
        self.series = series
        self.i = 0
        self.setObjectName(f"touch_{series.role}")
        self.setMinimumSize(220, self.natural_height())
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)

    def natural_height(self) -> int:
        return TITLE_H + ROW_H * len(self.series.fingers) + 2 * PAD

    def set_frame(self, i: int) -> None:
        self.i = i
        self.update()

    def value(self, finger: int) -> float:
        """The shown reading of one finger (baseline-zeroed total) at the current frame."""
        return float(self.series.totals[self.i, finger]) if self.i < len(self.series.totals) else 0.0

    def paintEvent(self, _ev: QtGui.QPaintEvent) -> None:
        w, h = max(1, self.width()), max(1, self.height())
        img = np.full((h, w, 3), 255, np.uint8)
        draw_touch(img, [self.series], self.i, PAD, PAD, w - 2 * PAD)
        rgb = np.ascontiguousarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        q = QtGui.QImage(rgb.data, w, h, 3 * w, QtGui.QImage.Format.Format_RGB888)
        painter = QtGui.QPainter(self)
        painter.drawImage(0, 0, q)
        painter.end()


class TouchPanel(QtWidgets.QWidget):
    """Every tactile board of the shown episode, one `TouchView` each; hidden when the episode has none."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("touch")
        self.layout_ = QtWidgets.QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setSpacing(2)
        self.views: list[TouchView] = []
        self.setVisible(False)

    def set_series(self, series: list[TouchSeries]) -> None:
        for v in self.views:
            v.setParent(None)
        self.views = [TouchView(s) for s in series]
        for v in self.views:
            self.layout_.addWidget(v)
        self.setVisible(bool(self.views))

    def set_frame(self, i: int) -> None:
        for v in self.views:
            v.set_frame(i)

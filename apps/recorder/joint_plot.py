"""Rolling joint plots: the last few seconds of each joint, in degrees, painted with QPainter polylines.

Not pyqtgraph curves: pyqtgraph 0.14 builds curve paths by writing into Qt's private QPainterPath data
through ctypes, and with Qt 6.12 that corrupts memory (interpreter crashes "none_dealloc"/"bool_dealloc" at
exit after a few thousand redraws). Polylines from a QPolygonF filled through its public data pointer are safe.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets
from pyqtgraph.functions import arrayToQPolygonF

GAP_S = 0.1  # a break in the line where samples are further apart than this
PALETTE = [
    (230, 80, 80),
    (240, 200, 60),
    (90, 200, 90),
    (80, 200, 230),
    (110, 110, 255),
    (230, 90, 230),
    (255, 150, 60),
    (160, 230, 120),
    (120, 160, 255),
    (255, 120, 180),
    (200, 200, 200),
    (80, 230, 180),
]


class JointPlot(QtWidgets.QWidget):
    """`set_data(t, values, now)`: t (n,) seconds on the recording clock (host monotonic, shared by the
    processes of this machine), values (n, J) radians; the right edge is `now`, so the traces scroll smoothly at
    the redraw rate even though samples arrive in bursts."""

    def __init__(
        self, title: str, names: list[str], window_s: float = 10.0, parent: QtWidgets.QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.title, self.names, self.window_s = title, list(names), window_s
        self.setMinimumSize(300, 150)
        self._x = np.zeros(0)
        self._y = np.zeros((0, len(self.names)))
        self._lo, self._hi = 0.0, 90.0
        self.paints = 0

    def set_data(self, t: np.ndarray, values: np.ndarray, now: float | None = None) -> None:
        if len(t) == 0:
            return
        self._x = t - (t[-1] if now is None else max(now, t[-1]))
        self._y = np.degrees(values)
        finite = self._y[np.isfinite(self._y)]
        if finite.size:
            lo, hi = float(finite.min()), float(finite.max())
            pad = max(5.0, 0.1 * (hi - lo))
            # widen at once, shrink slowly: the axis does not jump
            self._lo = min(lo - pad, self._lo * 0.98 + (lo - pad) * 0.02)
            self._hi = max(hi + pad, self._hi * 0.98 + (hi + pad) * 0.02)
        self.update()

    def _ticks(self) -> np.ndarray:
        span = self._hi - self._lo
        step = next(s for s in (5, 10, 20, 30, 45, 90, 180, 360, 720) if span / s <= 6)
        return np.arange(np.ceil(self._lo / step) * step, self._hi + 1e-9, step)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        self.paints += 1
        p = QtGui.QPainter(self)
        w, h = self.width(), self.height()
        p.fillRect(0, 0, w, h, QtGui.QColor(20, 20, 24))
        left, right, top, bottom = 44, 8, 38, 22
        pw, ph = max(w - left - right, 10), max(h - top - bottom, 10)
        sx = pw / self.window_s
        sy = ph / max(self._hi - self._lo, 1e-6)
        fx = lambda x: left + (x + self.window_s) * sx
        fy = lambda y: top + (self._hi - y) * sy
        small = p.font()
        small.setPointSize(8)
        p.setFont(small)
        p.setPen(QtGui.QPen(QtGui.QColor(55, 57, 66), 1))
        for s in range(int(self.window_s) + 1):
            x = fx(-s)
            p.drawLine(QtCore.QPointF(x, top), QtCore.QPointF(x, top + ph))
        for v in self._ticks():
            p.drawLine(QtCore.QPointF(left, fy(v)), QtCore.QPointF(left + pw, fy(v)))
        p.setPen(QtGui.QColor(170, 170, 170))
        for s in range(0, int(self.window_s) + 1, 2):
            p.drawText(QtCore.QPointF(fx(-s) - 8, h - 6), f"{-s} s" if s else "now")
        for v in self._ticks():
            p.drawText(
                QtCore.QRectF(0, fy(v) - 8, left - 4, 16),
                QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignVCenter,
                f"{v:.0f}°",
            )
        p.setClipRect(QtCore.QRect(left, top, pw, ph))
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        x = self._x
        if len(x) > 1:
            cuts = np.flatnonzero(np.diff(x) > GAP_S) + 1
            bounds = [0, *cuts.tolist(), len(x)]
            px = fx(x)
            for j in range(min(self._y.shape[1], len(self.names))):
                p.setPen(QtGui.QPen(QtGui.QColor(*PALETTE[j % len(PALETTE)]), 1.6))
                py = fy(self._y[:, j])
                for a, b in zip(bounds[:-1], bounds[1:]):
                    seg = slice(a, b)
                    ok = np.isfinite(py[seg])
                    if b - a > 1 and ok.all():
                        p.drawPolyline(arrayToQPolygonF(px[seg], py[seg]))
        p.setClipping(False)
        bold = p.font()
        bold.setBold(True)
        bold.setPointSize(9)
        p.setFont(bold)
        p.setPen(QtGui.QColor(220, 220, 220))
        p.drawText(QtCore.QPointF(left, 14), self.title)
        p.setFont(small)
        x0 = left
        for j, n in enumerate(self.names):
            col = QtGui.QColor(*PALETTE[j % len(PALETTE)])
            tw = p.fontMetrics().horizontalAdvance(n) + 22
            if x0 + tw > w:
                break
            p.fillRect(QtCore.QRectF(x0, 24, 12, 3), col)
            p.setPen(col)
            p.drawText(QtCore.QPointF(x0 + 15, 30), n)
            x0 += tw
        p.end()

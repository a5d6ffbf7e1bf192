"""Joint traces over time with a cursor, optional limit lines and event markers (pyqtgraph)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

CURSOR_COLOR = (40, 40, 255)  # blue: errors are red, the cursor must not look like one
COLORS = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
    (0, 0, 0),
    (100, 200, 100),
]


class JointPlot(QtWidgets.QWidget):
    """`set_data(t, values, names)`; `set_cursor(t)`; `set_markers([(t, color, text)])`. Emits `seeked(t)` on click."""

    seeked = QtCore.Signal(float)

    def __init__(self, title: str = "", parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"plot:{title}")
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.plot = pg.PlotWidget(background="w", title=title)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setLabel("bottom", "time", units="s")
        self.plot.addLegend(offset=(5, 5), labelTextSize="7pt")
        lay.addWidget(self.plot)
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(CURSOR_COLOR, width=2))
        self.cursor.setZValue(10)
        self.plot.addItem(self.cursor)
        self._curves: list[pg.PlotDataItem] = []
        self._markers: list[pg.InfiniteLine] = []
        self._bands: list[pg.LinearRegionItem] = []
        self.plot.scene().sigMouseClicked.connect(self._clicked)

    def set_data(self, t: np.ndarray, values: np.ndarray, names: Sequence[str], dashed: bool = False) -> None:
        """Replace the traces: `values` (N, J) against `t` (N,)."""
        for c in self._curves:
            self.plot.removeItem(c)
        self._curves = []
        values = np.atleast_2d(values)
        for j in range(values.shape[1]):
            pen = pg.mkPen(
                COLORS[j % len(COLORS)],
                width=1.5,
                style=QtCore.Qt.PenStyle.DashLine if dashed else QtCore.Qt.PenStyle.SolidLine,
            )
            name = names[j] if j < len(names) else f"j{j}"
            # connect="finite": a NaN (no data) breaks the line instead of bridging the gap
            self._curves.append(self.plot.plot(t, values[:, j], pen=pen, name=name, connect="finite"))

    def set_cursor(self, t: float) -> None:
        self.cursor.setValue(float(t))

    def set_markers(self, markers: Sequence[tuple[float, tuple[int, int, int], str]]) -> None:
        for m in self._markers:
            self.plot.removeItem(m)
        self._markers = []
        for t, color, text in markers:
            line = pg.InfiniteLine(
                float(t),
                angle=90,
                movable=False,
                pen=pg.mkPen(color, width=1),
                label=text or None,
                labelOpts={"position": 0.95, "color": color},
            )
            self.plot.addItem(line)
            self._markers.append(line)

    def set_bands(self, bands: Sequence[tuple[float, float, tuple[int, int, int]]]) -> None:
        """Shaded intervals (t0, t1, colour), e.g. encoder gaps: every one, drawn under the traces."""
        for b in self._bands:
            self.plot.removeItem(b)
        self._bands = []
        for t0, t1, color in bands:
            band = pg.LinearRegionItem(
                (float(t0), float(t1)), movable=False, brush=pg.mkBrush(*color, 110), pen=pg.mkPen(*color)
            )
            band.setZValue(-10)
            self.plot.addItem(band)
            self._bands.append(band)

    def _clicked(self, ev) -> None:
        vb = self.plot.getViewBox()
        if vb.sceneBoundingRect().contains(ev.scenePos()):
            self.seeked.emit(float(vb.mapSceneToView(ev.scenePos()).x()))

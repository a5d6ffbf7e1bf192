"""Replay's wrist-trajectory panel: x, y, z over time with the cursor and the lost stretches shaded, and a top
view (x against y) of the path with the current position. Shown only for episodes with a wrist pose."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from apps.replay.data import CURSOR_COLOR, POSE_LOST_COLOR, ReplayData, pose_spans
from apps.widgets.joint_plot import JointPlot

PATH_COLOR = (31, 119, 180)
START_COLOR = (44, 160, 44)


class TrajectoryPanel(QtWidgets.QWidget):
    """`set_episode(data)` (hides itself without a pose), `set_frame(i)`; emits `seeked(t)` on a click."""

    seeked = QtCore.Signal(float)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QtWidgets.QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.xyz = JointPlot("wrist position (m)")
        self.xyz.seeked.connect(self.seeked)
        lay.addWidget(self.xyz, 3)
        self.top = pg.PlotWidget(background="w", title="wrist path, top view")
        self.top.setObjectName("plot:wrist top view")
        self.top.showGrid(x=True, y=True, alpha=0.2)
        self.top.setLabel("bottom", "x", units="m")
        self.top.setLabel("left", "y", units="m")
        self.top.setAspectLocked(True)
        self.path = self.top.plot([], [], pen=pg.mkPen(PATH_COLOR, width=2.5), connect="finite")
        self.start = pg.ScatterPlotItem(size=9, brush=pg.mkBrush(*START_COLOR), pen=None)
        self.here = pg.ScatterPlotItem(size=12, brush=pg.mkBrush(*CURSOR_COLOR), pen=pg.mkPen("w"))
        self.here.setZValue(10)
        self.top.addItem(self.start)
        self.top.addItem(self.here)
        lay.addWidget(self.top, 1)
        self.data: ReplayData | None = None

    def set_episode(self, d: ReplayData) -> None:
        self.data = d if d.wrist is not None else None
        self.setVisible(self.data is not None)
        if d.wrist is None:
            return
        self.xyz.plot.setTitle(f"wrist position (m) — pose:{d.pose_name}")
        self.xyz.set_data(d.t, d.wrist, ["x", "y", "z"])
        self.xyz.set_bands([(a, b, POSE_LOST_COLOR) for a, b in pose_spans(d)])
        self.path.setData(d.wrist[:, 0], d.wrist[:, 1], connect="finite")
        first = np.flatnonzero(np.isfinite(d.wrist[:, 0]))
        self.start.setData([d.wrist[first[0], 0]], [d.wrist[first[0], 1]]) if len(first) else self.start.setData([], [])

    def set_frame(self, i: int) -> None:
        d = self.data
        if d is None or d.wrist is None:
            return
        self.xyz.set_cursor(d.t[i])
        x, y = d.wrist[i, 0], d.wrist[i, 1]
        self.here.setData([x], [y]) if np.isfinite(x) and np.isfinite(y) else self.here.setData([], [])

"""Replay's wrist-trajectory panel: x, y, z over time with the cursor and the lost stretches shaded, and the 3D
path (apps/widgets/trajectory_view.py: orbit, zoom, broken where tracking was lost) with the current frame's
pose as a cursor. Shown only for episodes with a wrist pose."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from apps.replay.data import POSE_LOST_COLOR, ReplayData, pose_spans
from apps.widgets.joint_plot import JointPlot
from apps.widgets.trajectory_view import TrajectoryView

PATH_COLOR = (31, 119, 180)


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
        self.view = TrajectoryView(dark=False, title="wrist path")
        lay.addWidget(self.view, 1)
        self.data: ReplayData | None = None

    def set_episode(self, d: ReplayData) -> None:
        self.data = d if d.wrist is not None else None
        self.setVisible(self.data is not None)
        self.view.clear()
        if d.wrist is None:
            return
        self.xyz.plot.setTitle(f"wrist position (m) — pose:{d.pose_name}")
        self.xyz.set_data(d.t, d.wrist, ["x", "y", "z"])
        self.xyz.set_bands([(a, b, POSE_LOST_COLOR) for a, b in pose_spans(d)])
        self.view.set_track(
            d.pose_name, d.wrist, d.wrist_quat, valid=d.wrist_valid, times=d.t, color=PATH_COLOR, show_current=False
        )

    def set_frame(self, i: int) -> None:
        d = self.data
        if d is None or d.wrist is None:
            return
        self.xyz.set_cursor(d.t[i])
        self.view.set_cursor(d.wrist[i], None if d.wrist_quat is None else d.wrist_quat[i])

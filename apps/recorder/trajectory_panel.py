"""The recorder's live wrist trajectory: the last `WINDOW_S` seconds of each pose source, one colour per source,
in a 3D view (apps/widgets/trajectory_view.py), read from the live buffer's pose rings. Hidden without a pose
source."""

from __future__ import annotations

import time

import numpy as np
from PySide6 import QtWidgets

from apps.recorder.live import POSE_COLS, LiveReader
from apps.widgets.trajectory_view import TrajectoryView
from dexumi.devices.pose import LOST

WINDOW_S = 15.0
MAX_ROWS = 2000  # per source: 15 s at the live buffer's 100 poses/s, and a margin


class TrajectoryPanel(QtWidgets.QWidget):
    """`set_sources(names)` after a session opens, `poll(reader)` every redraw; `latest(name)` is what it holds:
    rows [host_time, x, y, z, qx, qy, qz, qw, state]."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("panel:trajectory")
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.view = TrajectoryView(dark=True, max_points=MAX_ROWS, title=f"wrist trajectory (last {WINDOW_S:g} s)")
        lay.addWidget(self.view)
        self.names: list[str] = []
        self._heads: list[int] = []
        self._rows: dict[str, np.ndarray] = {}
        self.set_sources([])

    def set_sources(self, names: list[str]) -> None:
        """A new session's pose sources (its live buffer's pose rings in this order); none: the panel hides."""
        self.names = list(names)
        self._heads = [0] * len(self.names)
        self._rows = {n: np.empty((0, POSE_COLS)) for n in self.names}
        self.view.clear()
        self.setVisible(bool(self.names))

    def poll(self, reader: LiveReader, now: float | None = None) -> None:
        """Take what each source added to the live buffer; redraw (the view paints at most 30 times a second)."""
        now = time.monotonic() if now is None else now
        for k, name in enumerate(self.names):
            new, self._heads[k] = reader.poses_since(k, self._heads[k])
            old = self._rows[name]
            if not len(new) and (not len(old) or old[0, 0] >= now - WINDOW_S):
                continue
            rows = np.concatenate([old, new]) if len(new) else old
            rows = rows[rows[:, 0] >= now - WINDOW_S][-MAX_ROWS:]
            self._rows[name] = rows
            self.view.set_track(name, rows[:, 1:4], rows[:, 4:8], valid=rows[:, 8] != LOST, times=rows[:, 0])

    def latest(self, name: str) -> np.ndarray:
        return self._rows[name]

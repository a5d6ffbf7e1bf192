"""The replay window: cameras, 3D/2D hand, touch bars (tactile boards), joint plots with a cursor and markers,
the wrist trajectory (episodes with a pose), timeline; keyboard driven.

Keys: Space play/pause · ←/→ one frame · Shift+←/→ ten frames · Home/End · ↑/↓ speed · M / Shift+M next/previous
marker · PgDn/PgUp next/previous episode (folder) · Q or Esc quit.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from apps.replay.data import SPLIT_COLOR, TRIM_COLOR, ReplayData, load
from apps.replay.touch import touch_series
from apps.replay.touch_view import TouchPanel
from apps.replay.trajectory import TrajectoryPanel
from apps.widgets.camera_view import CameraView
from apps.widgets.hand_view import make_hand_view
from apps.widgets.joint_plot import JointPlot
from apps.widgets.timeline import Timeline

log = logging.getLogger(__name__)


class ReplayWindow(QtWidgets.QMainWindow):
    def __init__(self, files: list[Path], prefer_3d: bool = True) -> None:
        super().__init__()
        self.files = files
        self.k = 0
        self.data: ReplayData | None = None
        self.i = 0
        self.speed = 1.0
        self._play_t0 = 0.0
        self._play_i0 = 0
        self.resize(1400, 900)
        central = QtWidgets.QWidget()
        self.setCentralWidget(central)
        outer = QtWidgets.QVBoxLayout(central)
        outer.setContentsMargins(4, 4, 4, 4)
        split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        top = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.camera_box = QtWidgets.QWidget()
        self.camera_layout = QtWidgets.QGridLayout(self.camera_box)
        self.camera_layout.setContentsMargins(0, 0, 0, 0)
        self.cameras: dict[str, CameraView] = {}
        self.hand = make_hand_view(prefer_3d=prefer_3d)
        self.touch = TouchPanel()  # one bar widget per tactile board, under the hand; hidden without touch data
        side = QtWidgets.QWidget()
        sl = QtWidgets.QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.hand, 1)
        sl.addWidget(self.touch)
        top.addWidget(self.camera_box)
        top.addWidget(side)
        top.setSizes([900, 500])
        plots = QtWidgets.QWidget()
        pl = QtWidgets.QHBoxLayout(plots)
        pl.setContentsMargins(0, 0, 0, 0)
        self.action_plot = JointPlot("robot joints (action, rad)")
        self.exo_plot = JointPlot("exoskeleton joints (rad)")
        for p in (self.action_plot, self.exo_plot):
            p.seeked.connect(self.seek_time)
            pl.addWidget(p)
        self.trajectory = TrajectoryPanel()
        self.trajectory.seeked.connect(self.seek_time)
        self.trajectory.hide()
        split.addWidget(top)
        split.addWidget(plots)
        split.addWidget(self.trajectory)
        split.setSizes([520, 300, 240])
        outer.addWidget(split, 1)
        self.timeline = Timeline()
        self.timeline.frame_changed.connect(self.set_frame)
        self.timeline.play_toggled.connect(self._play)
        self.timeline.speed_changed.connect(self._speed)
        outer.addWidget(self.timeline)
        self.finding = QtWidgets.QLabel("")
        self.finding.setObjectName("finding")
        self.finding.setWordWrap(True)
        self.statusBar().addWidget(self.finding, 1)
        self.timer = QtCore.QTimer(self)
        self.timer.setInterval(15)
        self.timer.timeout.connect(self._tick)
        from apps.replay.folder_panel import attach

        attach(self)  # the folder's episode list (L shows/hides it)
        self.open_episode(0)

    # ---- episodes ---------------------------------------------------------------------------------
    def open_episode(self, k: int) -> None:
        k = max(0, min(len(self.files) - 1, k))
        if self.data is not None:
            self.data.close()
        self.k = k
        self.data = d = load(self.files[k])
        self.setWindowTitle(f"dexumi replay — {d.path.name} ({k + 1}/{len(self.files)})")
        for v in self.cameras.values():
            v.setParent(None)
        self.cameras = {}
        for n, cam in enumerate(d.cameras):
            v = CameraView(cam)
            self.cameras[cam] = v
            self.camera_layout.addWidget(v, n // 2, n % 2)
        self.touch.set_series(touch_series(d.ep))
        self.action_plot.set_data(d.t, d.traces(d.action), d.action_names)
        self.exo_plot.set_data(d.t, d.traces(d.exo), d.exo_names)
        marks = [(m.t, m.color, "") for m in d.markers[:300]]
        bands = [(iv.t0, iv.t1, iv.color) for iv in d.intervals]
        for plot in (self.action_plot, self.exo_plot):
            plot.set_markers(marks)
            plot.set_bands(bands)
        self.timeline.set_count(len(d))
        self.timeline.set_markers([(m.frame, m.color) for m in d.markers] + [(a, SPLIT_COLOR) for a, _ in d.parts[1:]])
        self.timeline.set_bands(
            [(int(abs(d.t - iv.t0).argmin()), int(abs(d.t - iv.t1).argmin()), iv.color) for iv in d.intervals]
            + [(a, b, TRIM_COLOR) for a, b in d.trim_bands()]
        )
        self.trajectory.set_episode(d)
        self.set_frame(0)

    # ---- frames -----------------------------------------------------------------------------------
    def set_frame(self, i: int) -> None:
        d = self.data
        if d is None or not len(d):
            return
        self.i = i = max(0, min(len(d) - 1, int(i)))
        for cam, view in self.cameras.items():
            view.set_image(d.image(cam, i))
            drops = [m for m in d.markers_near(i) if m.text.startswith(cam + ":")]
            view.set_status(drops[0].text if drops else "")
        pose = d.pose(i)
        if pose is not None:
            self.hand.set_pose(*pose)
        self.touch.set_frame(i)
        self.action_plot.set_cursor(d.t[i])
        self.exo_plot.set_cursor(d.t[i])
        self.trajectory.set_frame(i)
        gap = d.gap_at(i)
        self.timeline.set_frame(
            i,
            f"frame {i + 1}/{len(d)}  t {d.t[i]:.3f} s  {self.speed:g}×"
            + ("  ENCODER GAP" if gap else "")
            + ("  TRIMMED" if d.trimmed_at(i) else ""),
        )
        near = [m.text for m in d.markers_near(i)]
        if gap:
            near = [
                next(iv.text for iv in d.intervals if iv.t0 <= d.t[i] <= iv.t1 + 1e-9)
                if any(iv.t0 <= d.t[i] <= iv.t1 + 1e-9 for iv in d.intervals)
                else "encoder gap: no data",
                *near,
            ]
        self.finding.setText(" | ".join(dict.fromkeys(near))[:300])

    def seek_time(self, t: float) -> None:
        if self.data is not None:
            self.set_frame(int(abs(self.data.t - t).argmin()))

    def _play(self, on: bool) -> None:
        if on:
            if self.data is not None and self.i >= len(self.data) - 1:
                self.set_frame(0)
            self._play_t0, self._play_i0 = time.monotonic(), self.i
            self.timer.start()
        else:
            self.timer.stop()

    def _speed(self, s: float) -> None:
        self.speed = s
        self._play_t0, self._play_i0 = time.monotonic(), self.i

    def _tick(self) -> None:
        d = self.data
        if d is None:
            return
        target = d.t[self._play_i0] + (time.monotonic() - self._play_t0) * self.speed
        i = int(min(len(d) - 1, max(self._play_i0, d.t.searchsorted(target, side="right") - 1)))
        if i != self.i:
            self.set_frame(i)
        if i >= len(d) - 1:
            self.timeline.play.setChecked(False)

    def toggle_play(self) -> None:
        self.timeline.play.toggle()

    def next_marker(self, direction: int) -> None:
        d = self.data
        if d is None or not d.markers:
            return
        frames = sorted({m.frame for m in d.markers})
        cand = [f for f in frames if (f > self.i if direction > 0 else f < self.i)]
        if cand:
            self.set_frame(cand[0] if direction > 0 else cand[-1])

    def keyPressEvent(self, ev: QtGui.QKeyEvent) -> None:
        key, shift = ev.key(), bool(ev.modifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier)
        K = QtCore.Qt.Key
        step = 10 if shift else 1
        if key == K.Key_Space:
            self.toggle_play()
        elif key == K.Key_Right:
            self.set_frame(self.i + step)
        elif key == K.Key_Left:
            self.set_frame(self.i - step)
        elif key == K.Key_Home:
            self.set_frame(0)
        elif key == K.Key_End:
            self.set_frame(len(self.data) - 1 if self.data else 0)
        elif key == K.Key_Up:
            self.timeline.step_speed(+1)
        elif key == K.Key_Down:
            self.timeline.step_speed(-1)
        elif key == K.Key_M:
            self.next_marker(-1 if shift else +1)
        elif key == K.Key_PageDown:
            self.open_episode(self.k + 1)
        elif key == K.Key_PageUp:
            self.open_episode(self.k - 1)
        elif key == K.Key_L:
            self.folder_dock.setVisible(not self.folder_dock.isVisible())
        elif key in (K.Key_Q, K.Key_Escape):
            self.close()
        else:
            super().keyPressEvent(ev)

    def closeEvent(self, ev: QtGui.QCloseEvent) -> None:
        self.timer.stop()
        if self.data is not None:
            self.data.close()
            self.data = None
        super().closeEvent(ev)

    def screenshot(self, path: str | Path) -> None:
        """Render the whole window to a PNG."""
        QtWidgets.QApplication.processEvents()
        img = self.grab()
        if not img.save(str(path)):
            from dexumi.errors import DexumiError

            raise DexumiError(f"cannot write screenshot {path}")

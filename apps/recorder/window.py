"""The recorder's main window: live views, stream health, episode controls and list, device setup.

The GUI thread only reads the live buffer (apps/recorder/live.py), decodes the newest camera frames, redraws,
and queues commands to the session process (apps/recorder/host_client.py). Capture and writing happen in
that process; nothing the GUI does (or fails to do) can stall them. The episode state machine is
`apps/recorder/state.py` (Qt-free); this window shows it and forwards keys and answers to it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from apps.pyside_fix import immortalize_singletons

immortalize_singletons()  # before any Qt call: see pyside_fix.py

from PySide6 import QtCore, QtGui, QtWidgets

from apps.recorder.camera_view import CameraView
from apps.recorder.controls import Controls
from apps.recorder.episodes import EpisodeList, EpisodeRow, Validator
from apps.recorder.hand_view import HandScene, make_hand_view
from apps.recorder.health import BAD, OK, WARN, CalibrationInfo, HealthTracker, parse_created, worst
from apps.recorder.health_view import HealthTable
from apps.recorder.host_client import HostClient
from apps.recorder.joint_plot import JointPlot
from apps.recorder.live import LiveReader
from apps.recorder.options import RecorderOptions, host_argv, session_config
from apps.recorder.setup_panel import SetupPanel
from apps.recorder.state import BUSY, RecorderController
from apps.recorder.trajectory_panel import TrajectoryPanel
from dexumi.errors import DexumiError
from dexumi.vocab import Outcome, RecorderState

log = logging.getLogger(__name__)
FRAME_MS = 15  # redraw timer (~60 Hz asked; what is reached is measured and shown)
STATUS_MS = 250
WINDOW_S = 10.0
STATE_COLOURS = {
    RecorderState.CONNECTING: "#555",
    RecorderState.IDLE: "#2e5d34",
    RecorderState.COUNTDOWN: "#b26a00",
    RecorderState.STARTING: "#b26a00",
    RecorderState.RECORDING: "#c62828",
    RecorderState.STOPPING: "#b26a00",
    RecorderState.ERROR: "#7b1010",
}


class FpsMeter:
    """Redraws per second over the last second."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.total = 0

    def tick(self) -> None:
        now = time.monotonic()
        self.total += 1
        self.times.append(now)
        if len(self.times) > 400:
            del self.times[:200]

    @property
    def fps(self) -> float:
        now = time.monotonic()
        return float(sum(1 for t in self.times if now - t <= 1.0))


class RecorderWindow(QtWidgets.QMainWindow):
    session_opened = QtCore.Signal()
    episode_finished = QtCore.Signal(str)  # path (after stop, discard or undo)

    def __init__(self, opts: RecorderOptions, settings: QtCore.QSettings | None = None) -> None:
        super().__init__()
        self.opts = opts
        self.settings = settings or QtCore.QSettings("dexumi", "recorder")
        self.setWindowTitle(f"dexumi recorder — {opts.out}")
        self.client: HostClient | None = None
        self.reader: LiveReader | None = None
        self.info: dict = {}
        self.ctl = RecorderController(self)
        self.health = HealthTracker()
        self.cal = CalibrationInfo()
        self.fps = FpsMeter()
        self._head = 0
        self._rows = np.zeros((0, 1))
        self._status: dict | None = None
        self._build()
        self._shortcuts()
        self.validator = Validator(self)
        self.validator.done.connect(self._validated)
        self.frame_timer = QtCore.QTimer(self, interval=FRAME_MS, timerType=QtCore.Qt.TimerType.PreciseTimer)
        self.frame_timer.timeout.connect(self._frame)
        self.status_timer = QtCore.QTimer(self, interval=STATUS_MS)
        self.status_timer.timeout.connect(self._status_tick)
        self.countdown_timer = QtCore.QTimer(self, interval=1000)
        self.countdown_timer.timeout.connect(self.ctl.countdown_step)
        from apps.recorder.day import DayController

        self.day = DayController(self)  # folder list, tasks, pacing, keys, cues, alarms, rerun (apps/recorder/day.py)
        self._set_state(RecorderState.CONNECTING)
        self.open_session()

    # --------------------------------------------------------------------------------------------- UI
    def _build(self) -> None:
        self.setStyleSheet(
            "QMainWindow, QWidget { background: #1c1d22; color: #e6e6e6; }"
            "QGroupBox { border: 1px solid #333; margin-top: 14px; padding-top: 4px; }"
            "QGroupBox::title { subcontrol-origin: margin; left: 6px; color: #9ab; }"
            "QTableWidget { background: #141519; gridline-color: #2a2a2a; }"
            "QHeaderView::section { background: #26272e; color: #bbb; border: 0; padding: 2px; }"
            "QLineEdit, QComboBox, QSpinBox { background: #2a2b33; border: 1px solid #3a3b44; "
            "padding: 3px; }"
        )
        central = QtWidgets.QWidget()
        self.setCentralWidget(central)
        central.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        outer = QtWidgets.QHBoxLayout(central)
        left = QtWidgets.QVBoxLayout()
        outer.addLayout(left, 3)
        # live views: cameras + hand
        self.view_row = QtWidgets.QHBoxLayout()
        self.cam_views: list[CameraView] = []
        self.cam_box = QtWidgets.QHBoxLayout()
        self.view_row.addLayout(self.cam_box, 2)
        self.hand_view = make_hand_view()
        self.view_row.addWidget(self.hand_view, 1)
        self.trajectory = TrajectoryPanel()  # shown when the session has a pose source
        self.view_row.addWidget(self.trajectory, 1)
        left.addLayout(self.view_row, 5)
        plots = QtWidgets.QHBoxLayout()
        self.exo_plot = JointPlot("exoskeleton joints (calibrated)", [])
        self.robot_plot = JointPlot("robot joints (retargeted)", [])
        plots.addWidget(self.exo_plot)
        plots.addWidget(self.robot_plot)
        left.addLayout(plots, 4)
        hbox = QtWidgets.QGroupBox("Stream health")
        hl = QtWidgets.QVBoxLayout(hbox)
        self.health_table = HealthTable()
        hl.addWidget(self.health_table)
        left.addWidget(hbox, 3)
        # right column
        right = QtWidgets.QVBoxLayout()
        outer.addLayout(right, 1)
        self.controls = Controls()
        right.addWidget(self.controls)
        ebox = QtWidgets.QGroupBox("Episodes this session")
        el = QtWidgets.QVBoxLayout(ebox)
        self.episodes = EpisodeList()
        el.addWidget(self.episodes)
        right.addWidget(ebox, 1)
        self.setup = SetupPanel(self.settings, self.opts.sim)
        self.setup.set_current(
            None if self.opts.sim else self.opts.port,
            self.opts.cameras,
            self.opts.hand,
            self.opts.profile,
            self.opts.devices,
            self.opts.sim_devices,
        )
        right.addWidget(self.setup)
        self.setup.apply.connect(self._reconnect)
        self.fps_label = QtWidgets.QLabel()
        self.statusBar().addPermanentWidget(self.fps_label)
        c = self.controls
        c.task.setText(self.opts.task or str(self.settings.value("episode/task", "") or ""))
        c.operator.setText(self.opts.operator or str(self.settings.value("episode/operator", "") or ""))
        c.countdown.setValue(int(self.settings.value("episode/countdown", 0) or 0))
        c.task.editingFinished.connect(lambda: self.settings.setValue("episode/task", c.task.text()))
        c.operator.editingFinished.connect(lambda: self.settings.setValue("episode/operator", c.operator.text()))
        c.countdown.valueChanged.connect(lambda v: self.settings.setValue("episode/countdown", int(v)))
        c.notes.returnPressed.connect(self._notes)
        c.start_stop.connect(self.toggle)
        c.success.connect(lambda: self.mark(Outcome.SUCCESS))
        c.failure.connect(lambda: self.mark(Outcome.FAILURE))
        c.discard.connect(self.discard)
        c.undo.connect(self.undo)
        self.resize(1600, 1000)

    def _shortcuts(self) -> None:
        for key, fn in (
            ("Space", self.toggle),
            ("S", lambda: self.mark(Outcome.SUCCESS)),
            ("F", lambda: self.mark(Outcome.FAILURE)),
            ("Del", self.discard),
            ("Ctrl+Z", self.undo),
        ):
            sc = QtGui.QShortcut(QtGui.QKeySequence(key), self)
            sc.setContext(QtCore.Qt.ShortcutContext.WindowShortcut)
            sc.activated.connect(fn)

    # ------------------------------------------------------------------- the controller's view (RecorderView)
    def show_state(self, state: RecorderState, text: str) -> None:
        self.controls.set_state(state, text, STATE_COLOURS.get(state, "#555"))
        if getattr(self, "setup", None) is not None:
            self.setup.devices.set_locked(state in BUSY)  # devices change between episodes, not during one
        if getattr(self, "day", None) is not None:
            self.day.on_state(state)

    def show_message(self, text: str, error: bool = False) -> None:
        (log.warning if error else log.info)("%s", text)
        self.statusBar().showMessage(text, 15000)

    def show_row(self, row: EpisodeRow) -> None:
        self.episodes.upsert(row)

    def episode_done(self, row: EpisodeRow, validate: bool) -> None:
        if validate:
            self.validator.submit(row.path)
        self.episode_finished.emit(row.path)

    def run_countdown(self, running: bool) -> None:
        (self.countdown_timer.start if running else self.countdown_timer.stop)()

    def episode_fields(self) -> dict[str, str]:
        c = self.controls
        return {"task": c.task.text(), "notes": c.notes.text(), "operator": c.operator.text()}

    def clear_notes(self) -> None:
        self.controls.notes.clear()

    # -------------------------------------------------------------------- the controller, as before
    @property
    def state(self) -> RecorderState:
        return self.ctl.state

    @property
    def error(self) -> str:
        return self.ctl.error

    @property
    def _current(self) -> EpisodeRow | None:
        return self.ctl.current

    @property
    def _last_kept(self) -> EpisodeRow | None:
        return self.ctl.last_kept

    def _set_state(self, state: RecorderState, text: str | None = None) -> None:
        self.ctl.set_state(state, text)

    def _message(self, text: str, error: bool = False) -> None:
        self.show_message(text, error)

    def toggle(self) -> None:
        self.ctl.toggle(self.controls.countdown.value())

    def mark(self, outcome: str) -> None:
        self.ctl.mark(outcome)

    def discard(self) -> None:
        self.ctl.discard()

    def undo(self) -> None:
        self.ctl.undo()

    def _stop(self, outcome: str | None) -> None:
        self.ctl.stop(outcome)

    # ---------------------------------------------------------------------------------------- session
    def open_session(self) -> None:
        try:
            config = session_config(self.opts)
        except Exception as exc:  # noqa: BLE001 - a bad profile etc.: say it, stay open for the setup panel
            self.ctl.fail(str(exc), f"cannot start: {exc}")
            return
        self.client = HostClient(self, host_argv(self.opts))
        self.ctl.send = self.client.send
        self.client.answered.connect(self._answered)
        self.client.died.connect(self._died)
        self.client.send("open", config=config)
        self._set_state(RecorderState.CONNECTING)

    def close_session(self) -> None:
        self.frame_timer.stop()
        self.status_timer.stop()
        if self.reader is not None:
            self.reader.close()
            self.reader = None
        if self.client is not None:
            self.client.close()
            self.client = None
            self.ctl.send = None

    def _reconnect(self) -> None:
        if self.ctl.busy:
            self._message("stop the episode before changing devices", True)
            return
        try:
            ch = self.setup.choices()
        except DexumiError as exc:  # a device row that `--device` would refuse: say why, keep the session
            self._message(str(exc), True)
            return
        self.opts.sim, self.opts.port, self.opts.cameras = ch["sim"], ch["port"], ch["cameras"]
        self.opts.hand, self.opts.profile = ch["hand"], ch["profile"]
        # the table lists every device, --sim-devices ones as ROLE=sim: all go to the session as --device does
        self.opts.devices, self.opts.sim_devices = ch["devices"], []
        self.close_session()
        self.open_session()

    def _on_open(self, result: dict) -> None:
        self.info = result
        self.reader = LiveReader(result["live"])
        self._head = self.reader.head
        for v in self.cam_views:
            v.setParent(None)
        self.cam_views = [CameraView(n) for n in result.get("cameras", [])]
        for v in self.cam_views:
            self.cam_box.addWidget(v)
        self.exo_names = list(result.get("joints", []))
        self.robot_names = list(result.get("robot_joints", []))
        self._replace_plots()
        self.trajectory.set_sources(list(result.get("poses", [])))
        self._load_hand(result.get("map_path"))
        self._load_calibration(result.get("exo_range"))
        for r in result.get("recovered", []):
            self._message(f"recovered an interrupted episode: {r}")
        self._set_state(RecorderState.IDLE)
        self.frame_timer.start()
        self.status_timer.start()
        self.centralWidget().setFocus()
        self.session_opened.emit()

    def _replace_plots(self) -> None:
        for attr, title, names in (
            ("exo_plot", "exoskeleton joints (calibrated)", self.exo_names),
            ("robot_plot", "robot joints (retargeted)", self.robot_names),
        ):
            old = getattr(self, attr)
            new = JointPlot(title, names)
            old.parentWidget().layout().replaceWidget(old, new)
            old.deleteLater()
            setattr(self, attr, new)

    def _load_hand(self, map_path: str | None) -> None:
        self.retargeter = None
        if not map_path:
            self.hand_view.set_scene(None)
            return
        try:
            from dexumi.retarget import Retargeter

            self.retargeter = Retargeter.from_map(map_path)
            self.hand_view.set_scene(HandScene(self.retargeter))
        except Exception as exc:  # noqa: BLE001 - the view is a help, not a requirement
            self._message(f"hand view: {exc}", True)
            self.hand_view.set_scene(None)

    def _load_calibration(self, exo_range: list | None) -> None:
        self.cal = CalibrationInfo()
        if self.opts.profile is not None:
            try:
                from calibration.profile import load_profile

                prof = load_profile(self.opts.profile)
                self.cal = CalibrationInfo(
                    prof.id,
                    parse_created(prof.created),
                    np.array([c.range_rad for c in prof.channels], float),
                    "profile",
                )
            except Exception as exc:  # noqa: BLE001 - the session loaded it already; this is display only
                self._message(f"profile: {exc}", True)
        self.model_range = None if exo_range is None else np.array(exo_range, float)

    def _answered(self, cmd: str, result: object, error: str) -> None:
        if not self.ctl.answered(cmd, result, error) and cmd == "open":
            self._on_open(result)  # type: ignore[arg-type]

    def _died(self, code: int) -> None:
        self.frame_timer.stop()
        self.ctl.fail(
            f"the session process ended (exit {code})", "session process ended — see the log; Connect to restart"
        )

    # --------------------------------------------------------------------------------------- episodes
    def _notes(self) -> None:
        self.ctl.notes()
        self.centralWidget().setFocus()

    def _validated(self, path: str, summary: str) -> None:
        row = self.episodes.by_path(path)
        if row is not None:
            row.validation = summary
            self.episodes.upsert(row)

    # ------------------------------------------------------------------------------------------ drawing
    def _frame(self) -> None:
        rd = self.reader
        if rd is None:
            return
        rows, self._head = rd.rows_since(self._head)
        live = self.day.rerun
        if live is not None:
            live.rows(rows, self.exo_names, self.robot_names)
        now = time.monotonic()
        if len(rows):
            keep = self._rows if self._rows.shape[1] == rows.shape[1] else np.zeros((0, rows.shape[1]))
            allr = np.concatenate([keep, rows])
            self._rows = allr[allr[:, 0] >= now - WINDOW_S - 1.0]
            c = len(self.exo_names)
            if self.robot_names:
                last = self._rows[-1]
                self.hand_view.set_pose(last[1 + c :], last[1 : 1 + c])
        if len(self._rows):  # scroll every redraw
            c = len(self.exo_names)
            t = self._rows[:, 0]
            self.exo_plot.set_data(t, self._rows[:, 1 : 1 + c], now)
            if self.robot_names:
                self.robot_plot.set_data(t, self._rows[:, 1 + c :], now)
        for k, view in enumerate(self.cam_views):
            fr = rd.frame(k)
            if fr is not None:
                view.set_jpeg(fr.jpeg, fr.index)
                if live is not None:
                    live.frame(view.name, fr.time, fr.jpeg)
            elif view.stale():
                view.update()
        if self.trajectory.names:
            self.trajectory.poll(rd, now)
        self.fps.tick()

    def _status_tick(self) -> None:
        rd = self.reader
        if rd is None:
            return
        st = rd.status()
        if st is None:
            return
        self._status = st
        extra = st.get("extra") or {}
        pose = {f"pose:{h['name']}": h for h in st.get("pose") or []}
        rows = [
            self.health.pose(s, pose.get(s["name"]), extra) if s["kind"] == "pose" else self.health.stream(s, extra)
            for s in st["streams"]
        ]
        latest = self._rows[-1, 1 : 1 + len(self.exo_names)] if len(self._rows) else None
        rows.append(self.health.joints(latest, self.exo_names, self.cal))
        rows.append(self.health.calibration(self.cal))
        rows.append(self.health.disk(st))
        self.health_table.show_rows(rows)
        level = worst([r.level for r in rows])
        if self.state == RecorderState.RECORDING:
            self._set_state(
                RecorderState.RECORDING,
                f"● REC  episode {st.get('episode') or ''}  {st.get('elapsed_s', 0):.1f} s"
                + ("  — check health" if level != OK else ""),
            )
        if extra.get("fatal") and self.state != RecorderState.ERROR:
            self._message(extra["fatal"], True)
            self.ctl.session_ended(st)
        self.fps_label.setText(
            f"redraw {self.fps.fps:.0f} fps   state {st.get('state')}   "
            f"health {'OK' if level == OK else 'ATTENTION' if level == WARN else 'PROBLEM'}"
        )
        self.day.on_health(rows, st)

    def health_levels(self) -> dict[str, str]:
        return dict(self.health_table.levels)

    # ----------------------------------------------------------------------------------------- closing
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.settings.setValue("episode/task", self.controls.task.text())
        self.settings.setValue("episode/operator", self.controls.operator.text())
        self.settings.sync()
        self.countdown_timer.stop()
        self.day.close()
        self.close_session()
        self.validator.shutdown()
        super().closeEvent(event)

    def screenshot(self, path: Path) -> Path:
        """Save the window as a PNG (the OpenGL view included)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        pix = self.grab()
        if not pix.save(str(path), "PNG"):
            raise OSError(f"could not write {path}")
        return path


__all__ = ["RecorderWindow", "BAD", "WARN", "OK"]

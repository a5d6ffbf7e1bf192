"""The collector's day in the recorder window: folder list, task targets, reset timer, auto-stop/advance,
re-record, configurable global keys, sound cues, alarms that take the banner, and the live rerun bridge.

`DayController` attaches to a `RecorderWindow` (it owns no capture: everything here runs in the GUI process
and reads what the window already has). The window calls `on_state(state)` on every state change and
`on_health(rows, status)` after every status tick; the rest hangs off its signals.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from apps.recorder.health import BAD
from apps.recorder.keys import KeyRouter, RecorderSettings, load_settings
from apps.recorder.pacing import TaskTarget, count_done, format_clock, load_tasks, next_open
from apps.recorder.sounds import Cues
from apps.widgets.episode_table import EpisodeTable
from dexumi.vocab import Outcome, RecorderState

log = logging.getLogger(__name__)
ALARM_COLOUR = "#b00020"


class TaskPanel(QtWidgets.QWidget):
    """Task targets with progress; clicking a task makes it the current one."""

    chosen = QtCore.Signal(str)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.table = QtWidgets.QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(("task", "done / target"))
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.cellClicked.connect(lambda r, _c: self.chosen.emit(self.table.item(r, 0).text()))
        lay.addWidget(self.table)
        add = QtWidgets.QHBoxLayout()
        self.new_task = QtWidgets.QLineEdit()
        self.new_task.setPlaceholderText("new task")
        self.new_target = QtWidgets.QSpinBox()
        self.new_target.setRange(0, 100000)
        self.new_target.setValue(50)
        self.add_button = QtWidgets.QPushButton("Add")
        self.add_button.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        add.addWidget(self.new_task, 3)
        add.addWidget(self.new_target, 1)
        add.addWidget(self.add_button)
        lay.addLayout(add)
        self.tasks: list[TaskTarget] = []
        self.current = ""

    def show_tasks(self, tasks: list[TaskTarget], current: str) -> None:
        self.tasks, self.current = tasks, current
        self.table.setRowCount(len(tasks))
        for i, t in enumerate(tasks):
            for j, text in enumerate((t.task, f"{t.done} of {t.target}" + (" ✓" if t.complete else ""))):
                item = self.table.item(i, j)
                if item is None:
                    item = QtWidgets.QTableWidgetItem()
                    self.table.setItem(i, j, item)
                item.setText(text)
                f = item.font()
                f.setBold(t.task == current)
                item.setFont(f)
                item.setForeground(
                    QtGui.QColor(110, 200, 120)
                    if t.complete
                    else QtGui.QColor(255, 220, 120)
                    if t.task == current
                    else QtGui.QColor(220, 220, 220)
                )

    def progress_text(self, task: str) -> str:
        t = next((x for x in self.tasks if x.task == task), None)
        return f"{t.task}: {t.done} of {t.target}" if t else ""


class DayController(QtCore.QObject):
    def __init__(self, win, settings: RecorderSettings | None = None) -> None:
        super().__init__(win)
        self.win = win
        opts = win.opts
        self.settings = settings or load_settings(getattr(opts, "keys", None))
        self.duration_s: float | None = getattr(opts, "duration", None)
        self.episodes: int | None = getattr(opts, "episodes", None)
        self.reset_s = float(getattr(opts, "reset_s", None) or self.settings.reset_s)
        self.cues = Cues(muted=bool(getattr(opts, "mute", False)) or self.settings.muted, speech=self.settings.speech)
        self.recorded = 0  # episodes kept by this window (auto-advance stops at `episodes`)
        self.alarm = ""
        self.flagged: dict[int, str] = {}
        self._rerecord = False
        self._prev_state = ""
        self._stopped_at: float | None = None
        self._episode_no: int | None = None
        self.rerun = None
        self._build()
        self.router = KeyRouter(
            win,
            self.settings.keys,
            {
                "start_stop": win.toggle,
                "success": lambda: win.mark("success"),
                "failure": lambda: win.mark("failure"),
                "discard": win.discard,
                "undo": win.undo,
                "rerecord": self.rerecord,
                "mute": self.toggle_mute,
            },
        )
        for sc in win.findChildren(QtGui.QShortcut):  # the router has the keys now (remappable, global)
            if sc.parent() is win:
                sc.setEnabled(False)
        self.auto_stop = QtCore.QTimer(self, singleShot=True)
        self.auto_stop.timeout.connect(self._auto_stop)
        self.reset_timer = QtCore.QTimer(self, interval=200)
        self.reset_timer.timeout.connect(self._reset_tick)
        # the window emits this before it returns to idle: handle it once it has
        win.episode_finished.connect(lambda p: QtCore.QTimer.singleShot(0, lambda: self._finished(p)))
        win.session_opened.connect(self.refresh)
        win.session_opened.connect(self.router.watch)  # widgets made when the session opened
        win.validator.done.connect(self.folder.set_validation)
        if getattr(opts, "rerun", None) is not None:
            self._start_rerun(opts.rerun)

    # ---- widgets -------------------------------------------------------------------------------------
    def _build(self) -> None:
        win = self.win
        right = win.controls.parentWidget().layout()
        box = QtWidgets.QGroupBox("Today: tasks and pacing")
        bl = QtWidgets.QVBoxLayout(box)
        top = QtWidgets.QHBoxLayout()
        self.reset_label = QtWidgets.QLabel("")
        f = self.reset_label.font()
        f.setPointSize(13)
        f.setBold(True)
        self.reset_label.setFont(f)
        top.addWidget(self.reset_label, 1)
        self.mute_box = QtWidgets.QCheckBox("mute [M]")
        self.mute_box.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.mute_box.toggled.connect(self._set_muted)
        top.addWidget(self.mute_box)
        bl.addLayout(top)
        self.tasks = TaskPanel()
        self.tasks.chosen.connect(self.choose_task)
        self.tasks.add_button.clicked.connect(self._add_task)
        self.tasks.new_task.returnPressed.connect(self._add_task)
        bl.addWidget(self.tasks)
        right.insertWidget(1, box)
        # the day's folder replaces "Episodes this session"
        self.folder = EpisodeTable(win.opts.out)
        self.folder.failed.connect(lambda m: win._message(m, True))
        self.folder.edited.connect(lambda _p: self.refresh())
        ebox = win.episodes.parentWidget()
        ebox.setTitle("Episodes in this folder")
        ebox.layout().addWidget(self.folder)
        win.episodes.hide()
        self.task_plan: list[TaskTarget] = []
        path = getattr(win.opts, "tasks", None)
        if path is not None:
            self.task_plan = load_tasks(path)
        else:
            import json

            try:
                saved = json.loads(str(win.settings.value("day/tasks", "[]") or "[]"))
                self.task_plan = [TaskTarget(str(d["task"]), int(d["target"])) for d in saved]
            except (ValueError, KeyError, TypeError):
                self.task_plan = []
        self.mute_box.setChecked(self.cues.muted)

    def _add_task(self) -> None:
        name = self.tasks.new_task.text().strip()
        if not name:
            return
        if name not in [t.task for t in self.task_plan]:
            self.task_plan.append(TaskTarget(name, self.tasks.new_target.value()))
            self._save_plan()
        self.tasks.new_task.clear()
        self.choose_task(name)
        self.win.centralWidget().setFocus()

    def _save_plan(self) -> None:
        import json

        if getattr(self.win.opts, "tasks", None) is None:
            self.win.settings.setValue(
                "day/tasks", json.dumps([{"task": t.task, "target": t.target} for t in self.task_plan])
            )

    def choose_task(self, name: str) -> None:
        if self.win.state in (RecorderState.RECORDING, RecorderState.STARTING, RecorderState.STOPPING):
            self.win._message("the task changes after this episode", True)
            return
        self.win.controls.task.setText(name)
        self.win.settings.setValue("episode/task", name)
        self._show_tasks()

    def _show_tasks(self) -> None:
        count_done(self.task_plan, self.folder.entries)
        self.tasks.show_tasks(self.task_plan, self.win.controls.task.text().strip())

    def refresh(self) -> None:
        self.folder.protected = (
            {self._episode_no}
            if self._episode_no is not None
            and self.win.state in (RecorderState.RECORDING, RecorderState.STARTING, RecorderState.STOPPING)
            else set()
        )
        self.folder.refresh()
        self._show_tasks()

    # ---- state changes ---------------------------------------------------------------------------------
    def on_state(self, state: str) -> None:
        prev, self._prev_state = self._prev_state, state
        if state == RecorderState.COUNTDOWN:
            self.cues.play("countdown")
        if state == RecorderState.RECORDING and prev != RecorderState.RECORDING:
            self.reset_timer.stop()
            self.reset_label.setText("")
            self._episode_no = self.win._current.number if self.win._current is not None else None
            self.cues.play("start")
            if self._episode_no is not None:
                self.cues.say(f"recording episode {self._episode_no}")
            if self.duration_s:
                self.auto_stop.start(int(self.duration_s * 1000))
        if prev == RecorderState.RECORDING and state != RecorderState.RECORDING:
            self.auto_stop.stop()
        if state == RecorderState.ERROR and prev != RecorderState.ERROR:
            self.cues.play("error")

    def _auto_stop(self) -> None:
        if self.win.state == RecorderState.RECORDING:
            self.win._stop(None)

    def _finished(self, path: str) -> None:
        """After stop, discard or undo: refresh lists and counts, flag gaps, cue, start the reset timer."""
        name = Path(path).name
        kept = name.endswith(".h5")
        self.refresh()
        if self._rerecord:
            self._rerecord = False
            self._restart()
            return
        if not kept:
            self.cues.play("stop")
            return
        row = self.win.episodes.by_path(path)
        outcome = row.outcome if row is not None else "unknown"
        self.cues.play("success" if outcome == Outcome.SUCCESS else "failure" if outcome == Outcome.FAILURE else "stop")
        self.recorded += 1
        self._flag_gaps(path)
        self._advance_task()
        self._stopped_at = time.monotonic()
        self.reset_timer.start()
        self._reset_tick()

    def _flag_gaps(self, path: str) -> None:
        from dexumi.episode import schema as S

        n = S.episode_number(path)
        e = self.folder.entry(n) if n is not None else None
        if e is None or e.longest_gap_s <= self.settings.gap_flag_s:
            return
        text = f"episode {n:04d} has a {e.longest_gap_s:.1f} s gap in the encoder stream — Del discards it"
        self.flagged[n] = text
        self.cues.play("error")
        self.win._message(text, True)
        self.win.controls.set_state("idle", f"⚠ {text}", ALARM_COLOUR)
        try:
            from dexumi.episode.metadata import edit_file

            edit_file(path, {"flags": f"gap {e.longest_gap_s:.1f} s"})
            self.folder.refresh()
        except Exception as exc:  # noqa: BLE001 - the flag on screen matters more than the one in the file
            log.warning("flagging %s: %s", path, exc)

    def _advance_task(self) -> None:
        current = self.win.controls.task.text().strip()
        count_done(self.task_plan, self.folder.entries)
        t = next((x for x in self.task_plan if x.task == current), None)
        if t is not None and t.complete:
            nxt = next_open(self.task_plan, current)
            if nxt is not None and nxt.task != current:
                self.cues.say(f"{current} done; next: {nxt.task}")
                self.choose_task(nxt.task)
        self._show_tasks()

    def _reset_tick(self) -> None:
        if self._stopped_at is None or self.win.state != RecorderState.IDLE:
            return
        elapsed = time.monotonic() - self._stopped_at
        done = self.episodes is not None and self.recorded >= self.episodes
        if done:
            self.reset_label.setText(f"done: {self.recorded} of {self.episodes} episodes")
            self.reset_timer.stop()
            return
        progress = self.tasks.progress_text(self.win.controls.task.text().strip())
        nxt = f"next is {self.folder.next_number():04d}"
        if self.reset_s > 0:
            left = self.reset_s - elapsed
            self.reset_label.setText(f"reset {format_clock(left)} · {nxt}" + (f" · {progress}" if progress else ""))
            if left <= 0:
                self.reset_timer.stop()
                if self.episodes is not None:  # auto-advance
                    self.win.toggle()
                else:
                    self.cues.play("countdown")
        else:
            self.reset_label.setText(f"reset {format_clock(elapsed)} · {nxt}" + (f" · {progress}" if progress else ""))
            if self.episodes is not None and self.duration_s:  # auto-advance with no reset time: go on at once
                self.reset_timer.stop()
                self.win.toggle()

    # ---- keys --------------------------------------------------------------------------------------------
    def rerecord(self) -> None:
        """Discard the episode being recorded (or the last kept one) and start again."""
        w = self.win
        if w.state == RecorderState.RECORDING or (
            w.state == RecorderState.IDLE and w._last_kept is not None and w._last_kept.status == "kept"
        ):
            self._rerecord = True
            if self.episodes is not None and w.state == RecorderState.IDLE:
                self.recorded = max(0, self.recorded - 1)
            w.discard()

    def _restart(self) -> None:
        if self.win.state == RecorderState.IDLE:
            self.win.toggle()

    def toggle_mute(self) -> None:
        self.mute_box.setChecked(not self.mute_box.isChecked())

    def _set_muted(self, on: bool) -> None:
        self.cues.muted = on
        self.win._message("sound off" if on else "sound on")

    # ---- alarms -------------------------------------------------------------------------------------------
    def on_health(self, rows: list, status: dict) -> None:
        """A lost device or camera, or a full disk, takes the whole banner, names the stream, freezes the hand."""
        lost = [r for r in rows if r.level == BAD and r.name not in ("joints", "calibration")]
        if lost:
            parts = []
            for r in lost:
                what = "LOST" if ("lost" in r.reason or "no data" in r.reason) else "PROBLEM"
                parts.append(f"DISK LOW — {r.reason}" if r.name == "disk" else f"{r.name.upper()} {what} — {r.reason}")
            text = "  ·  ".join(parts)
            if text != self.alarm:
                self.cues.play("error")
                if not self.alarm:
                    self.cues.say(f"{lost[0].name} {'lost' if lost[0].name != 'disk' else 'disk low'}")
            self.alarm = text
            prefix = "● REC  " if self.win.state == RecorderState.RECORDING else ""
            self.win.controls.set_state(self.win.state, f"⚠ {prefix}{text}", ALARM_COLOUR)
            enc_lost = any(r.name == "encoder" for r in lost)
            self.win.hand_view.set_frozen(f"FROZEN — {lost[0].name} lost" if enc_lost else "")
        elif self.alarm:
            self.alarm = ""
            self.win.hand_view.set_frozen("")
            self.win._set_state(self.win.state) if self.win.state != RecorderState.RECORDING else None

    # ---- rerun ------------------------------------------------------------------------------------------
    def _start_rerun(self, target: str) -> None:
        try:
            from apps.rerunview.live import LiveRerun

            self.rerun = LiveRerun(target or None)
        except Exception as exc:  # noqa: BLE001 - the viewer is optional; say why it is off
            self.win._message(f"rerun: {exc}", True)
            self.rerun = None

    def close(self) -> None:
        self.router.remove()
        self.auto_stop.stop()
        self.reset_timer.stop()
        if self.rerun is not None:
            self.rerun.close()
            self.rerun = None

"""Episode controls: big buttons, the keys (shown on screen), task/operator/notes, countdown, state banner."""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from dexumi.vocab import RecorderState

KEYS = (
    ("Space", "start / stop"),
    ("S", "success (stops if recording)"),
    ("F", "failure (stops if recording)"),
    ("Del", "discard episode"),
    ("Ctrl+Z", "undo discard (until next start)"),
    ("Esc", "leave a text field"),
)


def _big(text: str, colour: str) -> QtWidgets.QPushButton:
    b = QtWidgets.QPushButton(text)
    b.setMinimumHeight(48)
    b.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)  # keys go to the shortcuts, never "click" a button
    f = b.font()
    f.setPointSize(12)
    f.setBold(True)
    b.setFont(f)
    b.setStyleSheet(
        f"QPushButton {{ background: {colour}; color: white; border-radius: 6px; }}"
        "QPushButton:disabled { background: #444; color: #888; }"
    )
    return b


class Controls(QtWidgets.QWidget):
    start_stop = QtCore.Signal()
    success = QtCore.Signal()
    failure = QtCore.Signal()
    discard = QtCore.Signal()
    undo = QtCore.Signal()

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.banner = QtWidgets.QLabel("starting devices…")
        self.banner.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.banner.setMinimumHeight(56)
        f = self.banner.font()
        f.setPointSize(16)
        f.setBold(True)
        self.banner.setFont(f)
        lay.addWidget(self.banner)
        self.b_start = _big("● Start  [Space]", "#2e7d32")
        self.b_success = _big("✓ Success  [S]", "#1565c0")
        self.b_failure = _big("✗ Failure  [F]", "#8e4a00")
        self.b_discard = _big("Discard  [Del]", "#8b1d1d")
        self.b_undo = _big("↶ Undo  [Ctrl+Z]", "#555")
        grid = QtWidgets.QGridLayout()
        grid.addWidget(self.b_start, 0, 0, 1, 2)
        grid.addWidget(self.b_success, 1, 0)
        grid.addWidget(self.b_failure, 1, 1)
        grid.addWidget(self.b_discard, 2, 0)
        grid.addWidget(self.b_undo, 2, 1)
        lay.addLayout(grid)
        for b, sig in (
            (self.b_start, self.start_stop),
            (self.b_success, self.success),
            (self.b_failure, self.failure),
            (self.b_discard, self.discard),
            (self.b_undo, self.undo),
        ):
            b.clicked.connect(sig.emit)
        form = QtWidgets.QFormLayout()
        self.task = QtWidgets.QLineEdit()
        self.task.setPlaceholderText("e.g. pick up the cup")
        self.operator = QtWidgets.QLineEdit()
        self.notes = QtWidgets.QLineEdit()
        self.notes.setPlaceholderText("notes for this episode (Enter to save)")
        self.countdown = QtWidgets.QSpinBox()
        self.countdown.setRange(0, 10)
        self.countdown.setSuffix(" s countdown")
        self.countdown.setSpecialValueText("no countdown")
        form.addRow("Task", self.task)
        form.addRow("Operator", self.operator)
        form.addRow("Notes", self.notes)
        form.addRow("Start", self.countdown)
        lay.addLayout(form)
        keys = QtWidgets.QLabel("  ".join(f"<b>{k}</b> {v}" for k, v in KEYS))
        keys.setWordWrap(True)
        keys.setStyleSheet("color: #bbb;")
        lay.addWidget(keys)
        for w in (self.task, self.operator, self.notes, self.countdown):
            esc = QtGui.QShortcut(QtGui.QKeySequence("Esc"), w, context=QtCore.Qt.ShortcutContext.WidgetShortcut)
            esc.activated.connect(lambda: self.window().setFocus())

    def set_state(self, state: str, text: str, colour: str) -> None:
        self.banner.setText(text)
        self.banner.setStyleSheet(f"background: {colour}; color: white; border-radius: 8px;")
        rec = state == RecorderState.RECORDING
        self.b_start.setText(
            "■ Stop  [Space]"
            if rec
            else ("✕ Cancel  [Space]" if state == RecorderState.COUNTDOWN else "● Start  [Space]")
        )
        self.b_start.setStyleSheet(
            self.b_start.styleSheet().replace("#2e7d32", "#c62828")
            if rec
            else self.b_start.styleSheet().replace("#c62828", "#2e7d32")
        )
        ready = state in (RecorderState.IDLE, RecorderState.RECORDING, RecorderState.COUNTDOWN)
        self.b_start.setEnabled(ready)
        for b in (self.b_success, self.b_failure, self.b_discard, self.b_undo):
            b.setEnabled(state in (RecorderState.IDLE, RecorderState.RECORDING))

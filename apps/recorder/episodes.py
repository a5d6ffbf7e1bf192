"""The session's episode list (number, duration, outcome, status, validation) and background validation.

Validation (`dexumi.validate.validate_file`) runs in a child process so that reading HDF5 never holds the GUI's
interpreter lock.
"""

from __future__ import annotations

import logging
import queue
import subprocess
import sys
import threading
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from apps.recorder.state import EpisodeRow as EpisodeRow
from dexumi.vocab import CheckLevel


log = logging.getLogger(__name__)


def summarize(path: str) -> str:
    """'pass' | 'warn: check: message' | 'error: check: message' for one file."""
    from dexumi.validate import validate_file

    r = validate_file(path)
    bad = sorted(
        (c for c in r.checks if c.level in (CheckLevel.WARN, CheckLevel.ERROR)),
        key=lambda c: c.level != CheckLevel.ERROR,
    )
    return r.level + (f": {bad[0].check}: {bad[0].message}" if bad else "")


def _main() -> None:  # python -c "from apps.recorder.episodes import _main; _main()" PATH
    print(summarize(sys.argv[1]), flush=True)


class Validator(QtCore.QObject):
    """Validates finished episodes one at a time in a child Python process; `done(path, summary)`.

    A plain subprocess, not multiprocessing: spawned workers re-import the main script, which for a script that
    opens a recorder window would open a second one.
    """

    done = QtCore.Signal(str, str)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._todo: queue.Queue = queue.Queue()
        self._proc: subprocess.Popen | None = None
        self._thread = threading.Thread(target=self._work, name="validator", daemon=True)
        self._thread.start()

    def submit(self, path: str) -> None:
        self._todo.put(path)

    def _work(self) -> None:
        while True:
            path = self._todo.get()
            if path is None:
                return
            try:
                self._proc = subprocess.Popen(
                    [sys.executable, "-c", "from apps.recorder.episodes import _main; _main()", path],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                out, err = self._proc.communicate(timeout=600)
                lines = out.strip().splitlines()
                summary = (
                    lines[-1]
                    if self._proc.returncode == 0 and lines
                    else f"error: validation failed: {(err.strip().splitlines() or ['?'])[-1]}"
                )
            except Exception as exc:  # noqa: BLE001 - shown in the list
                summary = f"error: validation failed: {exc}"
            try:
                self.done.emit(path, summary)
            except RuntimeError:  # the window closed while this file was being validated: nobody to tell
                return

    def shutdown(self) -> None:
        self._todo.put(None)
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()


COLS = ("#", "duration", "outcome", "status", "validation")
_COLOUR = {"pass": QtGui.QColor(60, 170, 80), "warn": QtGui.QColor(220, 150, 0), "error": QtGui.QColor(220, 60, 60)}


class EpisodeList(QtWidgets.QTableWidget):
    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(0, len(COLS), parent)
        self.setHorizontalHeaderLabels(COLS)
        self.verticalHeader().hide()
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setFocusPolicy(QtGui.Qt.FocusPolicy.NoFocus)
        self.horizontalHeader().setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.verticalHeader().setDefaultSectionSize(20)
        self.rows: dict[int, EpisodeRow] = {}

    def upsert(self, row: EpisodeRow) -> None:
        self.rows[row.number] = row
        order = sorted(self.rows, reverse=True)  # newest on top
        self.setRowCount(len(order))
        for i, n in enumerate(order):
            r = self.rows[n]
            texts = (
                f"{r.number:04d}",
                f"{r.duration_s:.1f} s",
                r.outcome,
                r.status,
                r.validation or ("…" if r.status == "kept" else ""),
            )
            for j, t in enumerate(texts):
                item = self.item(i, j)
                if item is None:
                    item = QtWidgets.QTableWidgetItem()
                    self.setItem(i, j, item)
                item.setText(t)
                item.setToolTip(t)
                if j == 4:
                    item.setForeground(_COLOUR.get(t.split(":")[0], QtGui.QColor(200, 200, 200)))
                elif j == 3:
                    item.setForeground(
                        QtGui.QColor(150, 150, 150) if r.status == "discarded" else QtGui.QColor(230, 230, 230)
                    )

    def by_path(self, path: str) -> EpisodeRow | None:
        for r in self.rows.values():
            if r.path and Path(r.path).name.split(".")[0] == Path(path).name.split(".")[0]:
                return r
        return None

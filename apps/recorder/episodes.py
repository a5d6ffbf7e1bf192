"""The session's episode list (number, duration, outcome, status, validation) and background validation.

Validation (`dexumi.validate.validate_file`) runs in a separate process so that reading HDF5 never holds the
GUI's interpreter lock.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

log = logging.getLogger(__name__)


@dataclass
class EpisodeRow:
    number: int
    path: str = ""
    duration_s: float = 0.0
    outcome: str = "unknown"
    status: str = "recording"  # recording | kept | discarded | error
    validation: str = ""  # "" (pending) | pass | warn: ... | error: ...


def _validate(path: str) -> str:
    from dexumi.validate import validate_file

    r = validate_file(path)
    bad = [c for c in r.checks if c.level in ("warn", "error")]
    return r.level + (f": {bad[0].check}: {bad[0].message}" if bad else "")


class Validator(QtCore.QObject):
    """Validates finished episodes one at a time in a worker process; `done(path, summary)`."""

    done = QtCore.Signal(str, str)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, path: str) -> None:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"))
        fut = self._pool.submit(_validate, path)
        fut.add_done_callback(lambda f, p=path: self._finished(p, f))

    def _finished(self, path: str, fut: Future) -> None:
        try:
            summary = fut.result()
        except Exception as exc:  # noqa: BLE001 - shown in the list
            summary = f"error: validation failed: {exc}"
        self.done.emit(path, summary)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


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
            texts = (f"{r.number:04d}", f"{r.duration_s:.1f} s", r.outcome, r.status, r.validation or
                     ("…" if r.status == "kept" else ""))
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
                    item.setForeground(QtGui.QColor(150, 150, 150) if r.status == "discarded" else
                                       QtGui.QColor(230, 230, 230))

    def by_path(self, path: str) -> EpisodeRow | None:
        for r in self.rows.values():
            if r.path and Path(r.path).name.split(".")[0] == Path(path).name.split(".")[0]:
                return r
        return None

"""A folder's episodes as a table (the rows of `dexumi ls`), with edits from a context menu.

Used by replay (double-click opens an episode) and by the recorder (the day's folder, "next is 0043").
Edits go through `dexumi.episode.metadata` (atomic, logged): outcome, notes, discard/undiscard.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from dexumi.episode.listing import EpisodeEntry, next_number
from dexumi.validate.listing import list_validated

log = logging.getLogger(__name__)
COLS = ("#", "time", "dur", "task", "outcome", "operator", "status", "valid.", "drops", "notes")
_LEVEL = {"pass": QtGui.QColor(60, 170, 80), "warn": QtGui.QColor(220, 150, 0), "error": QtGui.QColor(220, 60, 60)}


class EpisodeTable(QtWidgets.QWidget):
    open_requested = QtCore.Signal(str)  # path
    edited = QtCore.Signal(str)  # path after the edit (a discard renames)
    failed = QtCore.Signal(str)  # an edit's error message

    def __init__(self, folder: str | Path | None = None, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.folder = Path(folder) if folder is not None else None
        self.entries: list[EpisodeEntry] = []
        self.protected: set[int] = set()  # numbers being recorded: not editable here
        self.known_validation: dict[str, str] = {}  # file name → "level: message" validated elsewhere
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.summary = QtWidgets.QLabel("")
        lay.addWidget(self.summary)
        self.table = QtWidgets.QTableWidget(0, len(COLS))
        self.table.setHorizontalHeaderLabels(COLS)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QtWidgets.QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        hh.setStretchLastSection(True)
        self.table.setContextMenuPolicy(QtCore.Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._menu)
        self.table.cellDoubleClicked.connect(lambda r, _c: self._open(r))
        lay.addWidget(self.table)

    # ---- data ---------------------------------------------------------------------------------------
    def set_folder(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.refresh()

    def refresh(self) -> None:
        if self.folder is None or not self.folder.is_dir():
            self.entries = []
        else:
            try:
                self.entries = list_validated(self.folder, cached_only=True)
                for e in self.entries:
                    v = self.known_validation.get(Path(e.path).name)
                    if v and not e.validation and e.status in ("final", "recovered"):
                        e.validation, _, e.validation_message = (x.strip() for x in v.partition(":"))
            except Exception as exc:  # noqa: BLE001 - a listing problem is shown, never fatal
                log.warning("listing %s: %s", self.folder, exc)
                self.entries = []
        self._fill()

    def set_validation(self, path: str, summary: str) -> None:
        """A validation result from elsewhere (the recorder's background validator)."""
        self.known_validation[Path(path).name] = summary
        self.refresh()

    def next_number(self) -> int:
        return next_number(self.folder) if self.folder is not None and self.folder.is_dir() else 1

    def entry(self, number: int) -> EpisodeEntry | None:
        return next((e for e in self.entries if e.number == number), None)

    def _fill(self) -> None:
        rows = sorted(self.entries, key=lambda e: -e.number)  # newest on top
        self.table.setRowCount(len(rows))
        for i, e in enumerate(rows):
            texts = (
                f"{e.number:04d}",
                e.time[11:19],
                f"{e.duration_s:.1f}",
                e.task,
                e.outcome,
                e.operator,
                e.status,
                e.validation,
                str(e.drops),
                (f"[gap {e.longest_gap_s:.1f} s] " if e.longest_gap_s else "") + e.notes,
            )
            for j, t in enumerate(texts):
                item = self.table.item(i, j)
                if item is None:
                    item = QtWidgets.QTableWidgetItem()
                    self.table.setItem(i, j, item)
                item.setText(t)
                item.setToolTip(e.validation_message if j == 7 else t)
                item.setData(QtCore.Qt.ItemDataRole.UserRole, e.number)
                grey = e.status in ("discarded", "failed")
                item.setForeground(
                    _LEVEL.get(t, QtGui.QColor(200, 200, 200))
                    if j == 7
                    else QtGui.QColor(130, 130, 130)
                    if grey
                    else QtGui.QColor(225, 225, 225)
                )
        kept = [e for e in self.entries if e.status in ("final", "recovered")]
        self.summary.setText(
            f"{len(kept)} kept, {len(self.entries) - len(kept)} other · "
            f"{sum(e.duration_s for e in kept) / 60:.1f} min · next is {self.next_number():04d}"
        )

    def _number_at(self, row: int) -> int | None:
        item = self.table.item(row, 0)
        return None if item is None else int(item.data(QtCore.Qt.ItemDataRole.UserRole))

    def _open(self, row: int) -> None:
        n = self._number_at(row)
        e = self.entry(n) if n is not None else None
        if e is not None and e.status in ("final", "recovered"):
            self.open_requested.emit(e.path)

    # ---- edits --------------------------------------------------------------------------------------
    def _menu(self, pos: QtCore.QPoint) -> None:
        n = self._number_at(self.table.rowAt(pos.y()))
        e = self.entry(n) if n is not None else None
        if e is None:
            return
        m = QtWidgets.QMenu(self)
        for act in self.actions_for(e):
            m.addAction(act[0], lambda a=act[1]: self.apply(e.number, a))
        m.exec(self.table.viewport().mapToGlobal(pos))

    def actions_for(self, e: EpisodeEntry) -> list[tuple[str, str]]:
        if e.number in self.protected:
            return []
        if e.status in ("final", "recovered"):
            return [
                ("Open", "open"),
                ("Outcome: success", "outcome:success"),
                ("Outcome: failure", "outcome:failure"),
                ("Outcome: unknown", "outcome:unknown"),
                ("Notes…", "notes"),
                ("Discard", "discard"),
            ]
        if e.status == "discarded":
            return [("Undiscard", "undiscard")]
        return []

    def apply(self, number: int, action: str, value: str | None = None) -> str | None:
        """Do one edit (`outcome:X`, `notes`, `discard`, `undiscard`, `open`); returns the new path, or None."""
        from dexumi.episode import metadata as M

        e = self.entry(number)
        if e is None or number in self.protected:
            return None
        try:
            if action == "open":
                self.open_requested.emit(e.path)
                return e.path
            if action.startswith("outcome:"):
                path = M.edit_file(e.path, {"outcome": action.split(":", 1)[1]}).path
            elif action == "notes":
                if value is None:
                    value, ok = QtWidgets.QInputDialog.getText(
                        self, f"Notes of episode {number:04d}", "Notes:", text=e.notes
                    )
                    if not ok:
                        return None
                path = M.edit_file(e.path, {"notes": value}).path
            elif action == "discard":
                path = M.discard(e.path)
            elif action == "undiscard":
                path = M.undiscard(e.path)
            else:
                raise ValueError(action)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            self.failed.emit(f"episode {number:04d}: {exc}")
            return None
        self.refresh()
        self.edited.emit(str(path))
        return str(path)

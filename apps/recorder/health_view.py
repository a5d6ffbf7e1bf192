"""The stream-health table: one row per stream plus joints, calibration and disk, coloured by level."""

from __future__ import annotations

from PySide6 import QtGui, QtWidgets

from apps.recorder.health import BAD, OFF, OK, WARN, RowHealth

COLUMNS = ("stream", "rate", "drops", "crc", "reconnects", "drift", "align", "latency", "status")
HEADERS = (
    "stream",
    "rate / nominal",
    "drops",
    "CRC err",
    "reconn.",
    "clock drift",
    "align resid.",
    "latency",
    "status",
)
COLOURS = {
    OK: QtGui.QColor(40, 140, 60),
    WARN: QtGui.QColor(200, 140, 0),
    BAD: QtGui.QColor(200, 40, 40),
    OFF: QtGui.QColor(90, 90, 90),
}


class HealthTable(QtWidgets.QTableWidget):
    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(HEADERS)
        self.verticalHeader().hide()
        self.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(QtGui.Qt.FocusPolicy.NoFocus)
        hh = self.horizontalHeader()
        hh.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        hh.setStretchLastSection(True)
        self.verticalHeader().setDefaultSectionSize(22)
        self.levels: dict[str, str] = {}

    def show_rows(self, rows: list[RowHealth]) -> None:
        if self.rowCount() != len(rows):
            self.setRowCount(len(rows))
        for i, row in enumerate(rows):
            self.levels[row.name] = row.level
            for j, key in enumerate(COLUMNS):
                item = self.item(i, j)
                if item is None:
                    item = QtWidgets.QTableWidgetItem()
                    self.setItem(i, j, item)
                item.setText(row.cells.get(key, ""))
                if j == 0:
                    item.setBackground(COLOURS[row.level])
                    item.setForeground(QtGui.QColor("white"))
                elif key == "status":
                    item.setForeground(COLOURS[row.level] if row.level != OK else QtGui.QColor(60, 170, 80))

"""The setup panel's device table (issue 17): the session's devices by role — role, port, protocol, hand —
edited before the session is (re)opened and handed to it as `--device ROLE=PORT,…` texts."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from dexumi.errors import DexumiError

COLUMNS = ("role", "port", "protocol", "hand")
EXTRA = QtCore.Qt.ItemDataRole.UserRole  # on the role cell: the spec's options the table does not show


def _extra(text: str) -> str:
    """`map=…,profile=…,rate=…` of a `--device` text (kept as given when its row is written back)."""
    _, _, rest = text.partition(",")
    keep = [x.strip() for x in rest.split(",") if x.strip().split("=", 1)[0] in ("map", "profile", "rate")]
    return ",".join(keep)


def session_rows(devices: list[str], sim_devices: list[str]) -> list[tuple[str, str, str, str, str]]:
    """(role, port, protocol, hand, extra options) of each device a session was given: `--sim-devices` ones (port
    `sim`) first, then `--device` / `--device-file` ones, as the session orders them (dexumi.session.device_set)."""
    from dexumi.session.device_set import parse_device, parse_sim_devices

    out = [(s.role, s.port, s.protocol, "", "") for s in parse_sim_devices(sim_devices)]
    for text in devices:
        s = parse_device(text)
        out.append((s.role, s.port, s.protocol, s.hand or "", _extra(text)))
    return out


def device_texts(rows: list[tuple[str, str, str, str, str]]) -> list[str]:
    """Table rows → `--device` texts, checked as `dexumi record --device` checks them (one-line DexumiError)."""
    from dexumi.session.config import SessionConfig
    from dexumi.session.device_set import plan_devices

    out = []
    for k, (role, port, protocol, hand, extra) in enumerate(rows):
        if not role and not port:
            continue  # a blank row: left out
        if not role or not port:
            raise DexumiError(f"device row {k + 1}: give a role and a port")
        opts = [f"protocol={protocol}" if protocol else "", f"hand={hand}" if hand else "", extra]
        out.append(",".join([f"{role}={port}", *filter(None, opts)]))
    plan_devices(SessionConfig(out_dir=Path("."), devices=out))  # each spec parsed; roles and sides unique
    return out


class DeviceTable(QtWidgets.QWidget):
    """A row per device; *+* adds one, *−* removes the selected one. Locked while an episode records."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("devices")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QtWidgets.QHeaderView.ResizeMode.Stretch)
        hh.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.setMaximumHeight(110)
        # its width follows the panel's: a table's size hint (every column) would widen the whole window
        self.table.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        lay.addWidget(self.table)
        buttons = QtWidgets.QHBoxLayout()
        self.b_add = QtWidgets.QPushButton("+")
        self.b_remove = QtWidgets.QPushButton("−")
        for b in (self.b_add, self.b_remove):
            b.setMaximumWidth(30)
            b.setFocusPolicy(QtCore.Qt.FocusPolicy.ClickFocus)
            buttons.addWidget(b)
        buttons.addStretch(1)
        lay.addLayout(buttons)
        self.table.setFocusPolicy(QtCore.Qt.FocusPolicy.ClickFocus)
        self.b_add.clicked.connect(lambda: self.add_row())
        self.b_remove.clicked.connect(self.remove_selected)

    def set_devices(self, devices: list[str], sim_devices: list[str]) -> None:
        """Show the devices a session was (or will be) given."""
        self.table.setRowCount(0)
        for row in session_rows(devices, sim_devices):
            self.add_row(*row)

    def add_row(self, role: str = "", port: str = "", protocol: str = "", hand: str = "", extra: str = "") -> None:
        r = self.table.rowCount()
        self.table.insertRow(r)
        for c, v in enumerate((role, port, protocol, hand)):
            self.table.setItem(r, c, QtWidgets.QTableWidgetItem(v))
        self.table.item(r, 0).setData(EXTRA, extra)

    def remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True)
        for r in rows or ([self.table.rowCount() - 1] if self.table.rowCount() else []):
            self.table.removeRow(r)

    def rows(self) -> list[tuple[str, str, str, str, str]]:
        out = []
        for r in range(self.table.rowCount()):
            cells = [
                (self.table.item(r, c).text().strip() if self.table.item(r, c) else "") for c in range(len(COLUMNS))
            ]
            first = self.table.item(r, 0)
            extra = str(first.data(EXTRA) or "") if first is not None else ""
            out.append((cells[0], cells[1], cells[2], cells[3], extra))
        return out

    def devices(self) -> list[str]:
        """The rows as `--device` texts; a DexumiError (one line) when one is not a valid device."""
        return device_texts(self.rows())

    def set_locked(self, locked: bool) -> None:
        for w in (self.table, self.b_add, self.b_remove):
            w.setEnabled(not locked)

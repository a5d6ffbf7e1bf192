"""Device setup: encoder port (serial / BLE), cameras, hand model, calibration profile (remembered in QSettings),
and the session's devices by role (a second exoskeleton, tactile boards: apps.recorder.device_table)."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from apps.recorder.device_table import DeviceTable
from dexumi.errors import DexumiError

log = logging.getLogger(__name__)
SIM = "sim"
DEVICES_KEY = "setup/devices"  # the device table's rows as `--device` texts (a JSON list)


def recent_profiles(settings: QtCore.QSettings) -> list[str]:
    """The remembered profiles, newest first (`type=list`: an ini file gives one remembered value back as a
    plain string, which would otherwise be read letter by letter)."""
    return [str(p) for p in settings.value("setup/profiles", [], type=list) if p]


def remembered_devices(settings: QtCore.QSettings) -> list[str]:
    """The device rows of the last Connect; [] when none were kept or the stored text is not a list of texts."""
    try:
        texts = json.loads(str(settings.value(DEVICES_KEY, "[]") or "[]"))
    except ValueError:
        return []
    return [t for t in texts if isinstance(t, str)] if isinstance(texts, list) else []


def serial_choices() -> list[str]:
    try:
        from firmware_bridge.transports.serial_port import list_serial_ports

        return [p.by_id or p.device for p in list_serial_ports()]
    except Exception as exc:  # noqa: BLE001 - discovery is a convenience
        log.info("serial discovery: %s", exc)
        return []


def camera_choices() -> list[str]:
    try:
        from dexumi.devices.cameras import list_cameras

        return [c["spec"] for c in list_cameras()]
    except Exception as exc:  # noqa: BLE001 - discovery is a convenience
        log.info("camera discovery: %s", exc)
        return []


def hand_choices() -> list[str]:
    """Bundled robot hands, then those of installed packages (allegro_right with dexumi[models])."""
    from dexumi.hands import packaged, registry

    bundled = [m.name for m in registry.bundled() if m.kind == "robot"]
    return bundled + [m.name for m in packaged.packaged() if m.kind == "robot" and m.installed()]


class SetupPanel(QtWidgets.QGroupBox):
    """Choices from discovered lists; `apply` asks the window to reopen the session with them."""

    apply = QtCore.Signal()
    ble_found = QtCore.Signal(list)

    def __init__(self, settings: QtCore.QSettings, sim: bool, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Devices", parent)
        self.settings = settings
        self.sim = sim
        form = QtWidgets.QFormLayout(self)
        self.port = QtWidgets.QComboBox(editable=True)
        self.cameras = QtWidgets.QComboBox(editable=True)
        self.hand = QtWidgets.QComboBox()
        self.profile = QtWidgets.QComboBox(editable=True)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.port, 1)
        self.b_scan = QtWidgets.QPushButton("Scan BLE")
        row.addWidget(self.b_scan)
        form.addRow("Encoder", row)
        form.addRow("Cameras", self.cameras)
        form.addRow("Hand", self.hand)
        prow = QtWidgets.QHBoxLayout()
        prow.addWidget(self.profile, 1)
        b_browse = QtWidgets.QPushButton("…")
        b_browse.setMaximumWidth(30)
        prow.addWidget(b_browse)
        form.addRow("Profile", prow)
        self.devices = DeviceTable()
        form.addRow("Roles", self.devices)
        self.b_apply = QtWidgets.QPushButton("Connect")
        form.addRow(self.b_apply)
        for w in (self.port, self.cameras, self.hand, self.profile, self.b_scan, b_browse, self.b_apply):
            w.setFocusPolicy(QtCore.Qt.FocusPolicy.ClickFocus)
        self.b_apply.clicked.connect(self._apply)
        self.b_scan.clicked.connect(self._scan)
        b_browse.clicked.connect(self._browse)
        self.ble_found.connect(self._add_ble)
        self.fill(sim)

    def fill(self, sim: bool) -> None:
        s = self.settings
        ports = [SIM] + serial_choices() if sim else serial_choices() + [SIM]
        self.port.clear()
        self.port.addItems([p for p in dict.fromkeys(ports + [str(s.value("setup/port", "") or "")]) if p])
        cams = camera_choices()
        self.cameras.clear()
        self.cameras.addItems(
            [
                c
                for c in dict.fromkeys(
                    ([SIM] if sim else [])
                    + ([", ".join(cams)] if cams else [])
                    + [str(s.value("setup/cameras", "") or ""), SIM]
                )
                if c
            ]
        )
        self.hand.clear()
        self.hand.addItems(["(by joint count)"] + hand_choices())
        self.profile.clear()
        self.profile.addItems(["(none)"] + recent_profiles(s))
        self.sim = sim
        if not sim:  # remembered choices; --sim always starts simulated
            self._show_devices(remembered_devices(s), [])
            for combo, key in (
                (self.port, "setup/port"),
                (self.cameras, "setup/cameras"),
                (self.hand, "setup/hand"),
                (self.profile, "setup/profile"),
            ):
                v = s.value(key)
                if v:
                    i = combo.findText(str(v))
                    if i >= 0:
                        combo.setCurrentIndex(i)

    def set_current(
        self,
        port: str | None,
        cameras: list[str],
        hand: str | None,
        profile: Path | None,
        devices: list[str] | None = None,
        sim_devices: list[str] | None = None,
    ) -> None:
        """Show what the session was opened with. Without `--sim`, what the command line left open keeps the
        choice remembered from the last Connect (port, cameras, profile, the device rows)."""
        keep = not self.sim
        if devices or sim_devices or not keep:
            self._show_devices(list(devices or []), list(sim_devices or []))
        if port or not keep:
            self.port.setCurrentText(port or SIM)
        if cameras or not keep:
            self.cameras.setCurrentText(", ".join(cameras) if cameras else SIM)
        if hand:
            self.hand.setCurrentText(hand)
        if profile or not keep:
            self.profile.setCurrentText(str(profile) if profile else "(none)")

    def _show_devices(self, devices: list[str], sim_devices: list[str]) -> None:
        try:
            self.devices.set_devices(devices, sim_devices)
        except DexumiError as exc:  # a remembered row this version no longer accepts: start from an empty table
            log.warning("device rows not shown: %s", exc)
            self.devices.set_devices([], [])

    def choices(self) -> dict:
        """The panel's choices; `devices` as `--device` texts (a DexumiError when a device row is not valid)."""
        cams = [c.strip() for c in self.cameras.currentText().split(",") if c.strip()]
        port = self.port.currentText().strip() or SIM
        hand = self.hand.currentText()
        prof = self.profile.currentText().strip()
        return {
            "sim": port == SIM,
            "port": None if port == SIM else port,
            "cameras": [] if cams == [SIM] else cams,
            "hand": None if hand.startswith("(") else hand,
            "profile": None if not prof or prof.startswith("(") else Path(prof),
            "devices": self.devices.devices(),
        }

    def remember(self) -> None:
        s = self.settings
        s.setValue("setup/port", self.port.currentText())
        s.setValue("setup/cameras", self.cameras.currentText())
        s.setValue("setup/hand", self.hand.currentText())
        s.setValue("setup/profile", self.profile.currentText())
        prof = self.profile.currentText()
        if prof and not prof.startswith("("):
            recent = [prof] + [p for p in recent_profiles(s) if p != prof]
            s.setValue("setup/profiles", recent[:10])
        try:
            s.setValue(DEVICES_KEY, json.dumps(self.devices.devices()))
        except DexumiError:
            pass  # not a valid set of devices: Connect says why, the last good rows stay remembered

    def _apply(self) -> None:
        self.remember()
        self.apply.emit()

    def _browse(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Calibration profile", "", "Profiles (*.yaml *.yml)")
        if path:
            self.profile.setCurrentText(path)

    def _scan(self) -> None:
        self.b_scan.setEnabled(False)
        self.b_scan.setText("scanning…")

        def work() -> None:
            try:
                from firmware_bridge.transports.ble import scan_ble

                found = [
                    f"ble:{b.get('name') or b.get('address')}" for b in scan_ble(3.0) if b.get("has_service", True)
                ]
            except Exception as exc:  # noqa: BLE001 - no adapter here, for instance
                log.info("BLE scan: %s", exc)
                found = []
            self.ble_found.emit(found)

        threading.Thread(target=work, name="ble-scan", daemon=True).start()

    def _add_ble(self, names: list) -> None:
        self.b_scan.setEnabled(True)
        self.b_scan.setText(f"Scan BLE ({len(names)})")
        for n in names:
            if self.port.findText(n) < 0:
                self.port.addItem(n)

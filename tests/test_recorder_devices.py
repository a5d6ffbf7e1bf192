"""The recorder's device table (issue 17): the session's devices (role, port, protocol, hand) shown in the setup
panel, edited before the session is reopened, and handed to it as `--device` hands them; offscreen Qt."""

from __future__ import annotations

import json

import h5py
import pytest

pytest.importorskip("pytestqt")
from PySide6 import QtCore

from apps.recorder.device_table import COLUMNS, device_texts
from apps.recorder.options import RecorderOptions, session_config
from dexumi.errors import DexumiError
from dexumi.session.config import SessionConfig
from dexumi.session.device_set import parse_device, plan_devices

KEY = QtCore.Qt.Key


def _cells(table) -> list[list[str]]:
    t = table.table
    return [[t.item(r, c).text() for c in range(len(COLUMNS))] for r in range(t.rowCount())]


def _cfg(opts: RecorderOptions) -> SessionConfig:
    return SessionConfig.from_wire(json.loads(json.dumps(session_config(opts))))


def _specs(cfg: SessionConfig):
    primary, rest = plan_devices(cfg)
    return [primary, *rest]


def test_the_panel_shows_edits_and_writes_devices_as_the_device_option_does(qtbot, tmp_path):
    from apps.recorder.setup_panel import SetupPanel

    settings = QtCore.QSettings(str(tmp_path / "r.ini"), QtCore.QSettings.Format.IniFormat)
    panel = SetupPanel(settings, sim=True)
    qtbot.addWidget(panel)
    panel.set_current(
        None,
        [],
        None,
        None,
        devices=["exo_left=/dev/ttyACM1,protocol=v1,hand=xhand_like,rate=2000"],
        sim_devices=["exo_right,tactile_right:fsr"],
    )
    assert _cells(panel.devices) == [
        ["exo_right", "sim", "auto", ""],
        ["tactile_right", "sim", "fsr", ""],
        ["exo_left", "/dev/ttyACM1", "v1", "xhand_like"],
    ]
    t = panel.devices.table
    t.item(1, 1).setText("/dev/ttyUSB0")  # the tactile board on a real port, XHand's frames
    t.item(1, 2).setText("xhand-tactile")
    panel.devices.add_row()
    for c, v in enumerate(("tactile_left", "sim", "fsr", "")):
        t.item(3, c).setText(v)
    ch = panel.choices()
    assert ch["devices"] == [
        "exo_right=sim,protocol=auto",
        "tactile_right=/dev/ttyUSB0,protocol=xhand-tactile",
        "exo_left=/dev/ttyACM1,protocol=v1,hand=xhand_like,rate=2000",
        "tactile_left=sim,protocol=fsr",
    ]
    # into the session's config exactly as `dexumi record --sim --device …` (the same texts) puts them
    panel_cfg = _cfg(RecorderOptions(out=tmp_path, sim=True, devices=ch["devices"]))
    cli = [
        "exo_right=sim",
        "tactile_right=/dev/ttyUSB0,protocol=xhand-tactile",
        "exo_left=/dev/ttyACM1,protocol=v1,hand=xhand_like,rate=2000",
        "tactile_left=sim,protocol=fsr",
    ]
    cli_cfg = _cfg(RecorderOptions(out=tmp_path, sim=True, devices=cli))
    assert panel_cfg.devices == ch["devices"]
    assert _specs(panel_cfg) == _specs(cli_cfg)
    left = next(s for s in _specs(panel_cfg) if s.role == "exo_left")
    assert (left.port, left.protocol, left.hand, left.rate_hz) == ("/dev/ttyACM1", "v1", "xhand_like", 2000.0)
    panel.devices.table.selectRow(3)
    panel.devices.remove_selected()
    assert [r[0] for r in panel.devices.rows()] == ["exo_right", "tactile_right", "exo_left"]


@pytest.mark.parametrize(
    "row,why",
    [
        (("hand_right", "/dev/null", "", ""), "use exo_SIDE or tactile_SIDE"),
        (("tactile_right", "/dev/null", "v1", ""), "protocol must be fsr or xhand-tactile"),
        (("tactile_right", "/dev/null", "fsr", "xhand_like"), "takes protocol= and rate= only"),
        (("exo_left", "", "", ""), "give a role and a port"),
    ],
)
def test_a_bad_row_is_refused_with_the_device_options_reason(row, why):
    with pytest.raises(DexumiError, match=why):
        device_texts([("exo_right", "sim", "", "", ""), (*row, "")])
    with pytest.raises(DexumiError, match="device role exo_right given twice"):
        device_texts([("exo_right", "sim", "", "", ""), ("exo_right", "/dev/null", "", "", "")])
    assert device_texts([("", "", "", "", ""), ("exo_left", "sim", "", "", "")]) == ["exo_left=sim"]
    assert parse_device("exo_left=sim").port == "sim"


def test_the_device_rows_port_and_profiles_are_remembered_for_the_next_start(qtbot, tmp_path):
    """What the last Connect used comes back when the recorder starts without `--sim` and without those
    options (one remembered profile too: an ini file hands a one-element list back as a plain string)."""
    from apps.recorder.setup_panel import SetupPanel

    ini = tmp_path / "r.ini"
    rows = [
        "exo_right=/dev/ttyACM0,protocol=v1",
        "exo_left=/dev/ttyACM1,protocol=legacy,hand=xhand_like",
        "tactile_right=/dev/ttyUSB0,protocol=xhand-tactile",
    ]
    first = SetupPanel(QtCore.QSettings(str(ini), QtCore.QSettings.Format.IniFormat), sim=False)
    qtbot.addWidget(first)
    first.set_current(None, [], None, None, devices=rows)
    first.port.setCurrentText("/dev/ttyACM0")
    first.profile.setCurrentText(str(tmp_path / "lab.yaml"))
    with qtbot.waitSignal(first.apply):
        first.b_apply.click()
    first.settings.sync()
    del first.settings  # a new process would read the file afresh: a new QSettings on it here
    again = SetupPanel(QtCore.QSettings(str(ini), QtCore.QSettings.Format.IniFormat), sim=False)
    qtbot.addWidget(again)
    again.set_current(None, [], None, None, devices=[], sim_devices=[])  # the command line gave none of them
    assert again.devices.devices() == rows
    assert again.port.currentText() == "/dev/ttyACM0"
    assert again.profile.currentText() == str(tmp_path / "lab.yaml")
    assert [again.profile.itemText(i) for i in range(again.profile.count())] == ["(none)", str(tmp_path / "lab.yaml")]
    # the command line wins over what was remembered; --sim starts from the command line alone
    again.set_current("/dev/ttyACM5", [], None, None, devices=["exo_right=/dev/ttyACM5"])
    assert (
        again.devices.devices() == ["exo_right=/dev/ttyACM5,protocol=auto"]
        and again.port.currentText() == "/dev/ttyACM5"
    )
    sim = SetupPanel(QtCore.QSettings(str(ini), QtCore.QSettings.Format.IniFormat), sim=True)
    qtbot.addWidget(sim)
    sim.set_current(None, [], None, None, devices=[], sim_devices=[])
    assert sim.devices.rows() == [] and sim.port.currentText() == "sim"


def test_a_remembered_row_that_is_no_longer_valid_starts_an_empty_table(qtbot, tmp_path):
    from apps.recorder.setup_panel import DEVICES_KEY, SetupPanel

    settings = QtCore.QSettings(str(tmp_path / "r.ini"), QtCore.QSettings.Format.IniFormat)
    for stored in ('["hand_right=/dev/null"]', "not json", '{"a": 1}'):
        settings.setValue(DEVICES_KEY, stored)
        panel = SetupPanel(settings, sim=False)
        qtbot.addWidget(panel)
        assert panel.devices.rows() == []


@pytest.fixture
def window(make_window):
    return make_window


def test_devices_edited_in_the_panel_reach_the_session_and_the_episode(window, qtbot, tmp_path):
    win = window(sim_devices=["exo_right,tactile_right:fsr"], sim_tactile_rate=500.0)
    assert _cells(win.setup.devices) == [["exo_right", "sim", "auto", ""], ["tactile_right", "sim", "fsr", ""]]
    qtbot.waitUntil(lambda: "tactile_right" in win.health_table.levels, timeout=10_000)
    assert "exo_left" not in win.health_table.levels
    # a refused row: the reason in the status bar, the session and its options untouched
    win.setup.devices.add_row("hand_left", "sim")
    win.setup.b_apply.click()
    assert "use exo_SIDE or tactile_SIDE" in win.statusBar().currentMessage() and win.state == "idle"
    assert win.opts.sim_devices == ["exo_right,tactile_right:fsr"] and win.opts.devices == []
    win.setup.devices.table.item(2, 0).setText("exo_left")  # fixed: a second (simulated) exoskeleton
    win.setup.b_apply.click()
    qtbot.waitUntil(lambda: win.state == "idle" and "exo_left" in win.health_table.levels, timeout=60_000)
    assert win.opts.devices == ["exo_right=sim,protocol=auto", "tactile_right=sim,protocol=fsr", "exo_left=sim"]
    win.activateWindow()
    win.centralWidget().setFocus()
    qtbot.keyClick(win.centralWidget(), KEY.Key_Space)
    qtbot.waitUntil(lambda: win.state == "recording", timeout=10_000)
    assert not win.setup.devices.table.isEnabled()  # locked while an episode records
    qtbot.wait(1500)
    qtbot.keyClick(win.centralWidget(), KEY.Key_Space)
    qtbot.waitUntil(lambda: win.state == "idle", timeout=20_000)
    assert win.setup.devices.table.isEnabled()
    files = sorted((tmp_path / "out").glob("episode_*.h5"))
    assert len(files) == 1
    with h5py.File(files[0]) as f:
        assert f["raw/encoder"].attrs["role"] == "exo_right"
        assert f["raw/exo_left"].attrs["kind"] == "exo" and f["raw/tactile_right"].attrs["protocol"] == "fsr"
        assert f["raw/exo_left/values"].shape[0] > 100 and f["raw/tactile_right/values"].shape[0] > 100
        assert f["observations/left/qpos"].shape[0] == f["timestamps"].shape[0]

"""The Qt calibration wizard offscreen with --sim: every step runs, one is redone, the profile is saved and
the encoder driver reads the emulator's true angles with it."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

pytest.importorskip("pytestqt")


@pytest.mark.slow  # a real-time end-to-end run (>10 s): CI's `make test-slow` runs it
def test_wizard_runs_end_to_end_offscreen(qtbot, tmp_path, sim_device):
    from apps.wizard.window import CalibrationWizard
    from calibration.profile import load_profile
    from calibration.sim import SensorErrors
    from calibration.wizard_steps import RunOptions
    from dexumi.devices.encoder import EncoderConfig, EncoderDriver
    from firmware_bridge.emulator.truth import read_truth

    out = tmp_path / "wizard.yaml"
    opts = RunOptions(sim=True, hold_s=0.8, sweep_s=0.6, move_s=0.3, wave_s=6.0, camera_views=14)
    w = CalibrationWizard(opts, out, auto=True)
    qtbot.addWidget(w)
    w.resize(1100, 760)
    w.show()
    try:
        with qtbot.waitSignal(w.finished_all, timeout=90_000):
            w.start_all()
        assert all(v == "done" for v in w.state.values()), w.log.toPlainText()
        assert w.save_btn.isEnabled()
        assert w.image.pixmap() is not None and not w.image.pixmap().isNull()  # corners drawn on the live image
        assert "RMS" in w.log.toPlainText()  # joint-map residuals shown
        first = w.run.step("camera").result.rms_px
        with qtbot.waitSignal(w.finished_all, timeout=30_000):  # redo one step
            w.redo("camera")
        assert w.run.step("camera").result.rms_px == pytest.approx(first)
        w.grab().save(str(tmp_path / "wizard.png"))
        qtbot.mouseClick(w.save_btn, __import__("PySide6.QtCore", fromlist=["Qt"]).Qt.MouseButton.LeftButton)
        assert w.saved_path == out
    finally:
        w.shutdown()
    prof = load_profile(out)
    assert (tmp_path / "wizard.map.yaml").is_file() and prof.latencies_s["wrist0"] == pytest.approx(0.04, abs=0.002)
    dev = sim_device("--channels", 6, "--rate", 500, *SensorErrors.example(6, "v1").args())
    batches = []
    with EncoderDriver(EncoderConfig(dev.port, calibration=prof.encoder_calibration())) as drv:
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            batches += drv.read(0.05)
    dev.stop()
    _, truth = read_truth(dev.truth)
    pos = {int(i): k for k, i in enumerate(truth["index"])}
    idx = np.concatenate([b.index for b in batches])
    true = np.stack([truth["angles"][pos[int(i)], :6] for i in idx])
    assert np.max(np.abs(np.concatenate([b.angles for b in batches]) - true)) < math.radians(0.1)


def test_wizard_without_port_has_a_device_chooser_and_no_traceback(qtbot, tmp_path):
    """`dexumi calibrate` with neither --port nor --sim: Start step with a bad device is one line in the
    window (no exception escapes the slot); choosing `sim` in the Device box then runs the step."""
    from PySide6 import QtCore

    from apps.wizard.window import CalibrationWizard
    from calibration.wizard_steps import RunOptions

    w = CalibrationWizard(
        RunOptions(hold_s=0.5, sweep_s=0.4, move_s=0.2, wave_s=0.0, skip=("camera", "latency", "jointmap")),
        tmp_path / "p.yaml",
    )
    qtbot.addWidget(w)
    w.show()
    try:
        choices = [w.device.itemText(i) for i in range(w.device.count())]
        assert "sim" in choices and w.device.isEnabled()
        w.device.setCurrentText(str(tmp_path / "ttyNOPE"))
        qtbot.mouseClick(w.start_btn, QtCore.Qt.MouseButton.LeftButton)  # pytest-qt fails on a slot exception
        assert not w.opened and "cannot open" in w.status.text() and "ttyNOPE" in w.log.toPlainText()
        assert w.current is None and all(v == "pending" for v in w.state.values())
        w.device.setCurrentText("sim")
        qtbot.mouseClick(w.start_btn, QtCore.Qt.MouseButton.LeftButton)
        assert w.opened and not w.device.isEnabled() and w.current is not None
        qtbot.waitUntil(lambda: w.state["flat"] == "done", timeout=30_000)
    finally:
        w.shutdown()

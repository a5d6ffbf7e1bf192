"""Shared fixtures: the emulator as a separate process with its ground-truth log, and data locations."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# `--sim` films the 3D world where it renders; the existing --sim tests measure the flat camera's drawing (bars,
# frame-number strip) over many short episodes on two cores, so the suite defaults to it. World tests opt in
# (`world:` camera specs, or DEXUMI_SIM_CAMERA=world: tests/test_sim_world.py).
os.environ.setdefault("DEXUMI_SIM_CAMERA", "flat")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
KEYPOINTS = SHARED / "data" / "human_hand_keypoints.npy"
LEAP_URDF = SHARED / "hands" / "leap_hand" / "leap_hand_right.urdf"
DEXUMI = [sys.executable, "-m", "apps.cli.main"]


@pytest.fixture
def sim_device(tmp_path):
    """Start emulators: `sim_device(*args)` → SimDeviceProcess with `.truth` set; all stopped afterwards."""
    from dexumi.devices.sim import SimDeviceProcess

    started = []

    def start(*args: object) -> SimDeviceProcess:
        truth = tmp_path / f"truth{len(started)}.bin"
        proc = SimDeviceProcess(*args, truth=truth)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
def make_window(qtbot, tmp_path):
    """`make_window(**options)`: a recorder window on simulated devices, shown, idle and focused (keywords go to
    RecorderOptions; out, settings and the sim truth log live in tmp_path); closed after the test."""
    from PySide6 import QtCore

    from apps.recorder.options import RecorderOptions
    from apps.recorder.window import RecorderWindow

    made = []

    def make(**kw):
        opts = RecorderOptions(
            **{
                "out": tmp_path / "out",
                "sim": True,
                "settings_path": tmp_path / "recorder.ini",
                "sim_truth": tmp_path / "truth.bin",
                **kw,
            }
        )
        win = RecorderWindow(opts, QtCore.QSettings(str(opts.settings_path), QtCore.QSettings.Format.IniFormat))
        qtbot.addWidget(win)
        made.append(win)
        win.show()
        qtbot.waitExposed(win)
        qtbot.waitUntil(lambda: win.state in ("idle", "error"), timeout=60_000)
        assert win.state == "idle", win.error
        win.activateWindow()
        win.centralWidget().setFocus()
        return win

    yield make
    for w in made:
        w.close()


def drain(driver, seconds: float) -> list:
    """Read batches from a started driver for `seconds`."""
    batches = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        batches += driver.read(timeout=0.05)
    return batches


def concat(batches: list, field: str) -> np.ndarray:
    return np.concatenate([getattr(b, field) for b in batches]) if batches else np.empty(0)


def pytest_configure(config):
    """Qt widgets are tested in this process too: apply the PySide6 reference-count workaround first."""
    from apps.pyside_fix import immortalize_singletons

    immortalize_singletons()


def pytest_collection_modifyitems(session, config, items):
    """The batch byte-identity tests (tests/test_scale.py) run first. An export's H.264 bytes differ once the
    same process has rendered with Mesa llvmpipe (seen after tests/test_sim_world.py, also in forked workers;
    fresh processes agree with each other). Likely the renderer's FPU state; open in issue 22's note. The
    comparison they make is between engines, not between a clean and a tainted process."""
    first = [it for it in items if it.nodeid.startswith("tests/test_scale.py")]
    if first:
        rest = [it for it in items if not it.nodeid.startswith("tests/test_scale.py")]
        items[:] = first + rest

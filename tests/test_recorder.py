"""The recorder app (issue 6): keyboard-only episodes, files on disk, screenshot panels, device loss, a frozen GUI,
redraw rate, and the live buffer and health rules underneath. Qt runs offscreen (conftest); the OpenGL view is
tested under Xvfb when xvfb-run exists."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import h5py
import numpy as np
import pytest

from apps.recorder.health import BAD, OK, WARN, CalibrationInfo, HealthTracker
from apps.recorder.live import LiveLayout, LiveReader, LiveWriter
from tests.conftest import DEXUMI, REPO

pytest.importorskip("pytestqt")
from PySide6 import QtCore, QtWidgets

KEY = QtCore.Qt.Key


# ------------------------------------------------------------------------------------------------- helpers


def press(qtbot, win, key, modifier=QtCore.Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(win.centralWidget(), key, modifier)


def record(qtbot, win, seconds: float) -> None:
    press(qtbot, win, KEY.Key_Space)
    qtbot.waitUntil(lambda: win.state == "recording", timeout=10_000)
    qtbot.wait(int(seconds * 1000))
    press(qtbot, win, KEY.Key_Space)
    qtbot.waitUntil(lambda: win.state == "idle", timeout=15_000)


def check_against_truth(path: Path, truth_path: Path) -> int:
    """Every encoder sample between the first and last exactly once, as the emulator sent it; frames contiguous."""
    from dexumi.episode.reader import Episode
    from firmware_bridge.emulator import read_truth

    _, tr = read_truth(truth_path)
    with Episode.open(path) as ep:
        enc = ep.encoder()
        idx = enc["index"]
        assert np.array_equal(idx, np.arange(idx[0], idx[-1] + 1)), "encoder samples missing or repeated"
        sel = (tr["index"] >= idx[0]) & (tr["index"] <= idx[-1]) & (tr["segment"] == 0)
        assert sel.sum() == len(idx), f"{sel.sum()} samples sent, {len(idx)} recorded"
        assert np.array_equal(tr["values"][sel], enc["raw"])
        assert ep.sync_report["encoder"]["missing_samples"] == 0
        for cam in ep.cameras:
            ci = ep.camera_times(cam)["index"]
            assert np.array_equal(ci, np.arange(ci[0], ci[-1] + 1)), f"{cam}: frames missing"
        return len(idx)


# ---------------------------------------------------------------------------------------------- GUI tests
def test_keyboard_only_episodes_files_and_validation(make_window, qtbot, tmp_path):
    from dexumi.validate import validate_file

    win = make_window()
    out = tmp_path / "out"
    record(qtbot, win, 1.5)  # episode 1
    press(qtbot, win, KEY.Key_S)  # success, after stopping
    qtbot.waitUntil(lambda: win.episodes.rows[1].outcome == "success", timeout=5_000)
    record(qtbot, win, 1.0)  # episode 2
    press(qtbot, win, KEY.Key_Delete)
    qtbot.waitUntil(lambda: win.episodes.rows[2].status == "discarded", timeout=10_000)
    assert not (out / "episode_0002.h5").exists() and (out / "episode_0002.h5.discarded").exists()
    press(qtbot, win, KEY.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)  # undo ...
    qtbot.waitUntil(lambda: win.episodes.rows[2].status == "kept", timeout=10_000)
    assert (out / "episode_0002.h5").exists()
    press(qtbot, win, KEY.Key_Delete)  # ... and discard again
    qtbot.waitUntil(lambda: win.episodes.rows[2].status == "discarded", timeout=10_000)
    # the validation column fills in from the background process
    qtbot.waitUntil(lambda: win.episodes.rows[1].validation != "", timeout=60_000)
    assert not win.episodes.rows[1].validation.startswith("error"), win.episodes.rows[1].validation

    kept = sorted(p.name for p in out.glob("episode_*.h5"))
    assert kept == ["episode_0001.h5"]
    assert sorted(p.name for p in out.glob("episode_*.discarded")) == ["episode_0002.h5.discarded"]
    with h5py.File(out / "episode_0001.h5", "r") as f:
        assert f.attrs["outcome"] == "success"
    rep = validate_file(out / "episode_0001.h5")
    assert not rep.failed(), [(c.check, c.message) for c in rep.checks if c.level == "error"]
    # rendering while recording did not cost a sample: counts equal the emulator's truth
    win.close()  # the session process exits; the truth log is complete
    n = check_against_truth(out / "episode_0001.h5", tmp_path / "truth.bin")
    assert n > 1000


def test_task_operator_countdown_persist(make_window, qtbot, tmp_path):
    win = make_window()
    win.controls.task.setText("pick up the cup")
    win.controls.task.editingFinished.emit()
    win.controls.operator.setText("ana")
    win.controls.operator.editingFinished.emit()
    win.controls.countdown.setValue(1)
    press(qtbot, win, KEY.Key_Space)
    assert win.state == "countdown"
    qtbot.waitUntil(lambda: win.state == "recording", timeout=5_000)
    qtbot.wait(500)
    press(qtbot, win, KEY.Key_F)  # failure while recording: stops with that outcome
    qtbot.waitUntil(lambda: win.state == "idle", timeout=10_000)
    with h5py.File(tmp_path / "out" / "episode_0001.h5", "r") as f:
        assert f.attrs["outcome"] == "failure" and f.attrs["task"] == "pick up the cup"
        assert f.attrs["operator"] == "ana"  # the Operator field reaches the file, not only --operator
    win.close()
    s = QtCore.QSettings(str(tmp_path / "recorder.ini"), QtCore.QSettings.Format.IniFormat)
    assert s.value("episode/task") == "pick up the cup" and s.value("episode/operator") == "ana"
    assert int(s.value("episode/countdown")) == 1


def test_frozen_gui_does_not_stop_recording(make_window, qtbot, tmp_path):
    """SIGSTOP the GUI's process (this one) for 3 s while recording: the episode has no drops and no gap."""
    win = make_window()
    press(qtbot, win, KEY.Key_Space)
    qtbot.waitUntil(lambda: win.state == "recording", timeout=10_000)
    qtbot.wait(500)
    t_freeze = time.monotonic()
    subprocess.Popen(["sh", "-c", f"kill -STOP {os.getpid()}; sleep 3; kill -CONT {os.getpid()}"])
    time.sleep(0.5)  # stopped in here
    frozen = time.monotonic() - t_freeze
    assert frozen > 2.5, f"the GUI was not frozen ({frozen:.1f} s)"
    qtbot.wait(500)
    press(qtbot, win, KEY.Key_Space)
    qtbot.waitUntil(lambda: win.state == "idle", timeout=15_000)
    path = tmp_path / "out" / "episode_0001.h5"
    win.close()
    n = check_against_truth(path, tmp_path / "truth.bin")
    assert n > 3500  # ≥ 4 s at 1 kHz: samples kept flowing while the GUI was stopped
    from dexumi.episode.reader import Episode

    with Episode.open(path) as ep:
        assert len(ep.f["raw/encoder/gaps"]) == 0
        for cam in ep.cameras:
            t = ep.camera_times(cam)["mapped_time"]
            assert np.diff(t).max() < 0.2, f"{cam}: a hole of {np.diff(t).max():.2f} s"


@pytest.mark.slow  # a real-time end-to-end run (>10 s): CI's `make test-slow` runs it
def test_unplug_turns_red_and_back_and_episode_records_gap(make_window, qtbot, tmp_path):
    win = make_window(sim_extra_args=["--disconnect-after", "5", "--reconnect-after", "1.5"])
    press(qtbot, win, KEY.Key_Space)
    qtbot.waitUntil(lambda: win.state == "recording", timeout=10_000)
    qtbot.waitUntil(lambda: win.health_levels().get("encoder") == BAD, timeout=15_000)
    red = win.health_table.item(0, 0).background().color().name()
    qtbot.waitUntil(lambda: win.health_levels().get("encoder") in (OK, WARN), timeout=15_000)
    assert win.health_levels()["encoder"] != BAD
    assert red != win.health_table.item(0, 0).background().color().name()
    qtbot.wait(1000)
    press(qtbot, win, KEY.Key_Space)
    qtbot.waitUntil(lambda: win.state == "idle", timeout=15_000)
    from dexumi.episode.reader import Episode

    with Episode.open(tmp_path / "out" / "episode_0001.h5") as ep:
        gaps = ep.f["raw/encoder/gaps"][:]
        assert len(gaps) == 1 and 1.0 < gaps[0, 1] - gaps[0, 0] < 3.0


def test_redraw_rate_while_recording(make_window, qtbot, capsys):
    """≥ 30 redraws per second with two sim cameras, 1 kHz joints and the hand, while recording."""
    win = make_window()
    win.toggle()  # (the same slot as Space; keys are tested above, and need an active window under Xvfb)
    qtbot.waitUntil(lambda: win.state == "recording", timeout=10_000)
    qtbot.wait(1000)
    n0, paints0, t0 = win.fps.total, win.exo_plot.paints, time.monotonic()
    qtbot.wait(4000)
    dt = time.monotonic() - t0
    fps, paint_fps = (win.fps.total - n0) / dt, (win.exo_plot.paints - paints0) / dt
    cams = [v.shown_fps for v in win.cam_views]
    win.toggle()
    qtbot.waitUntil(lambda: win.state == "idle", timeout=15_000)
    with capsys.disabled():
        print(
            f"\nrecorder redraw ({QtWidgets.QApplication.platformName()}, hand view {win.hand_view.mode_text}): {fps:.1f} ticks/s, plot paints {paint_fps:.1f}/s, camera frames shown {cams}"
        )
    assert fps >= 30 and paint_fps >= 30, (fps, paint_fps)
    assert min(cams) >= 20


POSE_SPEC = "pose:sim:rate=100,loss=0.005,loss_s=50ms,seed=7,samples=2000"  # 20 s, then silent


def _pose_truth(spec: str) -> np.ndarray:
    """The samples `spec` generates (seeded: the same states as the session's source), made at once."""
    from dexumi.devices.pose import make_pose

    src = make_pose(spec)
    src.open(start_time=time.monotonic() - 1e3)  # every sample already "arrived": no waiting
    while src.read(1.0) is not None or not src.ended:
        pass
    src.close()
    return src.truth()


def _pose_row(win, name: str = "pose:sim") -> tuple[str, str, str]:
    """(rate cell, status cell, level) of a pose source's health row."""
    from apps.recorder.health_view import COLUMNS

    t = win.health_table
    for i in range(t.rowCount()):
        if t.item(i, 0) is not None and t.item(i, 0).text() == name:
            return (
                t.item(i, COLUMNS.index("rate")).text(),
                t.item(i, COLUMNS.index("status")).text(),
                win.health_levels()[name],
            )
    return "", "", ""


@pytest.mark.slow  # a real-time end-to-end run (>10 s): CI's `make test-slow` runs it
def test_pose_health_line_against_the_sim_truth(make_window, qtbot, tmp_path):
    """`--pose pose:sim` in the recorder: the health panel's pose row says connected, ~100 Hz, a small
    last-sample age and the tracking losses so far; recording keeps the pose; when the finite source falls
    silent the row turns red and its final valid share and loss count are the seeded truth's."""
    import re

    from dexumi.devices.pose import LOST
    from dexumi.episode.reader import Episode

    win = make_window(pose=[POSE_SPEC])
    qtbot.waitUntil(lambda: "connected" in _pose_row(win)[1], timeout=10_000)
    rate, status, level = _pose_row(win)
    m = re.search(r"(dis)?connected · (\d+) Hz · valid (\d+) % · last (\d+) ms ago · (\d+) tracking loss", status)
    assert m and not m.group(1), status
    assert 90 <= int(m.group(2)) <= 110 and rate.endswith("/ 100 Hz") and int(m.group(4)) < 500, status
    assert level in (OK, WARN), (level, status)
    live_losses = int(m.group(5))
    record(qtbot, win, 2.0)
    (ep,) = sorted((tmp_path / "out").glob("episode_*.h5"))
    with Episode.open(ep) as e:
        assert e.poses == ["sim"] and e.wrist_pose("sim")["valid"].mean() > 0.8
    truth = _pose_truth(POSE_SPEC)
    lost = truth["state"] == LOST
    events = int(lost[0]) + int((lost[1:] & ~lost[:-1]).sum())
    cap = truth["capture_time"]
    window = cap >= cap[-1] - 2.0  # the reader's 2 s window before the last sample
    valid = 100 * (1 - lost[window].mean())
    assert events >= 3 and live_losses <= events
    qtbot.waitUntil(lambda: _pose_row(win)[2] == BAD, timeout=40_000)  # the 20 s source has ended
    rate, status, level = _pose_row(win)
    m = re.search(
        r"no data for [\d.]+ s — connected · \d+ Hz · valid (\d+) % · last ([\d.]+) (m?s) ago · "
        r"(\d+) tracking loss",
        status,
    )
    assert m, status
    assert int(m.group(4)) == events, (status, events)
    assert abs(int(m.group(1)) - valid) <= 1, (status, valid)
    assert float(m.group(2)) * (1e-3 if m.group(3) == "ms" else 1) >= 0.5 and rate == "—"


def _region_busy(img: np.ndarray, rect) -> float:
    x, y, w, h = rect
    return float(img[y : y + h, x : x + w].std())


def test_screenshot_shows_all_panels(make_window, qtbot, tmp_path):
    win = make_window()
    qtbot.wait(2500)  # live data in every view
    png = win.screenshot(tmp_path / "rec.png")
    img = cv2.imread(str(png))
    assert img is not None and img.shape[1] >= 1000 and img.shape[0] >= 600
    panels = {
        **{f"camera {v.name}": v for v in win.cam_views},
        "hand": win.hand_view,
        "exo plot": win.exo_plot,
        "robot plot": win.robot_plot,
        "health": win.health_table,
        "controls": win.controls,
        "episodes": win.episodes,
    }
    for name, w in panels.items():
        p = w.mapTo(win, QtCore.QPoint(0, 0))
        rect = (p.x(), p.y(), w.width(), w.height())
        assert w.width() > 100 and w.height() > 80, f"{name} too small: {rect}"
        assert _region_busy(img, rect) > 8, f"{name} looks blank in the screenshot"
    # live content: camera frames and the traces are there
    assert all(v.decodes > 10 for v in win.cam_views)
    assert len(win._rows) > 100


# ------------------------------------------------------------------------------------- the CLI and OpenGL
def _record_help() -> str:
    return subprocess.run([*DEXUMI, "record", "--help"], capture_output=True, text=True, cwd=REPO).stdout


@pytest.mark.slow  # a real-time end-to-end run (>10 s): CI's `make test-slow` runs it
def test_cli_screenshot_with_opengl_under_xvfb(tmp_path):
    """`dexumi record --sim --screenshot` under Xvfb + Mesa (OpenGL hand view), else offscreen (2D)."""
    if "--screenshot" not in _record_help():
        pytest.skip("`dexumi record` has no --screenshot option yet (apps/cli/commands/record.py)")
    png = tmp_path / "shot.png"
    cmd = [*DEXUMI, "record", "--sim", "--screenshot", str(png), "--out", str(tmp_path / "out")]
    env = dict(os.environ)
    if shutil.which("xvfb-run"):
        cmd = ["xvfb-run", "-a", "-s", "-screen 0 1920x1080x24", "env", "QT_QPA_PLATFORM=xcb", *cmd]
    else:
        print("xvfb-run not found: the OpenGL view is not tested, offscreen 2D only")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO, env=env)
    assert p.returncode == 0, p.stderr[-500:]
    img = cv2.imread(str(png))
    assert img.shape[1] >= 1000 and img.shape[0] >= 600
    h, w = img.shape[:2]
    tiles = [
        img[y : y + h // 3, x : x + w // 3]
        for y in range(0, h - h // 3 + 1, h // 3)
        for x in range(0, w - w // 3 + 1, w // 3)
    ]
    assert sum(t.std() > 8 for t in tiles) >= 6


def test_hand_view_uses_opengl_under_xvfb(tmp_path):
    if not shutil.which("xvfb-run"):
        pytest.skip("xvfb-run not installed: the OpenGL hand view cannot be tested here")
    code = (
        "import sys, json; from PySide6 import QtWidgets; app = QtWidgets.QApplication([]);"
        "from apps.recorder.hand_view import make_hand_view, HandScene;"
        "from dexumi.retarget import Retargeter; import numpy as np;"
        "v = make_hand_view(); v.resize(400, 300); r = Retargeter.from_map('dexumi/hands/maps/inspire.yaml');"
        "v.set_scene(HandScene(r)); v.set_pose(np.full(6, 0.5), np.full(6, 0.5)); v.show(); app.processEvents();"
        "img = v.grabFramebuffer() if hasattr(v, 'grabFramebuffer') else v.grab().toImage();"
        "img.save(sys.argv[1]); print(json.dumps({'mode': v.mode_text}))"
    )
    png = tmp_path / "hand.png"
    p = subprocess.run(
        [
            "xvfb-run",
            "-a",
            "-s",
            "-screen 0 1280x1024x24",
            "env",
            "QT_QPA_PLATFORM=xcb",
            sys.executable,
            "-c",
            code,
            str(png),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert p.returncode == 0, p.stderr[-500:]
    assert json.loads(p.stdout.strip().splitlines()[-1])["mode"] == "OpenGL"
    img = cv2.imread(str(png))
    assert img.std() > 8 and len(np.unique((img // 32).reshape(-1, 3), axis=0)) >= 5


def test_hand_view_falls_back_to_2d_offscreen(qtbot):
    from apps.recorder.hand_view import Hand2DView, make_hand_view

    v = make_hand_view()
    qtbot.addWidget(v)
    assert isinstance(v, Hand2DView)


# --------------------------------------------------------------------------------------- no-Qt unit tests
def test_live_buffer_round_trip_and_wrap():
    w = LiveWriter(LiveLayout(exo=3, robot=2, rows=128, cameras=2, camera_bytes=1000, status_bytes=1000))
    try:
        r = LiveReader(w.name, untrack=False)  # same process as the writer here
        rows = np.column_stack([np.arange(300.0), np.ones((300, 5))])
        w.append_rows(rows[:10])
        got, head = r.rows_since(0)
        assert head == 10 and np.array_equal(got, rows[:10])
        w.append_rows(rows[10:300])
        got, head = r.rows_since(head)
        assert head == 300 and np.array_equal(got[:, 0], np.arange(300 - 128 + 64, 300))  # lapped: newest kept
        assert r.frame(0) is None
        assert w.put_frame(1, 7, 1.5, b"\xff\xd8jpeg")
        f = r.frame(1)
        assert f.index == 7 and f.time == 1.5 and f.jpeg == b"\xff\xd8jpeg"
        assert r.frame(1) is None  # unchanged since the last read
        assert not w.put_frame(0, 8, 2.0, b"x" * 2000) and w.too_big == 1
        w.put_status({"state": "idle"})
        assert r.status() == {"state": "idle"} and r.status() is None
        r.close()
    finally:
        w.close()


def _stream(**kw):
    s = {
        "name": "encoder",
        "kind": "encoder",
        "connected": True,
        "rate_hz": 1000.0,
        "nominal_rate_hz": 1000.0,
        "samples": 0,
        "in_episode": 0,
        "dropped": 0,
        "gaps": 0,
        "reconnects": 0,
        "last_data_age_s": 0.01,
        "drift_ppm": 0.0,
        "residual_ms": 0.1,
    }
    s.update(kw)
    return s


def test_health_rules():
    h = HealthTracker()
    assert h.stream(_stream(), {}).level == OK
    assert h.stream(_stream(rate_hz=850.0), {}).level == WARN
    assert h.stream(_stream(rate_hz=300.0), {}).level == BAD
    assert h.stream(_stream(connected=False), {}).level == BAD
    assert h.stream(_stream(last_data_age_s=None), {}).level == BAD
    assert h.stream(_stream(dropped=5), {}).level == WARN  # new drops stay amber for a while
    h2 = HealthTracker()
    h2.stream(_stream(), {})
    assert h2.stream(_stream(reconnects=1), {}).reason == "reconnected" and h2.last_reconnect_utc is not None
    cal = CalibrationInfo("p1", None, np.array([[0.0, 1.0], [0.0, 1.0]]))
    assert h.joints(np.array([0.5, 0.5]), ["a", "b"], cal).level == OK
    row = h.joints(np.array([0.5, 1.3]), ["a", "b"], cal)
    assert row.level == WARN and "b" in row.reason
    assert h.calibration(CalibrationInfo()).level == WARN  # no profile
    from datetime import datetime, timedelta, timezone

    old = CalibrationInfo("p1", datetime.now(timezone.utc) - timedelta(days=1), None)
    assert h2.calibration(old).level == WARN  # older than the reconnect
    assert HealthTracker().calibration(old).level == OK
    disk = h.disk({"disk_free_mb": 1200.0, "min_free_mb": 200.0, "extra": {"data_mb_per_min": 100.0}})
    assert disk.level == WARN and "10 min" in disk.cells["status"]
    assert h.disk({"disk_free_mb": 300.0, "min_free_mb": 200.0, "extra": {"data_mb_per_min": 100.0}}).level == BAD


def test_pose_health_rules():
    """A pose row: green while tracking; amber for a new tracking loss, a low valid share or a lost state; red
    with no data; the status line carries connected, rate, valid share, age and the loss count."""
    s = _stream(name="pose:sim", kind="pose", rate_hz=100.0, nominal_rate_hz=100.0, last_data_age_s=0.02)
    h = {
        "name": "sim",
        "connected": True,
        "rate_hz": 100.0,
        "state": "tracking",
        "lost_fraction": 0.02,
        "dropped": 0,
        "age_s": 0.02,
        "loss_events": 1,
    }
    tr = HealthTracker()
    row = tr.pose(s, h, {})
    assert (
        row.level == OK and row.cells["status"] == "connected · 100 Hz · valid 98 % · last 20 ms ago · 1 tracking loss"
    )
    row = tr.pose(s, {**h, "loss_events": 3}, {})
    assert (
        row.level == WARN
        and row.cells["status"].startswith("tracking lost (2×) — ")
        and "3 tracking losses" in row.cells["status"]
    )
    tr = HealthTracker()
    assert tr.pose(s, {**h, "lost_fraction": 0.25}, {}).reason == "tracking valid 75%"
    assert tr.pose(s, {**h, "state": "lost"}, {}).level == WARN
    row = tr.pose({**s, "last_data_age_s": 2.5}, {**h, "age_s": 2.5}, {})
    assert row.level == BAD and "last 2.5 s ago" in row.cells["status"]
    row = tr.pose({**s, "connected": False}, {**h, "connected": False}, {})
    assert row.level == BAD and "disconnected" in row.cells["status"]

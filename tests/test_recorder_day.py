"""The collector's day in the recorder window (offscreen, keys sent): folder list and next number, task targets
advancing, auto-stop after --duration, auto-advance for --episodes with the reset timer, re-record, Space while
the Task field has focus, a configured pedal key, sound cues, device-loss alarms and the gap flag; replay's
episode list; cue WAVs and spoken cues; the live rerun stream."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import wave

import h5py
import numpy as np
import pytest

from tests.conftest import REPO

pytest.importorskip("pytestqt")
from PySide6 import QtCore

KEY = QtCore.Qt.Key


@pytest.fixture
def make_window(make_window):
    """The shared recorder-window factory (tests/conftest.py), muted: these tests read the cue history."""
    return functools.partial(make_window, mute=True)


def _cues(win) -> list[str]:
    return [name for _, name, _ in win.day.cues.history]


def _attrs(path) -> dict:
    with h5py.File(path, "r") as f:
        return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}


def test_tasks_duration_space_in_task_field_and_pedal(make_window, qtbot, tmp_path):
    keys = tmp_path / "keys.toml"
    keys.write_text('[keys]\nstart_stop = ["Space", "F13"]\n')
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text("stack cups: 2\npour water: 1\n")
    win = make_window(duration=1.2, keys=keys, tasks=tasks)
    out = tmp_path / "out"
    assert "next is 0001" in win.day.folder.summary.text()
    win.day.choose_task("stack cups")
    assert win.controls.task.text() == "stack cups"
    assert win.day.tasks.progress_text("stack cups") == "stack cups: 0 of 2"
    # Space while the Task field has focus starts (the field was not being typed in)
    win.controls.task.setFocus()
    qtbot.waitUntil(lambda: win.controls.task.hasFocus(), timeout=2_000)
    qtbot.keyClick(win.controls.task, KEY.Key_Space)
    qtbot.waitUntil(lambda: win.state == "recording", timeout=10_000)
    assert win.controls.task.text() == "stack cups"  # no space typed
    # auto-stop after --duration
    qtbot.waitUntil(lambda: win.state == "idle" and (out / "episode_0001.h5").exists(), timeout=20_000)
    a = _attrs(out / "episode_0001.h5")
    assert a["task"] == "stack cups" and 0.9 < a["duration_s"] < 2.5, a["duration_s"]  # 1.2 s + command latency
    qtbot.waitUntil(lambda: win.day.tasks.progress_text("stack cups") == "stack cups: 1 of 2", timeout=5_000)
    assert "next is 0002" in win.day.folder.summary.text() and "reset" in win.day.reset_label.text()
    # the pedal key (F13) starts; --duration stops; the target reached moves to the next task
    win.centralWidget().setFocus()
    qtbot.keyClick(win.centralWidget(), KEY.Key_F13)
    qtbot.waitUntil(lambda: win.state == "recording", timeout=10_000)
    qtbot.waitUntil(lambda: win.state == "idle" and (out / "episode_0002.h5").exists(), timeout=20_000)
    qtbot.waitUntil(lambda: win.controls.task.text() == "pour water", timeout=5_000)
    assert [t.done for t in win.day.task_plan] == [2, 0]
    # typing in the Task field: letters and spaces go into the text, nothing starts
    win.controls.task.setFocus()
    win.controls.task.selectAll()
    qtbot.keyClicks(win.controls.task, "pour tea s")
    assert win.controls.task.text() == "pour tea s" and win.state == "idle"
    cues = _cues(win)
    assert cues.count("start") == 2 and cues.count("stop") == 2 and "say:recording episode 1" in cues
    assert {how for _, _, how in win.day.cues.history} == {"muted"}
    assert win.day.router.fired.count("start_stop") == 2


@pytest.mark.slow
def test_episodes_auto_advance_reset_timer_and_rerecord(make_window, qtbot, tmp_path):
    live = tmp_path / "live.rrd"
    win = make_window(duration=1.0, episodes=2, reset_s=1.0, rerun=str(live))
    out = tmp_path / "out"
    qtbot.keyClick(win.centralWidget(), KEY.Key_Space)
    # episode 1 stops by itself, the reset timer runs 1 s, episode 2 starts and stops by itself
    qtbot.waitUntil(lambda: (out / "episode_0002.h5").exists() and win.state == "idle", timeout=40_000)
    qtbot.waitUntil(lambda: win.day.reset_label.text().startswith("done: 2 of 2"), timeout=5_000)
    qtbot.wait(1500)
    assert win.state == "idle" and not list(out.glob("episode_0003*"))  # stops advancing at --episodes
    # re-record: discard the last and record it again
    qtbot.keyClick(win.centralWidget(), KEY.Key_R)
    qtbot.waitUntil(lambda: (out / "episode_0002.h5.discarded").exists(), timeout=15_000)
    qtbot.waitUntil(lambda: (out / "episode_0003.h5").exists() and win.state == "idle", timeout=30_000)
    assert sorted(p.name for p in out.glob("episode_*")) == [
        "episode_0001.h5",
        "episode_0002.h5.discarded",
        "episode_0003.h5",
    ]
    qtbot.waitUntil(
        lambda: {e.number: e.status for e in win.day.folder.entries} == {1: "final", 2: "discarded", 3: "final"},
        timeout=5_000,
    )
    # an edit from the recorder's list: atomic, logged
    assert win.day.folder.apply(1, "outcome:success")
    a = _attrs(out / "episode_0001.h5")
    assert a["outcome"] == "success" and json.loads(a["edit_log"])[-1]["changes"]["outcome"][1] == "success"
    assert win.day.folder.apply(2, "undiscard") and (out / "episode_0002.h5").exists()
    # `record --rerun FILE`: the live view went to rerun (read back with rerun's CLI)
    logged = dict(win.day.rerun.logged)
    win.close()
    from tests.test_day_folder import _rrd_rows

    rows = _rrd_rows(live)
    exo = [k for k in rows if k.startswith("/live/joints/exo/")]
    # every row the window handed over is in the file (the count itself depends on how long the test ran)
    assert len(exo) == len(win.exo_names) > 0 and rows[exo[0]] >= logged["rows"] > 300
    assert rows["/live/cameras/wrist0"] > 30 and logged["frames"] > 60


def _emulator(win):
    """The encoder emulator process of the window's session (a child of the session process)."""
    import psutil

    kids = psutil.Process(int(win.info["pid"])).children(recursive=True)
    return next(p for p in kids if "firmware_bridge.emulator" in " ".join(p.cmdline()))


@pytest.mark.slow
def test_device_loss_takes_the_banner_and_flags_the_episode(make_window, qtbot, tmp_path):
    import signal

    win = make_window()
    emu = _emulator(win)
    qtbot.keyClick(win.centralWidget(), KEY.Key_Space)
    qtbot.waitUntil(lambda: win.state == "recording", timeout=10_000)
    qtbot.wait(1000)
    emu.send_signal(signal.SIGSTOP)  # the board stops sending: the encoder is lost
    try:
        qtbot.waitUntil(lambda: win.day.alarm != "", timeout=15_000)
        banner = win.controls.banner.text()
        assert "ENCODER LOST" in banner and "REC" in banner, banner
        row = next(i for i in range(win.health_table.rowCount()) if win.health_table.item(i, 0).text() == "encoder")
        assert win.health_table.item(row, 1).text() == "—"  # not the stale rate
        assert win.hand_view.frozen.startswith("FROZEN")
        assert "error" in _cues(win)
        qtbot.wait(1500)
    finally:
        emu.send_signal(signal.SIGCONT)
    qtbot.waitUntil(lambda: win.day.alarm == "", timeout=20_000)
    assert win.hand_view.frozen == ""
    qtbot.wait(800)
    qtbot.keyClick(win.centralWidget(), KEY.Key_Space)
    qtbot.waitUntil(lambda: win.state == "idle" and 1 in win.day.flagged, timeout=20_000)
    assert "gap" in win.day.flagged[1] and "Del discards" in win.controls.banner.text()
    path = tmp_path / "out" / "episode_0001.h5"
    assert _attrs(path)["flags"].startswith("gap ")
    assert win.day.folder.entry(1).flags.startswith("gap ")
    qtbot.keyClick(win.centralWidget(), KEY.Key_Delete)  # the offered discard
    qtbot.waitUntil(lambda: (tmp_path / "out" / "episode_0001.h5.discarded").exists(), timeout=15_000)


def test_health_rate_dash_when_lost():
    from apps.recorder.health import BAD, HealthTracker

    s = {
        "name": "encoder",
        "kind": "encoder",
        "connected": False,
        "last_data_age_s": 3.0,
        "nominal_rate_hz": 1000.0,
        "rate_hz": 998.0,
        "dropped": 0,
        "reconnects": 0,
        "drift_ppm": 0.0,
        "residual_ms": 0.0,
    }
    r = HealthTracker().stream(s, {})
    assert r.level == BAD and r.cells["rate"] == "—"
    s.update(connected=True, last_data_age_s=0.01)
    assert HealthTracker().stream(s, {}).cells["rate"] == "998 / 1000 Hz"


def test_cue_wavs_are_well_formed_and_tones_right(tmp_path):
    from apps.recorder.sounds import RATE, TONES, Cues, speak_to_wav, synth, tts_engine, write_wav

    for name, tone in TONES.items():
        path = write_wav(tmp_path / f"{name}.wav", synth(tone))
        with wave.open(str(path)) as w:
            assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, RATE)
            x = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(float)
        assert len(x) == pytest.approx(sum(d for _, d in tone.notes) * RATE, abs=len(tone.notes))
        f0, d0 = tone.notes[0]
        seg = x[: int(d0 * RATE)]
        spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
        assert np.fft.rfftfreq(len(seg), 1 / RATE)[spec.argmax()] == pytest.approx(f0, abs=2 * RATE / len(seg))
        assert np.abs(x).max() <= 32767 * tone.volume + 1 and abs(x[0]) < 2000  # soft edges, no click
    c = Cues(muted=True, cache=tmp_path / "cache")
    assert c.play("start") == "muted" and c.say("recording episode 3") == "muted"
    c.muted = False
    how = c.play("error")
    assert how in ("qt", "pw-play", "paplay", "aplay", "none") and (tmp_path / "cache" / "error.wav").exists()
    assert [n for _, n, _ in c.history] == ["start", "say:recording episode 3", "error"]
    if tts_engine() is None:
        pytest.skip("no TTS engine (espeak-ng) installed")
    wav = speak_to_wav("recording episode 3", tmp_path / "say.wav")
    with wave.open(str(wav)) as w:
        assert w.getnframes() / w.getframerate() > 0.5
        speech = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    assert np.abs(speech).max() > 1000  # not silence
    assert c.say("episode 4 saved") != "muted"  # a spoken cue is rendered (and played where a player exists)
    path, thread = c.spoken[-1]
    thread.join(20)
    with wave.open(str(path)) as w:
        assert w.getnchannels() == 1 and w.getnframes() > 0


def test_settings_file_errors(tmp_path):
    from apps.recorder.keys import load_settings
    from apps.recorder.pacing import load_tasks
    from dexumi.errors import DexumiError

    from PySide6 import QtWidgets

    QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    p = tmp_path / "k.toml"
    p.write_text('[keys]\nstart_stop = "F13"\nmute = ["Ctrl+M"]\n[pacing]\nreset_s = 8\n')
    s = load_settings(p)
    assert s.keys["start_stop"] == ["F13"] and s.keys["mute"] == ["Ctrl+M"] and s.reset_s == 8
    for text, msg in (
        ('[keys]\nlaunch = "X"\n', "unknown key action"),
        ('[keys]\nsuccess = "NoSuchKey+"\n', "not a key"),
        ("[keys\n", "not valid TOML"),
    ):
        p.write_text(text)
        with pytest.raises(DexumiError, match=msg):
            load_settings(p)
    t = tmp_path / "t.yaml"
    t.write_text("- {task: a, target: 3}\n- {task: b}\n")
    assert [(x.task, x.target) for x in load_tasks(t)] == [("a", 3), ("b", 0)]
    t.write_text("a: lots\n")
    with pytest.raises(DexumiError, match="whole number"):
        load_tasks(t)


REPLAY_SCRIPT = r"""
import json, os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from pathlib import Path
from PySide6 import QtWidgets
app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
from apps.replay.window import ReplayWindow
folder = Path(sys.argv[1])
w = ReplayWindow(sorted(folder.glob("episode_*.h5")))
w.show(); app.processEvents()
t = w.folder_table
out = {"rows": [(e.number, e.status) for e in t.entries], "summary": t.summary.text()}
t.open_requested.emit(str(folder / "episode_0002.h5")); app.processEvents()
out["opened"] = w.data.path.name
out["edit"] = t.apply(1, "outcome:failure")
out["notes"] = t.apply(1, "notes", "tracker slipped")
out["discard"] = t.apply(2, "discard")
out["rows_after"] = [(e.number, e.status, e.outcome, e.notes) for e in t.entries]
print(json.dumps(out), flush=True)
os._exit(0)
"""


def test_replay_episode_list_opens_and_edits(tmp_path):
    out = tmp_path / "day"
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "apps.cli.main",
            "record",
            "--headless",
            "--sim",
            "--out",
            str(out),
            "--episodes",
            "2",
            "--duration",
            "1",
            "--task",
            "t",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert p.returncode == 0, p.stderr
    r = subprocess.run(
        [sys.executable, "-c", REPLAY_SCRIPT, str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["rows"] == [[1, "final"], [2, "final"]] and "next is 0003" in res["summary"]
    assert res["opened"] == "episode_0002.h5"
    assert res["edit"].endswith("episode_0001.h5") and res["discard"].endswith("episode_0002.h5.discarded")
    assert res["rows_after"] == [[1, "final", "failure", "tracker slipped"], [2, "discarded", "unknown", ""]]


def _inject_status(win, edit):
    """The window's real status reader, each status passed through `edit(status)` (a copy) before the window
    sees it: a stream loss or a full disk without waiting for one to happen."""
    import copy

    rd = win.reader
    real = rd.status

    def status():
        st = real()
        return None if st is None else edit(copy.deepcopy(st))

    rd.status = status
    return lambda: setattr(rd, "status", real)


def _health_cell(win, stream: str, col: int) -> str:
    row = next(i for i in range(win.health_table.rowCount()) if win.health_table.item(i, 0).text() == stream)
    return win.health_table.item(row, col).text()


def test_camera_loss_takes_the_banner_rate_dash(make_window, qtbot):
    win = make_window()
    qtbot.waitUntil(lambda: bool(win._status), timeout=10_000)  # the last status the window showed
    cams = [s["name"] for s in win._status["streams"] if s["kind"] == "camera"]
    assert cams
    cam = cams[-1]
    qtbot.waitUntil(lambda: _health_cell(win, cam, 1) not in ("", "—"), timeout=10_000)

    def lose(st):
        for s in st["streams"]:
            if s["name"] == cam:
                s.update(connected=False, last_data_age_s=4.0)
        return st

    restore = _inject_status(win, lose)
    try:
        # (on a loaded machine a real, milder alarm of another camera may come first: the loss outranks it)
        qtbot.waitUntil(lambda: f"{cam.upper()} LOST" in win.controls.banner.text(), timeout=10_000)
        banner = win.controls.banner.text()
        assert "device lost" in banner, banner
        assert _health_cell(win, cam, 1) == "—"  # not the stale rate
        assert "ENCODER" not in banner and win.hand_view.frozen == ""  # the hand still moves: only a camera
        assert "error" in _cues(win)
    finally:
        restore()
    qtbot.waitUntil(lambda: win.day.alarm == "", timeout=10_000)
    assert _health_cell(win, cam, 1) != "—"


def test_disk_low_takes_the_banner(make_window, qtbot):
    win = make_window()
    qtbot.waitUntil(lambda: bool(win._status), timeout=10_000)

    def full(st):
        st["disk_free_mb"] = float(st.get("min_free_mb", 0.0)) + 50.0  # 50 MB above the stop threshold
        st.setdefault("extra", {})["data_mb_per_min"] = 100.0  # ~0.5 min left: below the 3 min alarm
        return st

    restore = _inject_status(win, full)
    try:
        qtbot.waitUntil(lambda: win.day.alarm != "", timeout=10_000)
        banner = win.controls.banner.text()
        assert "DISK LOW" in banner and "min at 100 MB/min" in banner, banner
        assert "~1 min" in banner or "~0 min" in banner, banner
        assert "LOST" not in banner and win.hand_view.frozen == ""
        assert "error" in _cues(win)
    finally:
        restore()
    qtbot.waitUntil(lambda: win.day.alarm == "", timeout=10_000)

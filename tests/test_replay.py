"""dexumi replay: the window renders offscreen with every panel showing content (screenshot regions checked);
keys step, jump, play and switch episodes; markers come from validation findings; the headless clip has one video
frame per aligned frame.

The window test runs in its own process: PySide6 6.12 can crash while tearing down pyqtgraph items at interpreter
exit, which must not take the test session with it (the script ends with os._exit after printing its results)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from test_validate_util import REPO, copy, modify, nan_action, recorded, run

WINDOW_SCRIPT = r"""
import json, os, sys, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from pathlib import Path
import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtTest import QTest
app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
from apps.replay.window import ReplayWindow
folder, png = Path(sys.argv[1]), sys.argv[2]
w = ReplayWindow(sorted(folder.glob("episode_*.h5")))
w.resize(1400, 900); w.show(); w.set_frame(40)
for _ in range(5): app.processEvents()
w.screenshot(png)
img = QtGui.QImage(png).convertToFormat(QtGui.QImage.Format.Format_RGB888)
W, H = img.width(), img.height()
shot = np.frombuffer(img.constBits(), np.uint8, img.bytesPerLine() * H).reshape(H, -1)[:, :W * 3].reshape(H, W, 3).astype(int)
def region(widget):
    tl = widget.mapTo(w, QtCore.QPoint(0, 0))
    return shot[tl.y():tl.y() + widget.height(), tl.x():tl.x() + widget.width()]
out = {"size": [W, H], "hand_mode": w.hand.mode, "cameras": {}, "plots": []}
for cam, view in w.cameras.items():
    out["cameras"][cam] = float(region(view).std())
hand = region(w.hand)
out["hand_blue"] = int(((hand[..., 2] > 150) & (hand[..., 0] < 100)).sum())
out["hand_orange"] = int(((hand[..., 0] > 200) & (hand[..., 1] > 80) & (hand[..., 1] < 160) & (hand[..., 2] < 80)).sum())
for plot in (w.action_plot, w.exo_plot):
    r = region(plot)
    coloured = (np.abs(r[..., 0] - r[..., 1]) > 60) | (np.abs(r[..., 1] - r[..., 2]) > 60)
    cursor = (r[..., 2] > 200) & (r[..., 0] < 80) & (r[..., 1] < 80)  # blue: errors are red
    out["plots"].append({"coloured": int(coloured.sum()), "cursor_px": int(cursor.sum()),
                         "cursor_cols": sorted(set(np.flatnonzero(cursor.sum(axis=0) > 20).tolist()))})
out["label"] = w.timeline.label.text()
out["trajectory_visible"] = w.trajectory.isVisible()
keys = []
def key(k, mod=QtCore.Qt.KeyboardModifier.NoModifier):
    QTest.keyClick(w, k, mod); app.processEvents(); keys.append(w.i)
K = QtCore.Qt.Key
key(K.Key_Right); key(K.Key_Left, QtCore.Qt.KeyboardModifier.ShiftModifier); key(K.Key_End); key(K.Key_Home)
key(K.Key_Up); out["speed"] = w.speed
key(K.Key_Space)
t0 = time.monotonic()
while w.i <= 5 and time.monotonic() - t0 < 3:
    app.processEvents(); time.sleep(0.01)
out["played_to"] = w.i
key(K.Key_Space)
key(K.Key_M); out["marker_frame"] = w.i
key(K.Key_PageDown); out["episode"] = w.data.path.name
out["keys"] = keys
w.close()
print(json.dumps(out), flush=True)
os._exit(0)  # PySide6 6.12 can crash tearing down pyqtgraph items at interpreter exit
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return recorded(tmp_path_factory)


def test_window_panels_render(folder, tmp_path):
    png = tmp_path / "shot.png"
    env = {**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"}
    p = subprocess.run(
        [sys.executable, "-c", WINDOW_SCRIPT, str(folder), str(png)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
    )
    assert p.returncode == 0, p.stderr[-1500:]
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["size"] == [1400, 900] and png.stat().st_size > 20_000
    assert r["hand_mode"] == "2d"  # offscreen Qt has no OpenGL: the 2D projection stands in
    assert sorted(r["cameras"]) == ["wrist0", "wrist1"]
    assert all(std > 10 for std in r["cameras"].values()), r["cameras"]
    assert r["hand_blue"] > 500 and r["hand_orange"] > 20, "robot bones and exoskeleton fingertips drawn"
    for plot in r["plots"]:
        assert plot["coloured"] > 1000, "joint traces drawn"
        assert plot["cursor_px"] > 100 and plot["cursor_cols"], "cursor drawn"
    # frame 40 of ~89 over ~3 s: the cursor sits near the middle of the plot
    assert 0.3 < r["plots"][0]["cursor_cols"][0] / 693 < 0.65
    assert r["label"].startswith("frame 41/")
    assert r["keys"][:4] == [41, 31, r["keys"][2], 0] and r["keys"][2] > 80
    assert r["speed"] == 2.0 and r["played_to"] > 5
    assert r["episode"] == "episode_0002.h5"
    assert r["trajectory_visible"] is False  # no wrist pose in these episodes: no trajectory panel


TRAJECTORY_SCRIPT = r'''
import json, os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from pathlib import Path
import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets
app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
from apps.replay.data import pose_spans
from apps.replay.window import ReplayWindow
path, png = Path(sys.argv[1]), sys.argv[2]
w = ReplayWindow([path])
w.resize(1400, 1000); w.show()
d = w.data
valid = d.wrist_valid
good = np.flatnonzero(valid)
frame = int(good[np.abs(good - len(d) // 2).argmin()])  # a valid frame near the middle
w.set_frame(frame)
for _ in range(5): app.processEvents()
w.screenshot(png)
img = QtGui.QImage(png).convertToFormat(QtGui.QImage.Format.Format_RGB888)
W, H = img.width(), img.height()
shot = np.frombuffer(img.constBits(), np.uint8, img.bytesPerLine() * H).reshape(H, -1)[:, :W * 3].reshape(H, W, 3).astype(int)
def to_window(plot, x, y):
    """Window pixel of a data point of a pyqtgraph PlotWidget."""
    sp = plot.getViewBox().mapViewToScene(QtCore.QPointF(float(x), float(y)))
    vp = plot.mapFromScene(sp)
    p = plot.viewport().mapTo(w, vp)
    return p.x(), p.y()
xyz, view = w.trajectory.xyz.plot, w.trajectory.view
vb = xyz.getViewBox().sceneBoundingRect()
_, y0 = to_window(xyz, 0, xyz.getViewBox().viewRange()[1][1])
_, y1 = to_window(xyz, 0, xyz.getViewBox().viewRange()[1][0])
rows = slice(y0 + 3, y1 - 3)
band = (shot[..., 0] > 235) & (shot[..., 1] > 170) & (shot[..., 1] < 215) & (shot[..., 2] > 135) & (shot[..., 2] < 190)
cursor = (shot[..., 2] > 200) & (shot[..., 0] < 80) & (shot[..., 1] < 80)
spans = pose_spans(d)
cols_in, cols_out = [], []
tx = [to_window(xyz, t, 0)[0] for t in (0.0, float(d.t[-1]))]
for c in range(tx[0] + 2, tx[1] - 2):
    t = (c - tx[0]) / (tx[1] - tx[0]) * float(d.t[-1])
    inside = [a + 0.02 < t < b - 0.02 for a, b in spans]
    edge = [a - 0.02 <= t <= b + 0.02 for a, b in spans]
    share = float(band[rows, c].mean())
    if any(inside): cols_in.append(share)
    elif not any(edge): cols_out.append(share)
cx, _ = to_window(xyz, d.t[frame], 0)
tl = view.mapTo(w, QtCore.QPoint(0, 0))
hx, hy = (view.project(d.wrist[frame][None])[0] + [tl.x(), tl.y()]).round().astype(int)
here = cursor[hy - 4:hy + 5, hx - 4:hx + 5]
topr = shot[tl.y():tl.y() + view.height(), tl.x():tl.x() + view.width()]
path_px = int(((np.abs(topr[..., 0] - 31) < 40) & (np.abs(topr[..., 1] - 119) < 40) & (topr[..., 2] > 140)).sum())
out = {"visible": w.trajectory.isVisible(), "spans": spans, "frame": frame, "n": len(d),
       "band_in": float(np.mean(cols_in)) if cols_in else None, "band_out": float(np.mean(cols_out)) if cols_out else None,
       "cols_in": len(cols_in), "cursor_at": int(cursor[rows, cx - 2:cx + 3].sum()),
       "cursor_elsewhere": int(cursor[rows, tx[0]:cx - 4].sum() + cursor[rows, cx + 5:tx[1]].sum()),
       "here_px": int(here.sum()), "path_px": path_px,
       "x_valid": [float(np.nanmin(d.wrist[:, 0])), float(np.nanmax(d.wrist[:, 0]))]}
w.close()
print(json.dumps(out), flush=True)
os._exit(0)
'''


@pytest.fixture(scope="module")
def pose_episode(tmp_path_factory):
    """A sim recording with `pose:sim` losing tracking often (0.2 s, ~2 % of samples start one)."""
    out = tmp_path_factory.mktemp("pose") / "rec"
    p = run(
        "record",
        "--headless",
        "--sim",
        "--out",
        out,
        "--duration",
        4,
        "--pose",
        "pose:sim:loss=0.02,loss_s=200ms,seed=2",
        timeout=240,
    )
    assert p.returncode == 0, p.stderr[-1500:]
    (ep,) = sorted(out.glob("episode_*.h5"))
    return ep


def test_trajectory_panel_marks_lost_tracking_and_follows_the_cursor(pose_episode, tmp_path):
    """The wrist panel of an episode with a pose: shaded bands exactly over the frames without a valid pose
    (where the LOST raw samples are), the cursor at the current frame's time, the path and the current
    position in the 3D path view."""
    from apps.replay.data import load
    from dexumi.devices.pose import LOST

    d = load(pose_episode)
    try:
        from apps.replay.data import pose_spans

        spans = pose_spans(d)
        raw = d.ep.raw_pose(d.pose_name)
        ts0 = float(d.ep.timestamps[0])
        lost_t = raw["time"][raw["state"] == LOST] - ts0
        lost_t = lost_t[(lost_t > 0.1) & (lost_t < d.t[-1] - 0.1)]
        assert d.pose_name == "sim" and len(spans) >= 2 and len(lost_t) > 10
        # the bands cover exactly the invalid frames; a lost sample makes a frame next to it invalid, and every
        # band (no drops here) holds lost samples
        in_band = np.array([any(a <= t <= b for a, b in spans) for t in d.t])
        assert (in_band == ~d.wrist_valid).all()
        f = np.searchsorted(d.t, lost_t) - 1
        assert not (d.wrist_valid[f] & d.wrist_valid[f + 1]).any(), "a lost sample between two valid frames"
        assert all(((lost_t >= a) & (lost_t <= b)).any() for a, b in spans[1:-1]), "a band without a lost sample"
        assert np.isnan(d.wrist[~d.wrist_valid]).all() and np.isfinite(d.wrist[d.wrist_valid]).all()
    finally:
        d.close()
    png = tmp_path / "traj.png"
    env = {**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"}
    p = subprocess.run(
        [sys.executable, "-c", TRAJECTORY_SCRIPT, str(pose_episode), str(png)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
    )
    assert p.returncode == 0, p.stderr[-1500:]
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["visible"] is True
    assert r["cols_in"] > 20 and r["band_in"] > 0.6 and r["band_out"] < 0.02, r  # lost stretches shaded, only they
    assert r["cursor_at"] > 50 and r["cursor_elsewhere"] < 10, r  # the cursor line at the frame's time
    assert r["here_px"] > 20 and r["path_px"] > 60, r  # the 3D view: the path and the current position
    assert r["x_valid"][1] - r["x_valid"][0] > 0.02  # the wrist moved


def test_markers_from_findings(folder, tmp_path):
    from apps.replay.data import load

    bad = modify(copy(folder / "episode_0001.h5", tmp_path / "episode_0001.h5"), nan_action)
    d = load(bad)
    try:
        hits = [m for m in d.markers if m.text.startswith("finite")]
        assert hits and hits[0].frame == 3 and hits[0].color == (220, 30, 30)
    finally:
        d.close()


def test_screenshot_cli(folder, tmp_path):
    p = run("replay", folder / "episode_0001.h5", "--screenshot", tmp_path / "s.png", "--frame", "-1")
    assert p.returncode == 0, p.stderr[-500:]
    assert (tmp_path / "s.png").stat().st_size > 20_000


def test_headless_clip_frame_count(folder, tmp_path):
    import av

    from dexumi.episode.reader import Episode
    from dexumi.export.video import count_frames

    out = tmp_path / "clip.mp4"
    p = run("replay", folder / "episode_0002.h5", "--headless", "--out", out)
    assert p.returncode == 0, p.stderr[-500:]
    with Episode.open(folder / "episode_0002.h5") as ep:
        n = len(ep)
    assert count_frames(out) == n
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and s.width >= 960 and s.height == 460
    p = run("replay", folder / "episode_0002.h5", "--headless", "--out", out)
    assert p.returncode == 2 and "--force" in p.stderr
    p = run("replay", tmp_path / "nope.h5", "--headless", "--out", tmp_path / "b.mp4")
    assert p.returncode == 2 and "Traceback" not in p.stderr and p.stderr.count("\n") == 1


@pytest.mark.slow
@pytest.mark.parametrize("pyopengl_platform", ["", "egl"])
def test_window_3d_hand_under_xvfb(folder, tmp_path, pyopengl_platform):
    """Under Xvfb + Mesa the hand view is the OpenGL one (PyOpenGL is not a dexumi dependency: installed for this
    test into a cached folder; skipped with the reason if that or xvfb-run is unavailable). With
    PYOPENGL_PLATFORM=egl inherited (MuJoCo's offscreen setting) the GLX view still draws: it drew nothing before."""
    import os
    import shutil

    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run not installed")
    target = "/tmp/dexumi-venvs/pyopengl"
    if not os.path.isdir(os.path.join(target, "OpenGL")):
        p = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--target", target, "PyOpenGL"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if p.returncode != 0:
            reason = f"cannot install PyOpenGL: {p.stderr.strip()[-200:]}"
            print(reason)
            pytest.skip(reason)
    png = tmp_path / "gl.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": target}
    env.pop("PYOPENGL_PLATFORM", None)
    if pyopengl_platform:
        env["PYOPENGL_PLATFORM"] = pyopengl_platform
    p = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", sys.executable, "-c", WINDOW_SCRIPT, str(folder), str(png)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=REPO,
        env=env,
    )
    assert p.returncode == 0, p.stderr[-1500:]
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["hand_mode"] == "3d"
    assert r["hand_blue"] > 200 and r["hand_orange"] > 20, "bones and exoskeleton tips rendered by OpenGL"

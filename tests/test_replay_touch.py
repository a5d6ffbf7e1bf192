"""The replay window's touch view (issue 17): one bar widget per tactile board, shown only for an episode with
touch data; rendered under offscreen Qt and checked in pixels against the file's readings."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

from test_validate_util import REPO, recorded_touch

TOUCH_SCRIPT = r"""
import json, os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from pathlib import Path
import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets
app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
from apps.replay.touch_view import PAD, ROW_H, TITLE_H
from apps.replay.window import ReplayWindow
files, png, frames = [Path(x) for x in sys.argv[1].split(",")], sys.argv[2], json.loads(sys.argv[3])
w = ReplayWindow(files)
w.resize(1400, 900); w.show()
out = []
for k in range(len(files)):
    w.open_episode(k)
    e = {"visible": w.touch.isVisible(), "views": [v.series.role for v in w.touch.views], "frames": {}}
    for v in w.touch.views:
        for i in frames:
            w.set_frame(i)
            for _ in range(5): app.processEvents()
            w.screenshot(png)
            img = QtGui.QImage(png).convertToFormat(QtGui.QImage.Format.Format_RGB888)
            W, H = img.width(), img.height()
            shot = np.frombuffer(img.constBits(), np.uint8, img.bytesPerLine() * H).reshape(H, -1)[:, :W * 3]
            shot = shot.reshape(H, W, 3).astype(int)
            tl = v.mapTo(w, QtCore.QPoint(0, 0))
            r = shot[tl.y():tl.y() + v.height(), tl.x():tl.x() + v.width()]
            red = (r[..., 0] > 180) & (r[..., 1] < 90) & (r[..., 2] < 90)
            bars = []
            for f in range(len(v.series.fingers)):  # the red extent of each finger's bar row
                y0 = PAD + TITLE_H + ROW_H * f
                cols = np.flatnonzero(red[y0:y0 + 10].any(axis=0))
                bars.append([int(cols.min()), int(cols.max())] if len(cols) else [])
            e["frames"][str(i)] = {"bars": bars, "width": v.width(), "scale": v.series.scale,
                                   "values": [v.value(f) for f in range(len(v.series.fingers))]}
    out.append(e)
w.close()
print(json.dumps(out), flush=True)
os._exit(0)  # PySide6 6.12 can crash tearing down pyqtgraph items at interpreter exit
"""


@pytest.fixture(scope="module")
def episode(tmp_path_factory):
    return recorded_touch(tmp_path_factory)


def _render(files, png, frames) -> list[dict]:
    env = {"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"}
    p = subprocess.run(
        [sys.executable, "-c", TOUCH_SCRIPT, ",".join(map(str, files)), str(png), json.dumps(frames)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=env,
    )
    assert p.returncode == 0, p.stderr[-1500:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_touch_view_draws_each_fingers_reading(episode, tmp_path):
    shown = shutil.copy(episode, tmp_path / "episode_0001.h5")
    with h5py.File(shown, "r+") as f:
        # the sim's contact phase at the start varies; begin at the FSRs' no-load reading (200 counts) so the
        # view's zero (the first valid reading) is untouched and the episode's touch shows as full bars
        ds = f["observations/right/tactile"]
        x = ds[:]
        x[:3, 12:14] = 200
        ds[...] = x
        touch = x.astype(np.float64)
        valid = f["observations/right/tactile_valid"][:].astype(bool)
    fingers = touch[:, 12:14] - touch[np.flatnonzero(valid)[0], 12:14]  # FSR: thumb, index; zeroed at the start
    peak = int(fingers.max(axis=1).argmax())
    # the quietest valid frame: a frame before the first valid reading draws its bars grey (stale), not red
    rest = int(np.flatnonzero(valid)[np.abs(fingers[valid]).max(axis=1).argmin()])
    assert fingers[peak].max() > 100 and np.abs(fingers[rest]).max() < 1
    plain = shutil.copy(shown, tmp_path / "episode_0002.h5")
    with h5py.File(plain, "r+") as f:  # the same episode without its tactile board's aligned view
        del f["observations/right/tactile"]
    ep_touch, ep_plain = _render([shown, plain], tmp_path / "shot.png", [peak, rest])
    assert ep_touch["visible"] and ep_touch["views"] == ["tactile_right"]
    assert not ep_plain["visible"] and ep_plain["views"] == []
    for i in (peak, rest):
        fr = ep_touch["frames"][str(i)]
        assert np.allclose(fr["values"], fingers[i], atol=1e-3), (fr["values"], fingers[i])
        # draw_touch: bar from x = PAD + 46 over width - 2 * PAD - 100 pixels, filled to value / scale
        bx, bw = 4 + 46, fr["width"] - 8 - 100
        for k, bar in enumerate(fr["bars"]):
            frac = float(np.clip(fingers[i, k] / fr["scale"], 0, 1))
            assert bar and bar[0] == bx and abs(bar[1] - (bx + int(frac * bw))) <= 1, (i, k, bar, frac)
    assert ep_touch["frames"][str(peak)]["bars"][0][1] - bx > 0.25 * bw  # a touch fills a good part of a bar

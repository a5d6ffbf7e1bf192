"""The 3D wrist-trajectory view (apps/widgets/trajectory_view.py) rendered offscreen, the live pose path to it
(session pose listener → live buffer pose rings → recorder panel), and the recorder window with `pose:sim`."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from apps.recorder.live import POSE_COLS, LiveLayout, LiveReader, LiveWriter
from apps.recorder.live_pose import PoseDecimator
from apps.widgets.trajectory_view import TrajectoryView, nice_step, quat_to_matrix
from dexumi.devices.pose import LOST, TRACKING
from dexumi.episode.pose_stream import PoseBatch

LINE = (250, 40, 200)  # a track colour nothing else in the view uses


def _path(n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """A path across the view (x -0.2..0.2 m, a bow in y, rising in z) and its orientations (yaw along x)."""
    u = np.linspace(0.0, 1.0, n)
    pos = np.column_stack([-0.2 + 0.4 * u, 0.08 * np.sin(np.pi * u), 0.8 + 0.05 * u])
    yaw = 0.5 * u
    quat = np.column_stack([np.zeros(n), np.zeros(n), np.sin(yaw / 2), np.cos(yaw / 2)])
    return pos, quat


def _image(widget: QtWidgets.QWidget) -> np.ndarray:
    img = widget.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB888)
    w, h = img.width(), img.height()
    return (
        np.frombuffer(img.constBits(), np.uint8, img.bytesPerLine() * h)
        .reshape(h, -1)[:, : w * 3]
        .reshape(h, w, 3)
        .astype(int)
    )


def _is_line(px: np.ndarray) -> np.ndarray:
    return (px[..., 0] > 140) & (px[..., 1] < 120) & (px[..., 2] > 110)


def _view(qtbot, **kw) -> TrajectoryView:
    v = TrajectoryView(**kw)
    qtbot.addWidget(v)
    v.resize(480, 360)
    v.show()
    qtbot.waitExposed(v)
    return v


def _top_down(v: TrajectoryView) -> None:
    v.view.azimuth, v.view.elevation, v.view.perspective = 0.0, 90.0, False


def test_segments_are_the_poses_fed_and_break_at_lost_tracking(qtbot):
    pos, quat = _path()
    valid = np.ones(len(pos), bool)
    valid[150:190] = False  # tracking lost: never joined across
    pos_fed = pos.copy()
    pos_fed[170:180] = np.nan  # the source's NaN rows inside the lost stretch
    t = np.arange(len(pos)) * 0.01
    t[300:] += 1.0  # a second without samples (a reconnect): also a break
    v = _view(qtbot)
    v.set_track("sim", pos_fed, quat, valid=valid, times=t, color=LINE)
    segs = v.segments("sim")
    assert len(segs) == 3
    for seg, (a, b) in zip(segs, [(0, 150), (190, 300), (300, 400)]):
        assert np.array_equal(seg, pos[a:b])  # the values fed, exactly
    # a NaN position breaks the line without a `valid` array too
    v.set_track("nan", pos_fed)
    assert [len(s) for s in v.segments("nan")] == [170, 220]
    # projection, orthographic from above: x right, y up, the fitted radius filling half the smaller side
    _top_down(v)
    proj = v.projected("sim")
    radius, centre = v.view.radius, v.view.centre
    scale = 0.5 * min(v.width(), v.height()) / radius
    lo, hi = np.nanmin(np.vstack([pos_fed]), axis=0), np.nanmax(np.vstack([pos_fed]), axis=0)
    assert np.allclose(centre, (lo + hi) / 2) and radius == pytest.approx(1.1 * np.linalg.norm(hi - lo) / 2)
    for seg, p in zip(segs, proj):
        assert np.allclose(p[:, 0], v.width() / 2 + scale * (seg[:, 0] - centre[0]))
        assert np.allclose(p[:, 1], v.height() / 2 - scale * (seg[:, 1] - centre[1]))
    # bounded: only the newest max_points are kept
    small = _view(qtbot, max_points=100)
    small.set_track("sim", pos, quat)
    assert np.array_equal(small.tracks["sim"].positions, pos[-100:])


def test_screenshot_has_the_line_where_projected_and_nothing_across_the_gap(qtbot):
    pos, quat = _path()
    valid = np.ones(len(pos), bool)
    valid[150:250] = False
    v = _view(qtbot)
    v.set_track("sim", pos, quat, valid=valid, color=LINE, show_current=False)
    _top_down(v)
    v.repaint()
    img = _image(v)
    line = _is_line(img)

    def near(p: np.ndarray, r: int = 2) -> bool:
        x, y = int(round(p[0])), int(round(p[1]))
        return bool(line[max(y - r, 0) : y + r + 1, max(x - r, 0) : x + r + 1].any())

    for seg in v.projected("sim"):
        hits = [near(p) for p in seg[2:-2]]
        assert np.mean(hits) > 0.98, np.mean(hits)
    # the lost stretch: neither the true path there nor the chord between the two ends has line pixels
    hidden = v.project(pos[160:240])
    a, b = v.project(pos[[149, 250]])
    chord = a + np.linspace(0.1, 0.9, 40)[:, None] * (b - a)
    assert not any(near(p, 1) for p in hidden) and not any(near(p, 1) for p in chord)
    assert line.sum() > 300


def test_current_pose_triad_follows_the_quaternion(qtbot):
    """The last valid sample gets an RGB triad: from above, a 90° yaw turns the red x axis to screen up."""
    pos, _ = _path(50)
    v = _view(qtbot)
    yaw90 = np.tile([0.0, 0.0, np.sin(np.pi / 4), np.cos(np.pi / 4)], (50, 1))
    v.set_track("sim", pos, yaw90, color=LINE)
    _top_down(v)
    assert np.allclose(quat_to_matrix(yaw90[0]) @ [1, 0, 0], [0, 1, 0])
    v.repaint()
    img = _image(v)
    c = v.project(pos[-1][None])[0]
    length = 0.15 * v.view.radius * 0.5 * min(v.width(), v.height()) / v.view.radius
    red = (img[..., 0] > 180) & (img[..., 1] < 90) & (img[..., 2] < 90)
    x, y = int(round(c[0])), int(round(c[1]))
    above = red[int(y - length) : y - 6, x - 2 : x + 3].sum()
    right = red[y - 2 : y + 3, x + 6 : int(x + length)].sum()
    assert above > 10 and right < 3, (above, right)


def test_orbit_zoom_and_repaint_rate(qtbot, capsys):
    pos, quat = _path(1500)
    v = _view(qtbot)
    v.set_track("sim", pos, quat, valid=np.arange(1500) % 300 > 20)
    before = v.project(pos[:3])
    az, el = v.view.azimuth, v.view.elevation
    centre = QtCore.QPointF(200, 200)
    for typ, p, buttons in (
        (QtCore.QEvent.Type.MouseButtonPress, centre, QtCore.Qt.MouseButton.LeftButton),
        (QtCore.QEvent.Type.MouseMove, centre + QtCore.QPointF(40, 20), QtCore.Qt.MouseButton.LeftButton),
        (QtCore.QEvent.Type.MouseButtonRelease, centre + QtCore.QPointF(40, 20), QtCore.Qt.MouseButton.NoButton),
    ):
        ev = QtGui.QMouseEvent(
            typ, p, p, QtCore.Qt.MouseButton.LeftButton, buttons, QtCore.Qt.KeyboardModifier.NoModifier
        )
        QtWidgets.QApplication.sendEvent(v, ev)
    assert v.view.azimuth == pytest.approx(az - 20) and v.view.elevation == pytest.approx(el + 10)
    assert not np.allclose(v.project(pos[:3]), before)
    d0 = np.linalg.norm(np.diff(v.project(pos[[0, -1]]), axis=0))
    wheel = QtGui.QWheelEvent(
        centre,
        centre,
        QtCore.QPoint(0, 0),
        QtCore.QPoint(0, 240),
        QtCore.Qt.MouseButton.NoButton,
        QtCore.Qt.KeyboardModifier.NoModifier,
        QtCore.Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QtWidgets.QApplication.sendEvent(v, wheel)
    assert v.view.zoom == pytest.approx(1.15**2)
    assert np.linalg.norm(np.diff(v.project(pos[[0, -1]]), axis=0)) > 1.25 * d0  # perspective: about ×1.32
    # fed at ~200 Hz for a second, it paints at most ~30 times
    qtbot.wait(100)
    v.paints = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 1.0:
        v.set_track("sim", pos, quat)
        QtWidgets.QApplication.processEvents()
        time.sleep(0.005)
    assert 10 <= v.paints <= 33, v.paints
    # the cost of one repaint of 1500 points
    v.paints, v.paint_s = 0, 0.0
    for _ in range(30):
        v.repaint()
    ms = 1000 * v.paint_s / v.paints
    with capsys.disabled():
        print(f"\ntrajectory view: {ms:.2f} ms per repaint of 1500 points ({v.width()}×{v.height()})")
    assert ms < 30


def test_nice_step():
    assert [nice_step(s) for s in (0.06, 0.5, 1.0, 3.0)] == [0.01, 0.1, 0.2, 0.5]


# ------------------------------------------------------------------------------ the live path, without Qt
def _batch(t: np.ndarray, lost: np.ndarray) -> PoseBatch:
    n = len(t)
    pos = np.column_stack([t, 2 * t, 3 * t])
    quat = np.tile([0.0, 0.0, 0.0, 1.0], (n, 1))
    pos[lost], quat[lost] = np.nan, np.nan
    return PoseBatch(
        {"host_time": t, "position": pos, "orientation": quat, "state": np.where(lost, LOST, TRACKING).astype(np.uint8)}
    )


def test_decimator_bounds_the_rate_and_keeps_every_loss():
    t = 100 + np.arange(5000) * 0.001  # 1 kHz for 5 s
    lost = np.zeros(5000, bool)
    for a in (1000, 2503, 4001):
        lost[a : a + 4] = True  # 4 ms losses: shorter than the 10 ms grid
    d = PoseDecimator()
    rows = np.concatenate([d.rows([_batch(t[k : k + 37], lost[k : k + 37])]) for k in range(0, 5000, 37)])
    assert rows.shape[1] == POSE_COLS
    assert len(rows) <= 5 * 100 + 2 * 3 + 1  # 100 poses/s plus the state changes
    assert len(rows) >= 5 * 100 - 2
    row_lost = rows[:, 8] == LOST
    assert int((row_lost[1:] & ~row_lost[:-1]).sum()) == 3  # every loss survives
    k = np.searchsorted(t, rows[:, 0])
    assert np.array_equal(t[k], rows[:, 0])  # rows are samples, not interpolations
    ok = ~row_lost
    assert np.array_equal(rows[ok, 1:4], np.column_stack([t[k], 2 * t[k], 3 * t[k]])[ok])
    assert np.isnan(rows[row_lost, 1:8]).all()


def test_live_buffer_pose_rings():
    w = LiveWriter(
        LiveLayout(exo=2, robot=0, rows=64, cameras=1, camera_bytes=100, status_bytes=100, poses=2, pose_rows=256)
    )
    try:
        r = LiveReader(w.name, untrack=False)
        a = np.arange(10 * POSE_COLS, dtype=float).reshape(10, POSE_COLS)
        w.append_poses(1, a)
        w.append_rows(np.ones((3, 3)))
        got, head = r.poses_since(1, 0)
        assert head == 10 and np.array_equal(got, a)
        assert r.poses_since(0, 0)[1] == 0 and r.head == 3  # the other rings are untouched
        big = np.arange(1000 * POSE_COLS, dtype=float).reshape(1000, POSE_COLS)
        w.append_poses(1, big)
        got, head = r.poses_since(1, head)
        assert head == 1010 and np.array_equal(got, big[-(256 - 64) :])  # lapped: the newest kept
        r.close()
    finally:
        w.close()


# ------------------------------------------------------------------------------------- the recorder window
def test_recorder_panel_shows_the_sim_pose_truth(make_window, qtbot):
    """`--pose pose:sim` (its script started at a known epoch): the panel is shown, one track, and every point
    it holds is the simulated wrist's true position at that sample's time; lost stretches break the line."""
    from dexumi.devices.pose import make_pose

    epoch = time.monotonic()
    spec = f"pose:sim:rate=100,loss=0.01,loss_s=100ms,seed=3,epoch={epoch:.6f}"
    win = make_window(pose=[spec])
    panel = win.trajectory
    qtbot.waitUntil(lambda: panel.names == ["sim"] and len(panel.latest("sim")) > 300, timeout=20_000)
    assert panel.isVisible() and panel.view.isVisible()
    rows = panel.latest("sim").copy()
    t = rows[:, 0]
    assert t[-1] > time.monotonic() - 1.0  # live
    assert np.all(np.diff(t) > 0) and len(rows) <= 104 * (t[-1] - t[0]) + 10  # <= ~100 poses/s (and the losses)
    assert len(rows) >= 99 * (t[-1] - t[0])  # a 100 Hz source: every sample
    src = make_pose(spec)
    ok = rows[:, 8] != LOST
    pos, quat = src.fast(t[ok] - epoch)
    assert np.abs(rows[ok, 1:4] - pos).max() < 1e-6
    assert np.abs(np.abs(np.sum(rows[ok, 4:8] * quat, axis=1)) - 1).max() < 1e-6  # same rotation (q ~ -q)
    assert np.ptp(rows[ok, 1:4], axis=0).max() > 0.02  # the wrist moved
    drawn = panel.view.segments("sim")
    assert sum(map(len, drawn)) == ok.sum()
    assert (~ok).any() and len(drawn) >= 2  # seeded: losses in the first seconds, each one a break
    qtbot.waitUntil(lambda: panel.view.paints > 5, timeout=5000)


def test_recorder_without_pose_hides_the_panel(make_window):
    win = make_window()
    assert win.trajectory.names == [] and not win.trajectory.isVisible()

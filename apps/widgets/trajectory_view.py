"""A 3D wrist path painted with QPainter: orbit by dragging, zoom with the wheel, one colour per track.

Positions are metres in the source's world frame (board, tracker, sim world; z up). The line breaks wherever
tracking was lost (a NaN position, `valid` False, or samples further apart than `gap_s`): no segment is ever
drawn across a lost stretch. Each track's current pose (its last valid sample) is a small RGB triad from its
quaternion (x, y, z, w); `set_cursor` adds a marker (replay's current frame). A ground grid under the data with
a scale label, and a world-axes triad in the corner. Repaints are coalesced to at most `MAX_FPS` per second;
each track keeps at most `max_points` samples (the newest).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets
from pyqtgraph.functions import arrayToQPolygonF

MAX_FPS = 30.0
TRACK_COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (23, 190, 207)]
AXIS_COLORS = [(230, 50, 50), (40, 170, 40), (50, 90, 240)]  # x red, y green, z blue
CURSOR_COLOR = (40, 40, 255)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """3×3 rotation of a quaternion x, y, z, w (normalised here)."""
    x, y, z, w = np.asarray(q, np.float64) / max(float(np.linalg.norm(q)), 1e-12)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def nice_step(span: float) -> float:
    """A 1-2-5 grid step giving about 4-8 cells over `span` metres."""
    raw = max(span, 1e-6) / 6
    k = 10 ** math.floor(math.log10(raw))
    return next(m * k for m in (1, 2, 5, 10) if m * k >= raw)


def format_length(m: float) -> str:
    return f"{m * 1000:g} mm" if m < 0.01 else f"{m * 100:g} cm" if m < 1 else f"{m:g} m"


def runs(ok: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True in `ok`."""
    d = np.diff(np.concatenate([[0], ok.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


@dataclass
class Track:
    """One source's path: positions (n, 3) m, orientations (n, 4) xyzw or None, valid (n,), times (n,) or None;
    `show_current`: the last valid sample drawn as a dot with its orientation's triad (live views)."""

    name: str
    color: tuple[int, int, int]
    positions: np.ndarray
    valid: np.ndarray
    orientations: np.ndarray | None = None
    times: np.ndarray | None = None
    show_current: bool = True

    def segments(self, gap_s: float) -> list[tuple[int, int]]:
        """[start, end) index ranges of the unbroken stretches (a lost sample or a time gap ends one)."""
        out = []
        for a, b in runs(self.valid):
            if self.times is not None and b - a > 1:
                cuts = (np.flatnonzero(np.diff(self.times[a:b]) > gap_s) + 1 + a).tolist()
                bounds = [a, *cuts, b]
                out += list(zip(bounds[:-1], bounds[1:]))
            else:
                out.append((a, b))
        return out

    def current(self) -> int | None:
        """Index of the last valid sample."""
        idx = np.flatnonzero(self.valid)
        return int(idx[-1]) if len(idx) else None


@dataclass
class ViewState:
    """The camera: azimuth about world z, elevation above the xy plane (degrees), zoom (1: the data fills it)."""

    azimuth: float = -60.0
    elevation: float = 25.0
    zoom: float = 1.0
    perspective: bool = True
    centre: np.ndarray = field(default_factory=lambda: np.zeros(3))
    radius: float = 0.1  # metres the fitted view holds
    floor: float = 0.0  # z of the grid


class TrajectoryView(QtWidgets.QWidget):
    """`set_track(name, positions, ...)`, `remove_track(name)`, `set_cursor(position, orientation)`; drag to
    orbit, wheel to zoom, double-click to reset the view. `segments(name)` / `projected(name)` are what it draws."""

    gap_s = 0.25  # samples further apart than this are not joined

    def __init__(
        self,
        parent: QtWidgets.QWidget | None = None,
        dark: bool = True,
        max_points: int = 3000,
        title: str = "wrist trajectory",
    ) -> None:
        super().__init__(parent)
        self.setObjectName("trajectory:3d")
        self.setMinimumSize(200, 160)
        self.dark, self.max_points, self.title = dark, max_points, title
        self.tracks: dict[str, Track] = {}
        self.view = ViewState()
        self.marker: tuple[np.ndarray, np.ndarray | None] | None = None
        self.paints = 0
        self.paint_s = 0.0  # time spent in paintEvent, in total
        self._drag: QtCore.QPointF | None = None
        self._last_paint = -math.inf
        self._fitted = False
        self._timer = QtCore.QTimer(self, singleShot=True, timerType=QtCore.Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self.update)

    # ------------------------------------------------------------------------------------------ data
    def set_track(
        self,
        name: str,
        positions: np.ndarray,
        orientations: np.ndarray | None = None,
        valid: np.ndarray | None = None,
        times: np.ndarray | None = None,
        color: tuple[int, int, int] | None = None,
        show_current: bool = True,
    ) -> None:
        """Replace track `name` (the newest `max_points` samples). Invalid: `valid` False or a NaN position."""
        pos = np.asarray(positions, np.float64).reshape(-1, 3)[-self.max_points :]
        ok: np.ndarray = np.asarray(np.isfinite(pos).all(axis=1))
        if valid is not None:
            ok &= np.asarray(valid, bool)[-self.max_points :]
        quat = None if orientations is None else np.asarray(orientations, np.float64).reshape(-1, 4)[-self.max_points :]
        t = None if times is None else np.asarray(times, np.float64)[-self.max_points :]
        old = self.tracks.get(name)
        if color is None:
            color = old.color if old else TRACK_COLORS[len(self.tracks) % len(TRACK_COLORS)]
        self.tracks[name] = Track(name, color, pos, ok, quat, t, show_current)
        self._refit()
        self.schedule()

    def remove_track(self, name: str) -> None:
        if self.tracks.pop(name, None) is not None:
            self.schedule()

    def clear(self) -> None:
        self.tracks.clear()
        self.marker = None
        self._fitted = False
        self.schedule()

    def set_cursor(self, position: np.ndarray | None, orientation: np.ndarray | None = None) -> None:
        """A marker at `position` (with a triad if `orientation` is given); None or NaN hides it."""
        p = None if position is None else np.asarray(position, np.float64)
        if p is None or not np.isfinite(p).all():
            self.marker = None
        else:
            q = None if orientation is None or not np.isfinite(orientation).all() else np.asarray(orientation, float)
            self.marker = (p, q)
        self.schedule()

    def segments(self, name: str) -> list[np.ndarray]:
        """The (k, 3) positions of each unbroken stretch of track `name`, as drawn."""
        tr = self.tracks[name]
        return [tr.positions[a:b] for a, b in tr.segments(self.gap_s)]

    def projected(self, name: str) -> list[np.ndarray]:
        """The (k, 2) widget pixels of each unbroken stretch of track `name`."""
        return [self.project(s) for s in self.segments(name)]

    # ---------------------------------------------------------------------------------- projection
    def _refit(self) -> None:
        """Fit centre and size to the data: at once when it leaves the view or fills under half of it."""
        pts = [t.positions[t.valid] for t in self.tracks.values()]
        pts = [p for p in pts if len(p)]
        if not pts:
            return
        allp = np.concatenate(pts)
        lo, hi = allp.min(axis=0), allp.max(axis=0)
        centre, radius = (lo + hi) / 2, max(float(np.linalg.norm(hi - lo)) / 2, 0.02)
        v = self.view
        outside = float(np.max(np.linalg.norm(allp - v.centre, axis=1))) > v.radius * 1.05
        if not self._fitted or outside or radius < 0.5 * v.radius:
            v.centre, v.radius = centre, radius * 1.1
            v.floor = float(lo[2])
            self._fitted = True

    def rotation(self) -> np.ndarray:
        """World → view (x right, y up, z toward the viewer)."""
        a, e = math.radians(self.view.azimuth), math.radians(self.view.elevation)
        rz = np.array([[math.cos(a), math.sin(a), 0], [-math.sin(a), math.cos(a), 0], [0, 0, 1]])
        # after rz: x right, y into the screen, z up; tilt the camera down by e about the x axis
        tilt = np.array([[1, 0, 0], [0, math.sin(e), math.cos(e)], [0, -math.cos(e), math.sin(e)]])
        return tilt @ rz

    def project(self, points: np.ndarray) -> np.ndarray:
        """(n, 3) world metres → (n, 2) widget pixels."""
        v = self.view
        q = (np.asarray(points, np.float64).reshape(-1, 3) - v.centre) @ self.rotation().T
        scale = v.zoom * 0.5 * min(self.width(), self.height()) / max(v.radius, 1e-6)
        if v.perspective:
            dist = 4.0 * v.radius
            scale = scale * dist / np.maximum(dist - q[:, 2], 0.1 * dist)  # q[:, 2] > 0: nearer the viewer
        return np.column_stack([self.width() / 2 + scale * q[:, 0], self.height() / 2 - scale * q[:, 1]])

    # ---------------------------------------------------------------------------------- interaction
    def schedule(self) -> None:
        """Repaint soon, at most MAX_FPS times a second."""
        if self._timer.isActive():
            return  # a repaint is due anyway
        wait = self._last_paint + 1.0 / MAX_FPS - time.monotonic()
        if wait <= 0:
            self.update()
        else:
            self._timer.start(int(wait * 1000) + 1)

    def mousePressEvent(self, ev: QtGui.QMouseEvent) -> None:
        self._drag = ev.position()

    def mouseMoveEvent(self, ev: QtGui.QMouseEvent) -> None:
        if self._drag is None:
            return
        d = ev.position() - self._drag
        self._drag = ev.position()
        self.orbit(d.x() * 0.5, d.y() * 0.5)

    def mouseReleaseEvent(self, ev: QtGui.QMouseEvent) -> None:
        self._drag = None

    def mouseDoubleClickEvent(self, ev: QtGui.QMouseEvent) -> None:
        self.view.azimuth, self.view.elevation, self.view.zoom = ViewState.azimuth, ViewState.elevation, 1.0
        self.schedule()

    def wheelEvent(self, ev: QtGui.QWheelEvent) -> None:
        self.zoom_by(1.15 ** (ev.angleDelta().y() / 120))

    def orbit(self, d_azimuth: float, d_elevation: float) -> None:
        v = self.view
        v.azimuth = (v.azimuth - d_azimuth + 180) % 360 - 180
        v.elevation = float(np.clip(v.elevation + d_elevation, -89.0, 89.0))
        self.schedule()

    def zoom_by(self, factor: float) -> None:
        self.view.zoom = float(np.clip(self.view.zoom * factor, 0.1, 50.0))
        self.schedule()

    # --------------------------------------------------------------------------------------- drawing
    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        t0 = time.perf_counter()
        self._last_paint = time.monotonic()
        self._timer.stop()  # this paint shows everything set so far
        self.paints += 1
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), QtGui.QColor(20, 21, 25) if self.dark else QtGui.QColor(255, 255, 255))
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, True)
        fg = QtGui.QColor(200, 200, 200) if self.dark else QtGui.QColor(40, 40, 40)
        step = self._grid(p)
        for tr in self.tracks.values():
            self._track(p, tr)
        if self.marker is not None:
            pos, quat = self.marker
            if quat is not None:
                self._triad(p, pos, quat, 0.18 * self.view.radius, 3.0)
            c = self.project(pos[None])[0]
            p.setPen(QtGui.QPen(QtGui.QColor(255, 255, 255), 1.5))
            p.setBrush(QtGui.QColor(*CURSOR_COLOR))
            p.drawEllipse(QtCore.QPointF(c[0], c[1]), 6, 6)
            p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
        self._corner_axes(p)
        p.setPen(fg)
        font = p.font()
        font.setPointSize(8)
        p.setFont(font)
        p.drawText(QtCore.QPointF(8, 14), self.title)
        p.drawText(QtCore.QPointF(8, self.height() - 8), f"grid {format_length(step)}   drag: orbit · wheel: zoom")
        x = 8.0
        for tr in self.tracks.values():
            p.fillRect(QtCore.QRectF(x, 22, 12, 3), QtGui.QColor(*tr.color))
            p.setPen(QtGui.QColor(*tr.color))
            p.drawText(QtCore.QPointF(x + 15, 28), tr.name)
            x += p.fontMetrics().horizontalAdvance(tr.name) + 26
        p.end()
        self.paint_s += time.perf_counter() - t0

    def _grid(self, p: QtGui.QPainter) -> float:
        """The ground grid under the data (z = its lowest point); returns the step."""
        v = self.view
        step = nice_step(2 * v.radius / max(v.zoom, 1e-3))
        n = min(int(math.ceil(v.radius * 1.2 / step)), 30)  # zoomed in: the finer grid covers the centre
        cx, cy = (round(v.centre[0] / step) * step, round(v.centre[1] / step) * step)
        ticks = np.arange(-n, n + 1) * step
        lines = []
        for s in ticks:
            lines.append(((cx + s, cy - n * step), (cx + s, cy + n * step)))
            lines.append(((cx - n * step, cy + s), (cx + n * step, cy + s)))
        ends = np.array([[a[0], a[1], v.floor, b[0], b[1], v.floor] for a, b in lines]).reshape(-1, 3)
        px = self.project(ends)
        p.setPen(QtGui.QPen(QtGui.QColor(60, 62, 72) if self.dark else QtGui.QColor(215, 215, 222), 1))
        for i in range(0, len(px), 2):
            p.drawLine(QtCore.QPointF(*px[i]), QtCore.QPointF(*px[i + 1]))
        return step

    def _track(self, p: QtGui.QPainter, tr: Track) -> None:
        col = QtGui.QColor(*tr.color)
        # two antialiased hairlines 0.7 px apart look like a 2 px line at a tenth of a wide pen's cost
        # (Qt strokes pens wider than 1 px: ~6 ms for 1500 points against ~0.3 ms)
        p.setPen(QtGui.QPen(col, 1.0))
        px = self.project(tr.positions) if len(tr.positions) else np.zeros((0, 2))
        for a, b in tr.segments(self.gap_s):
            if b - a > 1:
                for d in (0.0, 0.7):
                    p.drawPolyline(arrayToQPolygonF(px[a:b, 0] + d, px[a:b, 1] + d))
            else:
                p.drawEllipse(QtCore.QPointF(*px[a]), 1.0, 1.0)
        i = tr.current()
        if i is None or not tr.show_current:
            return
        if tr.orientations is not None and np.isfinite(tr.orientations[i]).all():
            self._triad(p, tr.positions[i], tr.orientations[i], 0.15 * self.view.radius, 2.5)
        p.setPen(QtGui.QPen(QtGui.QColor(255, 255, 255) if self.dark else QtGui.QColor(0, 0, 0), 1))
        p.setBrush(col)
        p.drawEllipse(QtCore.QPointF(*px[i]), 4, 4)
        p.setBrush(QtCore.Qt.BrushStyle.NoBrush)

    def _triad(self, p: QtGui.QPainter, pos: np.ndarray, quat: np.ndarray, length: float, width: float) -> None:
        r = quat_to_matrix(quat)
        ends = self.project(np.vstack([pos, pos + length * r.T]))
        for k in range(3):
            p.setPen(QtGui.QPen(QtGui.QColor(*AXIS_COLORS[k]), width))
            p.drawLine(QtCore.QPointF(*ends[0]), QtCore.QPointF(*ends[k + 1]))

    def _corner_axes(self, p: QtGui.QPainter) -> None:
        """The world axes' directions, bottom right (orthographic, fixed size)."""
        r = self.rotation()
        o = QtCore.QPointF(self.width() - 34.0, self.height() - 30.0)
        font = p.font()
        font.setPointSize(7)
        p.setFont(font)
        for k, name in enumerate("xyz"):
            d = r[:, k]
            end = o + QtCore.QPointF(20 * d[0], -20 * d[1])
            p.setPen(QtGui.QPen(QtGui.QColor(*AXIS_COLORS[k]), 2))
            p.drawLine(o, end)
            p.drawText(end + QtCore.QPointF(2, 2), name)

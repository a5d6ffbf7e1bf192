"""The robot hand posed by the retargeter (pinocchio FK), with the exoskeleton's fingertips beside it.

`HandScene` turns joint values into 3D segments and points. Two views paint it through the same perspective
projection (drag to orbit, wheel to zoom): `HandGLView`, an OpenGL surface (QOpenGLWidget) where a GL context
exists (xcb, Xvfb + Mesa, a real desktop), and `Hand2DView`, a raster widget used where there is none (Qt's
offscreen platform: "QOpenGLWidget is not supported on this platform").
"""

from __future__ import annotations

import logging
import os

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

log = logging.getLogger(__name__)


class HandScene:
    """Skeleton segments of the robot hand and fingertip points of robot and exoskeleton (FK: apps.widgets)."""

    def __init__(self, retargeter) -> None:
        from apps.widgets.hand_pose import HandPoser

        self.r = retargeter
        self.robot = retargeter.robot
        tips = retargeter.tips.robot_frames if retargeter.tips else self.robot.tip_frames
        self.poser = HandPoser(self.robot, tips)
        self.segments = np.zeros((0, 2, 3))
        self.robot_tips = np.zeros((0, 3))
        self.exo_tips = np.zeros((0, 3))
        self.center = np.zeros(3)
        self.extent = 0.2
        self.pose(self.robot.clip(np.zeros(self.robot.nq)), None)
        pts = self.segments.reshape(-1, 3)
        if len(pts):
            self.center = 0.5 * (pts.min(0) + pts.max(0))
            self.extent = float(max(np.ptp(pts, 0).max(), 0.05))

    def pose(self, q_robot: np.ndarray, exo_channels: np.ndarray | None) -> None:
        q = np.asarray(q_robot, float)
        if q.shape != (self.robot.nq,) or not np.all(np.isfinite(q)):
            return
        self.segments, self.robot_tips = self.poser.pose(q)
        if exo_channels is not None and self.r.tips is not None and np.all(np.isfinite(exo_channels)):
            try:
                self.exo_tips = self.r.fingertip_targets(np.asarray(exo_channels, float)[None])[0]
            except Exception:  # noqa: BLE001 - a display must not fail on odd input
                self.exo_tips = np.zeros((0, 3))


class Projector:
    """Orbit camera: yaw/pitch around the hand's centre, perspective, fitted to the widget."""

    def __init__(self) -> None:
        self.yaw, self.pitch, self.zoom = np.radians(-50.0), np.radians(25.0), 1.0

    def project(
        self, pts: np.ndarray, center: np.ndarray, extent: float, w: int, h: int
    ) -> tuple[np.ndarray, np.ndarray]:
        cy, sy, cp, sp = np.cos(self.yaw), np.sin(self.yaw), np.cos(self.pitch), np.sin(self.pitch)
        rz = np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]])
        rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
        p = (np.asarray(pts, float).reshape(-1, 3) - center) / extent
        v = p @ (rx @ rz).T  # x right, y depth, z up
        depth = 3.0 + v[:, 1]
        s = 0.9 * min(w, h) * self.zoom * 3.0 / np.maximum(depth, 0.5)
        return np.column_stack([w / 2 + v[:, 0] * s, h / 2 - v[:, 2] * s]), depth


class _HandPainting:
    """Paint code shared by the GL and the raster view."""

    scene: HandScene | None
    mode_text = ""

    def _init_painting(self) -> None:
        self.scene = None
        self.proj = Projector()
        self._drag: QtCore.QPointF | None = None
        self.paints = 0
        self.frozen = ""  # e.g. "FROZEN — encoder lost": drawn over the hand while the joints do not update
        self.setMinimumSize(240, 180)  # type: ignore[attr-defined]

    def set_frozen(self, text: str) -> None:
        if text != self.frozen:
            self.frozen = text
            self.update()  # type: ignore[attr-defined]

    def _paint_frozen(self, p: QtGui.QPainter, w: int, h: int) -> None:
        if not self.frozen:
            return
        p.fillRect(0, 0, w, h, QtGui.QColor(120, 0, 0, 110))
        f = p.font()
        f.setPointSize(16)
        f.setBold(True)
        p.setFont(f)
        p.setPen(QtGui.QColor(255, 255, 255))
        p.drawText(
            QtCore.QRect(0, 0, w, h), QtCore.Qt.AlignmentFlag.AlignCenter | QtCore.Qt.TextFlag.TextWordWrap, self.frozen
        )

    def set_scene(self, scene: HandScene | None) -> None:
        self.scene = scene
        self.update()  # type: ignore[attr-defined]

    def set_pose(self, q_robot: np.ndarray, exo_channels: np.ndarray | None) -> None:
        if self.scene is not None:
            self.scene.pose(q_robot, exo_channels)
            self.update()  # type: ignore[attr-defined]

    def _paint(self, p: QtGui.QPainter, w: int, h: int) -> None:
        self.paints += 1
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        grad = QtGui.QLinearGradient(0, 0, 0, h)
        grad.setColorAt(0, QtGui.QColor(34, 38, 48))
        grad.setColorAt(1, QtGui.QColor(14, 14, 18))
        p.fillRect(0, 0, w, h, grad)
        sc = self.scene
        if sc is None:
            p.setPen(QtGui.QColor(200, 200, 200))
            p.drawText(QtCore.QRect(0, 0, w, h), QtCore.Qt.AlignmentFlag.AlignCenter, "no hand model")
            self._paint_frozen(p, w, h)
            return
        self._grid(p, sc, w, h)
        seg2, depth = self.proj.project(sc.segments.reshape(-1, 3), sc.center, sc.extent, w, h)
        seg2 = seg2.reshape(-1, 2, 2)
        d = depth.reshape(-1, 2).mean(1)
        for k in np.argsort(-d):  # far first
            shade = int(np.clip(255 - (d[k] - 2.5) * 90, 120, 255))
            pen = QtGui.QPen(QtGui.QColor(shade, int(shade * 0.75), 90), 5)
            pen.setCapStyle(QtCore.Qt.PenCapStyle.RoundCap)
            p.setPen(pen)
            a, b = seg2[k]
            p.drawLine(QtCore.QPointF(*a), QtCore.QPointF(*b))
        rt, _ = self.proj.project(sc.robot_tips, sc.center, sc.extent, w, h)
        et, _ = (
            self.proj.project(sc.exo_tips, sc.center, sc.extent, w, h) if len(sc.exo_tips) else (np.zeros((0, 2)), None)
        )
        p.setPen(QtGui.QPen(QtGui.QColor(120, 220, 255, 160), 1, QtCore.Qt.PenStyle.DashLine))
        for a, b in zip(rt, et):
            p.drawLine(QtCore.QPointF(*a), QtCore.QPointF(*b))
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(QtGui.QColor(255, 200, 60))
        for x, y in rt:
            p.drawEllipse(QtCore.QPointF(x, y), 6, 6)
        p.setBrush(QtGui.QColor(80, 200, 255))
        for x, y in et:
            p.drawEllipse(QtCore.QPointF(x, y), 5, 5)
        p.setPen(QtGui.QColor(230, 230, 230))
        p.drawText(8, 16, f"robot hand: {sc.robot.name}  ({self.mode_text})")
        p.setPen(QtGui.QColor(255, 200, 60))
        p.drawText(8, h - 26, "● robot fingertips")
        p.setPen(QtGui.QColor(80, 200, 255))
        p.drawText(8, h - 10, "● exoskeleton fingertips (in the robot's frame)")
        self._paint_frozen(p, w, h)

    def _grid(self, p: QtGui.QPainter, sc: HandScene, w: int, h: int) -> None:
        z = sc.segments.reshape(-1, 3)[:, 2].min() if len(sc.segments) else 0.0
        e = sc.extent * 0.8
        lines = []
        for k in np.linspace(-e, e, 9):
            lines += [
                [sc.center[0] + k, sc.center[1] - e, z],
                [sc.center[0] + k, sc.center[1] + e, z],
                [sc.center[0] - e, sc.center[1] + k, z],
                [sc.center[0] + e, sc.center[1] + k, z],
            ]
        pts, _ = self.proj.project(np.array(lines), sc.center, sc.extent, w, h)
        p.setPen(QtGui.QPen(QtGui.QColor(90, 95, 110), 1))
        for i in range(0, len(pts), 2):
            p.drawLine(QtCore.QPointF(*pts[i]), QtCore.QPointF(*pts[i + 1]))

    # orbit and zoom
    def mousePressEvent(self, e: QtGui.QMouseEvent) -> None:
        self._drag = e.position()

    def mouseMoveEvent(self, e: QtGui.QMouseEvent) -> None:
        if self._drag is not None:
            d = e.position() - self._drag
            self._drag = e.position()
            self.proj.yaw += d.x() * 0.01
            self.proj.pitch = float(np.clip(self.proj.pitch + d.y() * 0.01, -1.5, 1.5))
            self.update()  # type: ignore[attr-defined]

    def mouseReleaseEvent(self, e: QtGui.QMouseEvent) -> None:
        self._drag = None

    def wheelEvent(self, e: QtGui.QWheelEvent) -> None:
        self.proj.zoom = float(np.clip(self.proj.zoom * (1.1 if e.angleDelta().y() > 0 else 1 / 1.1), 0.3, 5))
        self.update()  # type: ignore[attr-defined]


class Hand2DView(_HandPainting, QtWidgets.QWidget):
    mode_text = "2D projection, no OpenGL here"

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        QtWidgets.QWidget.__init__(self, parent)
        self._init_painting()

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        self._paint(p, self.width(), self.height())
        p.end()


def gl_available() -> bool:
    """True when Qt can make an OpenGL context here (not on the offscreen platform)."""
    if os.environ.get("DEXUMI_NO_GL"):
        return False
    app = QtGui.QGuiApplication.instance()
    if app is None or QtGui.QGuiApplication.platformName() in ("offscreen", "minimal", "vnc"):
        return False
    ctx = QtGui.QOpenGLContext()
    return bool(ctx.create() and ctx.isValid())


def make_hand_view(parent: QtWidgets.QWidget | None = None) -> QtWidgets.QWidget:
    """The OpenGL view where a context exists, else the raster 2D projection."""
    if gl_available():
        try:
            from PySide6.QtOpenGLWidgets import QOpenGLWidget

            class HandGLView(_HandPainting, QOpenGLWidget):
                mode_text = "OpenGL"

                def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
                    QOpenGLWidget.__init__(self, parent)
                    fmt = QtGui.QSurfaceFormat()
                    fmt.setSamples(4)
                    self.setFormat(fmt)
                    self._init_painting()

                def paintGL(self) -> None:
                    p = QtGui.QPainter(self)
                    self._paint(p, self.width(), self.height())
                    p.end()

            return HandGLView(parent)
        except Exception as exc:  # noqa: BLE001 - fall back rather than fail
            log.warning("OpenGL hand view unavailable (%s); using the 2D projection", exc)
    return Hand2DView(parent)

"""The robot hand with exoskeleton fingertips beside it: 3D (pyqtgraph.opengl) where OpenGL works, else a 2D
projection (Qt's offscreen platform, no PyOpenGL, no GL context). Feed it arrays: `set_pose(segments, robot_tips,
exo_tips)`."""

from __future__ import annotations

import logging
import os
import sys

import numpy as np
import pyqtgraph as pg
from PySide6 import QtGui, QtWidgets

from apps.widgets.hand_pose import project, projection

log = logging.getLogger(__name__)

ROBOT = (40, 90, 200)
ROBOT_TIP = (30, 60, 220)
EXO_TIP = (230, 120, 20)


def gl_available() -> tuple[bool, str]:
    """Whether a 3D view can render here, and why not."""
    if os.environ.get("DEXUMI_HAND_VIEW", "").lower() == "2d":
        return False, "DEXUMI_HAND_VIEW=2d"
    app = QtGui.QGuiApplication.instance()
    platform = app.platformName() if app is not None else ""
    if platform in ("offscreen", "minimal", ""):
        return False, f"Qt platform {platform or 'none'!r} has no OpenGL"
    mismatch = bind_pyopengl_to_qt(platform)
    if mismatch:
        return False, mismatch
    try:
        import pyqtgraph.opengl  # noqa: F401 - the import is the probe
    except Exception as exc:  # noqa: BLE001 - PyOpenGL missing or broken
        return False, f"pyqtgraph.opengl unavailable ({type(exc).__name__}: {exc})"
    ctx = QtGui.QOpenGLContext()
    if not ctx.create():
        return False, "no OpenGL context"
    return True, ""


def qt_gl_api(platform: str) -> str:
    """The window-system GL API Qt's platform plugin draws with ("glx", "egl"), or "" when unknown."""
    if platform == "xcb":
        return "egl" if os.environ.get("QT_XCB_GL_INTEGRATION", "") == "xcb_egl" else "glx"
    return "egl" if platform in ("wayland", "eglfs") else ""


def bind_pyopengl_to_qt(platform: str) -> str:
    """Make PyOpenGL use the GL API of Qt's context; why not, or "".

    PYOPENGL_PLATFORM=egl (set for MuJoCo's offscreen rendering, and inherited by child processes) under a GLX
    context makes every PyOpenGL call miss the context and the 3D view draws nothing while claiming to work."""
    want, have = qt_gl_api(platform), os.environ.get("PYOPENGL_PLATFORM", "")
    if not want or not have or have == want:
        return ""
    if "OpenGL" in sys.modules:
        return f"PyOpenGL is already bound to {have} (PYOPENGL_PLATFORM) but Qt draws with {want}"
    log.info("PYOPENGL_PLATFORM=%s does not match Qt's %s context: using %s for the 3D view", have, want, want)
    os.environ["PYOPENGL_PLATFORM"] = want
    return ""


class Hand2DView(QtWidgets.QWidget):
    """Orthographic projection of the skeleton (robot bones blue, robot tips blue dots, exoskeleton tips orange)."""

    mode = "2d"

    def __init__(self, parent: QtWidgets.QWidget | None = None, reason: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("hand:2d")
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.plot = pg.PlotWidget(background="w", title="robot hand (2D projection)")
        self.plot.setAspectLocked(True)
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.reason = reason
        lay.addWidget(self.plot)
        self.bones = self.plot.plot([], [], pen=pg.mkPen(ROBOT, width=3), connect="pairs")
        self.robot_tips = pg.ScatterPlotItem(size=9, brush=pg.mkBrush(*ROBOT_TIP), pen=None, name="robot tips")
        self.exo_tips = pg.ScatterPlotItem(size=9, brush=pg.mkBrush(*EXO_TIP), pen=None, symbol="d", name="exo tips")
        self.links = self.plot.plot([], [], pen=pg.mkPen(EXO_TIP, width=1), connect="pairs")
        self.plot.addItem(self.robot_tips)
        self.plot.addItem(self.exo_tips)
        self.proj = projection()
        self._ranged = False

    def set_pose(self, segments: np.ndarray, robot_tips: np.ndarray, exo_tips: np.ndarray | None = None) -> None:
        s = project(segments.reshape(-1, 3), self.proj)
        self.bones.setData(s[:, 0], s[:, 1])
        rt = project(robot_tips, self.proj)
        self.robot_tips.setData(rt[:, 0], rt[:, 1])
        if exo_tips is not None and len(exo_tips):
            et = project(exo_tips, self.proj)
            self.exo_tips.setData(et[:, 0], et[:, 1])
            n = min(len(rt), len(et))
            pairs = np.empty((2 * n, 2))
            pairs[0::2], pairs[1::2] = rt[:n], et[:n]
            self.links.setData(pairs[:, 0], pairs[:, 1])
        if not self._ranged and len(s):
            self.plot.getViewBox().autoRange(padding=0.15)
            self._ranged = True


class HandGLView(QtWidgets.QWidget):
    """pyqtgraph.opengl: grid, bones as lines, fingertips as points (robot blue, exoskeleton orange)."""

    mode = "3d"
    scale = 10.0  # metres → decimetres: keeps the hand well inside the default clipping planes

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        import pyqtgraph.opengl as gl

        super().__init__(parent)
        self.setObjectName("hand:3d")
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.view = gl.GLViewWidget()
        self.view.setBackgroundColor("w")
        self.view.setCameraPosition(distance=4.0, elevation=20, azimuth=35)
        grid = gl.GLGridItem()
        grid.setSize(3.0, 3.0)
        grid.setSpacing(0.2, 0.2)
        grid.translate(0, 0, -1.0)
        grid.setColor((0, 0, 0, 60))
        self.view.addItem(grid)

        def rgba(c: tuple[int, int, int]) -> tuple[float, ...]:  # a tuple: an ndarray would be per-vertex colours
            return tuple(v / 255.0 for v in c) + (1.0,)

        self.bones = gl.GLLinePlotItem(pos=np.zeros((2, 3)), mode="lines", color=rgba(ROBOT), width=4, antialias=True)
        self.robot_tips = gl.GLScatterPlotItem(pos=np.zeros((1, 3)), color=rgba(ROBOT_TIP), size=12)
        self.exo_tips = gl.GLScatterPlotItem(pos=np.zeros((1, 3)), color=rgba(EXO_TIP), size=12)
        for it in (self.bones, self.robot_tips, self.exo_tips):
            it.setGLOptions("translucent")
            self.view.addItem(it)
        lay.addWidget(self.view)

    def set_pose(self, segments: np.ndarray, robot_tips: np.ndarray, exo_tips: np.ndarray | None = None) -> None:
        pts = segments.reshape(-1, 3)
        if not hasattr(self, "_centre"):
            self._centre = (pts.min(axis=0) + pts.max(axis=0)) / 2 if len(pts) else np.zeros(3)
        c, k = self._centre, self.scale
        self.bones.setData(pos=(pts - c) * k)
        self.robot_tips.setData(pos=(robot_tips - c) * k)
        if exo_tips is not None and len(exo_tips):
            self.exo_tips.setData(pos=(exo_tips - c) * k)

    def grab_image(self) -> QtGui.QImage:
        return self.view.grabFramebuffer()


def make_hand_view(parent: QtWidgets.QWidget | None = None, prefer_3d: bool = True) -> Hand2DView | HandGLView:
    ok, why = gl_available() if prefer_3d else (False, "2D requested")
    if ok:
        try:
            return HandGLView(parent)
        except Exception as exc:  # noqa: BLE001 - fall back rather than fail the app
            why = f"3D view failed: {exc}"
    log.info("hand view in 2D: %s", why)
    return Hand2DView(parent, why)

"""Timeline controls: scrub slider with marker ticks, play/pause, speed, frame readout."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6 import QtCore, QtGui, QtWidgets

SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)


class MarkerStrip(QtWidgets.QWidget):
    """Coloured ticks at marker frames, aligned with the slider above."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedHeight(10)
        self.count = 1
        self.markers: list[tuple[int, tuple[int, int, int]]] = []
        self.bands: list[tuple[int, int, tuple[int, int, int]]] = []  # (first frame, last frame, colour)

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), QtGui.QColor(235, 235, 235))
        w = max(1, self.width() - 12)
        for a, b, color in self.bands:
            xa = 6 + int(w * a / max(1, self.count - 1))
            xb = 6 + int(w * b / max(1, self.count - 1))
            p.fillRect(xa, 0, max(2, xb - xa + 1), self.height(), QtGui.QColor(*color))
        for i, color in self.markers:
            x = 6 + int(w * i / max(1, self.count - 1))
            p.fillRect(x - 1, 0, 3, self.height(), QtGui.QColor(*color))
        p.end()


class Timeline(QtWidgets.QWidget):
    """Emits `frame_changed(i)` when scrubbed; `play_toggled(bool)`; `speed_changed(float)`."""

    frame_changed = QtCore.Signal(int)
    play_toggled = QtCore.Signal(bool)
    speed_changed = QtCore.Signal(float)

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("timeline")
        lay = QtWidgets.QGridLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        self.play = QtWidgets.QPushButton("Play")
        self.play.setCheckable(True)
        self.play.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.play.toggled.connect(self._toggled)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.slider.valueChanged.connect(self.frame_changed)
        self.speed = QtWidgets.QComboBox()
        self.speed.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        for s in SPEEDS:
            self.speed.addItem(f"{s:g}×", s)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.currentIndexChanged.connect(lambda i: self.speed_changed.emit(float(SPEEDS[i])))
        self.label = QtWidgets.QLabel("0 / 0")
        self.label.setMinimumWidth(190)
        self.strip = MarkerStrip()
        lay.addWidget(self.play, 0, 0)
        lay.addWidget(self.slider, 0, 1)
        lay.addWidget(self.speed, 0, 2)
        lay.addWidget(self.label, 0, 3)
        lay.addWidget(self.strip, 1, 1)

    def _toggled(self, on: bool) -> None:
        self.play.setText("Pause" if on else "Play")
        self.play_toggled.emit(on)

    def set_count(self, n: int) -> None:
        self.slider.setRange(0, max(0, n - 1))
        self.strip.count = n
        self.strip.update()

    def set_markers(self, markers: Sequence[tuple[int, tuple[int, int, int]]]) -> None:
        self.strip.markers = list(markers)
        self.strip.update()

    def set_bands(self, bands: Sequence[tuple[int, int, tuple[int, int, int]]]) -> None:
        self.strip.bands = list(bands)
        self.strip.update()

    def set_frame(self, i: int, text: str) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(i)
        self.slider.blockSignals(False)
        self.label.setText(text)

    def step_speed(self, d: int) -> float:
        k = min(len(SPEEDS) - 1, max(0, self.speed.currentIndex() + d))
        self.speed.setCurrentIndex(k)
        return SPEEDS[k]

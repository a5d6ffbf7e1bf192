"""Minimal line charts drawn with OpenCV (matplotlib is not a dependency): axes, ticks, legend, markers."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

PALETTE = [
    (180, 119, 31),
    (14, 127, 255),
    (44, 160, 44),
    (40, 39, 214),
    (189, 103, 148),
    (75, 86, 140),
    (194, 119, 227),
    (127, 127, 127),
    (34, 189, 188),
    (207, 190, 23),
    (0, 0, 0),
    (100, 200, 100),
]
FONT = cv2.FONT_HERSHEY_SIMPLEX


def _ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        return np.array([lo])
    raw = (hi - lo) / n
    mag = 10 ** np.floor(np.log10(raw))
    step = min((s * mag for s in (1, 2, 5, 10) if s * mag >= raw), default=raw)
    return np.arange(np.ceil(lo / step) * step, hi + step * 1e-9, step)


@dataclass
class Chart:
    """One panel: add `line`s, `hline`s and `vmark`s, then `render()` to a BGR image."""

    title: str
    width: int = 900
    height: int = 300
    xlabel: str = "s"
    lines: list[tuple[np.ndarray, np.ndarray, str]] = field(default_factory=list)
    hlines: list[tuple[float, str]] = field(default_factory=list)
    vmarks: list[tuple[float, tuple[int, int, int]]] = field(default_factory=list)
    vspans: list[tuple[float, float, tuple[int, int, int]]] = field(default_factory=list)

    def line(self, x: np.ndarray, y: np.ndarray, label: str = "") -> None:
        self.lines.append((np.asarray(x, float), np.asarray(y, float), label))

    def hline(self, y: float, label: str = "") -> None:
        self.hlines.append((float(y), label))

    def vmark(self, x: float, color: tuple[int, int, int] = (0, 0, 220)) -> None:
        self.vmarks.append((float(x), color))

    def vspan(self, x0: float, x1: float, color: tuple[int, int, int] = (200, 200, 200)) -> None:
        """A shaded band from x0 to x1 (BGR), drawn under the lines."""
        self.vspans.append((float(x0), float(x1), color))

    def _range(self) -> tuple[float, float, float, float]:
        x_parts = [x[np.isfinite(x)] for x, _, _ in self.lines if len(x)] + [np.array([v for v, _ in self.vmarks])]
        y_parts = [y[np.isfinite(y)] for _, y, _ in self.lines if len(y)] + [np.array([v for v, _ in self.hlines])]
        xs = np.concatenate(x_parts) if x_parts else np.zeros(0)
        ys = np.concatenate(y_parts) if y_parts else np.zeros(0)
        x0, x1 = (float(xs.min()), float(xs.max())) if len(xs) else (0.0, 1.0)
        y0, y1 = (float(ys.min()), float(ys.max())) if len(ys) else (0.0, 1.0)
        if x1 <= x0:
            x1 = x0 + 1.0
        pad = 0.05 * (y1 - y0) if y1 > y0 else max(abs(y0) * 0.1, 1.0)
        return x0, x1, y0 - pad, y1 + pad

    def render(self) -> np.ndarray:
        w, h = self.width, self.height
        img = np.full((h, w, 3), 255, np.uint8)
        L, R, T, B = 70, 15, 28, 32
        x0, x1, y0, y1 = self._range()

        def px(x: np.ndarray | float) -> np.ndarray:
            out: np.ndarray = L + (np.asarray(x) - x0) / (x1 - x0) * (w - L - R)
            return out

        def py(y: np.ndarray | float) -> np.ndarray:
            out: np.ndarray = h - B - (np.asarray(y) - y0) / (y1 - y0) * (h - T - B)
            return out

        cv2.putText(img, self.title, (L, 19), FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
        for t in _ticks(x0, x1):
            X = int(px(t))
            cv2.line(img, (X, T), (X, h - B), (235, 235, 235), 1)
            cv2.putText(img, f"{t:g}", (X - 12, h - B + 15), FONT, 0.38, (60, 60, 60), 1, cv2.LINE_AA)
        for t in _ticks(y0, y1):
            Y = int(py(t))
            cv2.line(img, (L, Y), (w - R, Y), (235, 235, 235), 1)
            cv2.putText(img, f"{t:.6g}", (4, Y + 4), FONT, 0.38, (60, 60, 60), 1, cv2.LINE_AA)
        cv2.putText(img, self.xlabel, (w - R - 20, h - 4), FONT, 0.4, (60, 60, 60), 1, cv2.LINE_AA)
        for a, b, color in self.vspans:
            A, Bx = int(px(max(a, x0))), int(px(min(b, x1)))
            if Bx >= A:
                cv2.rectangle(img, (A, T), (max(A + 1, Bx), h - B), color, -1)
        cv2.rectangle(img, (L, T), (w - R, h - B), (0, 0, 0), 1)
        for xm, color in self.vmarks:
            X = int(px(xm))
            cv2.line(img, (X, T), (X, h - B), color, 1)
        for yh, label in self.hlines:
            Y = int(py(yh))
            cv2.line(img, (L, Y), (w - R, Y), (120, 120, 120), 1, cv2.LINE_4)
            if label:
                cv2.putText(img, label, (w - R - 8 * len(label), Y - 3), FONT, 0.35, (90, 90, 90), 1, cv2.LINE_AA)
        for k, (x, y, label) in enumerate(self.lines):
            ok = np.isfinite(x) & np.isfinite(y)
            color = PALETTE[k % len(PALETTE)]
            # a missing value breaks the line: no straight segment drawn across a gap
            runs = np.split(np.arange(len(ok)), np.flatnonzero(np.diff(ok.astype(np.int8)) != 0) + 1)
            for run in runs:
                if not len(run) or not ok[run[0]]:
                    continue
                pts = np.stack([px(x[run]), py(y[run])], axis=1).astype(np.int32)
                if len(pts) > 1:
                    cv2.polylines(img, [pts], False, color, 1, cv2.LINE_AA)
                else:
                    cv2.circle(img, tuple(int(v) for v in pts[0]), 2, color, -1)
            if label:
                ly = T + 14 + 14 * k
                cv2.line(img, (w - R - 130, ly - 4), (w - R - 112, ly - 4), color, 2)
                cv2.putText(img, label[:18], (w - R - 108, ly), FONT, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
        return img


def stack(images: list[np.ndarray]) -> np.ndarray:
    width = max(i.shape[1] for i in images)
    return np.vstack(
        [cv2.copyMakeBorder(i, 0, 0, 0, width - i.shape[1], cv2.BORDER_CONSTANT, value=(255, 255, 255)) for i in images]
    )

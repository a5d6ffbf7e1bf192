"""Headless side-by-side video: cameras, hand (2D projection) and joint traces with a cursor, drawn with OpenCV
and encoded H.264 with PyAV — one video frame per aligned episode frame."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from apps.replay.data import CURSOR_COLOR, ReplayData
from apps.widgets.hand_pose import project, projection
from dexumi.export.video import H264Writer
from dexumi.validate.chart import Chart

CAM_H = 240
HAND_W = 320
PLOT_H = 220


def _hand_panel(d: ReplayData, i: int, proj: np.ndarray, box: tuple[np.ndarray, float]) -> np.ndarray:
    img = np.full((CAM_H, HAND_W, 3), 255, np.uint8)
    cv2.putText(
        img, "robot hand (blue), exo tips (orange)", (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA
    )
    if d.gap_at(i):  # no encoder data: no pose to show (the last one held would look like a real hand)
        cv2.rectangle(img, (0, 24), (HAND_W - 1, CAM_H - 1), (150, 150, 150), -1)
        cv2.putText(
            img,
            "ENCODER GAP",
            (HAND_W // 2 - 70, CAM_H // 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.7,
            (255, 255, 255),
            2,
            cv2.LINE_AA,
        )
        cv2.putText(
            img,
            "no joint data",
            (HAND_W // 2 - 55, CAM_H // 2 + 26),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
        return img
    pose = d.pose(i)
    if pose is None:
        cv2.putText(img, "no hand model", (90, 130), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (90, 90, 90), 1, cv2.LINE_AA)
        return img
    centre, scale = box

    def px(p: np.ndarray) -> np.ndarray:
        q = (project(p, proj) - centre) * scale
        return np.stack([HAND_W / 2 + q[..., 0], CAM_H / 2 + 10 - q[..., 1]], axis=-1).astype(np.int32)

    segs, tips, exo = pose
    for a, b in px(segs):
        cv2.line(img, tuple(int(v) for v in a), tuple(int(v) for v in b), (200, 90, 40), 3, cv2.LINE_AA)
    rt = px(tips)
    if exo is not None:
        et = px(exo)
        for a, b in zip(rt, et):
            cv2.line(img, tuple(int(v) for v in a), tuple(int(v) for v in b), (20, 120, 230), 1, cv2.LINE_AA)
        for p in et:
            cv2.circle(img, tuple(int(v) for v in p), 5, (20, 120, 230), -1, cv2.LINE_AA)
    for p in rt:
        cv2.circle(img, tuple(int(v) for v in p), 5, (220, 60, 30), -1, cv2.LINE_AA)
    return img


def _hand_box(d: ReplayData, proj: np.ndarray) -> tuple[np.ndarray, float]:
    pts = []
    for i in np.linspace(0, len(d) - 1, min(len(d), 20)).astype(int):
        pose = d.pose(int(i))
        if pose is not None:
            pts.append(project(pose[0].reshape(-1, 3), proj))
    if not pts:
        return np.zeros(2), 1.0
    allp = np.concatenate(pts)
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    span = max(float((hi - lo).max()), 1e-6)
    return (lo + hi) / 2, 0.8 * min(HAND_W, CAM_H) / span


def _plot_base(d: ReplayData, width: int) -> tuple[np.ndarray, Callable[[float], int]]:
    c = Chart("robot joints (action, rad)", width=width, height=PLOT_H)
    action = d.traces(d.action)
    for j, name in enumerate(d.action_names):
        c.line(d.t, action[:, j], name)
    for iv in d.intervals:
        c.vspan(iv.t0, iv.t1, iv.color[::-1])
    for m in d.markers[:300]:
        c.vmark(m.t, m.color[::-1])
    img = c.render()
    L, R = 70, 15
    t0, t1 = float(d.t[0]), float(d.t[-1]) if d.t[-1] > d.t[0] else float(d.t[0]) + 1.0
    return img, lambda t: int(L + (t - t0) / (t1 - t0) * (width - L - R))


def render_video(d: ReplayData, out: Path, fps: float | None = None, tick: Callable[[int], None] | None = None) -> int:
    """Write the clip; returns the number of frames (= aligned frames of the episode)."""
    cams = d.cameras
    sizes = []
    for cam in cams:
        img = d.image(cam, 0)
        h, w = img.shape[:2] if img is not None else (480, 640)
        sizes.append(int(round(w * CAM_H / h)))
    width = sum(sizes) + HAND_W
    width += width % 2
    proj = projection()
    box = _hand_box(d, proj)
    base, xpix = _plot_base(d, width)
    from apps.replay.touch import draw_touch, touch_series

    touch = touch_series(d.ep)  # tactile boards of a multi-device episode: per-finger bars on the hand panel
    height = CAM_H + PLOT_H
    with H264Writer(out, (width, height), fps or d.fps, crf=26) as w:
        for i in range(len(d)):
            frame = np.full((height, width, 3), 255, np.uint8)
            x = 0
            for cam, cw in zip(cams, sizes):
                img = d.image(cam, i, reduce=2)
                if img is not None:
                    frame[:CAM_H, x : x + cw] = cv2.resize(img, (cw, CAM_H), interpolation=cv2.INTER_AREA)
                cv2.putText(frame, cam, (x + 6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
                x += cw
            frame[:CAM_H, x : x + HAND_W] = _hand_panel(d, i, proj, box)
            if touch:
                rows = sum(1 + len(s.fingers) for s in touch)
                draw_touch(frame, touch, i, x + 6, CAM_H - 22 - 13 * rows, HAND_W - 12)
            plot = base.copy()
            cx = xpix(float(d.t[i]))
            cv2.line(plot, (cx, 28), (cx, PLOT_H - 32), CURSOR_COLOR[::-1], 2)
            frame[CAM_H:, : plot.shape[1]] = plot
            near = d.markers_near(i)
            label = f"{d.path.name}  frame {i + 1}/{len(d)}  t {d.t[i]:.2f} s"
            if d.gap_at(i):
                label += "  ENCODER GAP"
            elif near:
                label += "  " + near[0].text[:60]
            cv2.putText(frame, label, (6, CAM_H - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
            w.write(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            if tick is not None:
                tick(1)
        n = w.n
    return n

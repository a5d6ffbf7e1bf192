"""Touch in replay: per-finger bars of each tactile board of a multi-device episode (issue 17)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

BAR_COLOR = (40, 40, 220)  # BGR
STALE_COLOR = (170, 170, 170)


@dataclass
class TouchSeries:
    role: str
    unit: str
    fingers: list[str]
    totals: np.ndarray  # (T, F) per-finger totals at each shown frame (baseline at the episode's first reading)
    valid: np.ndarray  # (T,) bool
    scale: float  # full bar


def touch_series(ep) -> list[TouchSeries]:
    """Every tactile board of an `Episode` (`dexumi.episode.reader.Episode`), as per-finger totals."""
    from dexumi.devices.tactile import channel_unit, finger_totals
    from dexumi.episode.device_stream import view_group
    from dexumi.export.tactile import tactile_roles

    out = []
    for entry in tactile_roles(ep.f):
        role, _, proto = entry.partition(":")
        o = view_group(role)
        vals = ep._view(f"{o}/tactile").astype(np.float64)
        valid = ep._view(f"{o}/tactile_valid").astype(bool)
        tot, fingers = finger_totals(proto, vals)
        if valid.any():
            tot = tot - tot[np.flatnonzero(valid)[0]]  # the no-load reading at the start shows as zero
        scale = float(np.percentile(np.abs(tot[valid]), 99)) if valid.any() else 0.0
        out.append(TouchSeries(role, channel_unit(proto), fingers, tot, valid, max(scale, 1e-6)))
    return out


def draw_touch(img: np.ndarray, series: list[TouchSeries], i: int, x0: int, y0: int, width: int) -> None:
    """Bars (one per finger and board) from (x0, y0) down, `width` pixels wide, in place."""
    y = y0
    for s in series:
        cv2.putText(
            img, f"touch {s.role} ({s.unit})", (x0, y + 10), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA
        )
        y += 14
        for k, finger in enumerate(s.fingers):
            v = float(s.totals[i, k]) if i < len(s.totals) else 0.0
            frac = float(np.clip(v / s.scale, 0.0, 1.0))
            cv2.putText(img, finger[:6], (x0, y + 9), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (0, 0, 0), 1, cv2.LINE_AA)
            bx, bw = x0 + 46, width - 100
            cv2.rectangle(img, (bx, y), (bx + bw, y + 9), (225, 225, 225), -1)
            color = BAR_COLOR if i < len(s.valid) and s.valid[i] else STALE_COLOR
            cv2.rectangle(img, (bx, y), (bx + int(frac * bw), y + 9), color, -1)
            cv2.putText(
                img, f"{v:.1f}", (bx + bw + 4, y + 9), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (0, 0, 0), 1, cv2.LINE_AA
            )
            y += 12

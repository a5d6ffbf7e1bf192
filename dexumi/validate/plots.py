"""PNG diagnostics of one episode: rates over time, alignment residuals, joint traces with findings marked."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from dexumi.validate import models
from dexumi.validate.chart import Chart, stack
from dexumi.validate.context import EpisodeData
from dexumi.validate.result import EpisodeReport
from dexumi.validate.series import windowed_rate
from dexumi.vocab import CheckLevel


def _marks(chart: Chart, r: EpisodeReport) -> None:
    for c in r.checks:
        color = (0, 0, 220) if c.level == CheckLevel.ERROR else (0, 160, 230)
        if c.level in (CheckLevel.WARN, CheckLevel.ERROR):
            for t in c.times:
                chart.vmark(t, color)


def rates_png(d: EpisodeData, r: EpisodeReport) -> np.ndarray:
    t0 = d.t0
    panels = []
    if "mapped_time" in d.encoder:
        c = Chart("encoder rate (Hz, 0.5 s windows)")
        x, y = windowed_rate(np.sort(d.encoder["mapped_time"]))
        c.line(x - t0, y, "encoder")
        nom = float(d.encoder_attrs.get("nominal_rate_hz", 0.0) or 0.0)
        if nom:
            c.hline(nom, "nominal")
        _marks(c, r)
        panels.append(c.render())
    c = Chart("camera and aligned rates (Hz, 0.5 s windows)")
    for cam in d.cameras.values():
        x, y = windowed_rate(cam.grab_time)
        c.line(x - t0, y, cam.name)
    if d.timestamps is not None:
        x, y = windowed_rate(d.timestamps)
        c.line(x - t0, y, "aligned")
    if d.nominal_fps:
        c.hline(d.nominal_fps, "nominal")
    _marks(c, r)
    panels.append(c.render())
    return stack(panels)


def residuals_png(d: EpisodeData, r: EpisodeReport) -> np.ndarray:
    t0 = d.t0
    panels = []
    c = Chart("secondary camera offset from the aligned instant (ms)")
    for cam in d.cameras.values():
        if cam.aligned_offset is not None and d.timestamps is not None and len(cam.aligned_offset) == len(d.timestamps):
            c.line(d.timestamps - t0, cam.aligned_offset * 1e3, cam.name)
    _marks(c, r)
    panels.append(c.render())
    enc = d.encoder
    if "host_time" in enc and "mapped_time" in enc and len(enc["host_time"]):
        c = Chart("encoder arrival minus mapped time (ms)")
        step = max(1, len(enc["host_time"]) // 4000)
        lat = float(d.encoder_attrs.get("latency_s", 0.0) or 0.0)
        c.line(
            enc["host_time"][::step] - t0,
            (enc["host_time"][::step] - enc["mapped_time"][::step] - lat) * 1e3,
            "residual",
        )
        panels.append(c.render())
    return stack(panels)


def joints_png(d: EpisodeData, r: EpisodeReport) -> np.ndarray:
    if d.action is None or d.timestamps is None or len(d.action) != len(d.timestamps):
        return Chart("no aligned action").render()
    t = d.timestamps - d.t0
    kin = models.hand(str(d.attrs.get("robot_hand", ""))) if d.attrs.get("robot_hand") else None
    panels = []
    for k, name in enumerate(d.action_names or [f"j{i}" for i in range(d.action.shape[1])]):
        c = Chart(f"action {name} (rad)", height=150)
        c.line(t, d.action[:, k], "")
        if kin is not None and name in kin.joint_names:
            j = kin.index(name)
            c.hline(kin.lower[j], "lower")
            c.hline(kin.upper[j], "upper")
        _marks(c, r)
        panels.append(c.render())
    return stack(panels)


def write_plots(d: EpisodeData, r: EpisodeReport, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    stem = d.path.name.split(".")[0]
    written = []
    for suffix, fn in (("rates", rates_png), ("residuals", residuals_png), ("joints", joints_png)):
        p = out / f"{stem}_{suffix}.png"
        if not cv2.imwrite(str(p), fn(d, r)):
            raise OSError(f"could not write {p}")
        written.append(p)
    return written

"""Entry of `dexumi replay`: the window, a screenshot of it, or a headless video."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dexumi.errors import DexumiError


def _app():
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtWidgets

    return QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])


def screenshot(files: list[Path], out: Path, frame: int = 0, size: tuple[int, int] = (1400, 900)) -> Path:
    app = _app()
    from apps.replay.window import ReplayWindow

    w = ReplayWindow(files)
    try:
        w.resize(*size)
        w.show()
        w.set_frame(frame if frame >= 0 else (len(w.data) + frame if w.data else 0))
        for _ in range(5):
            app.processEvents()
        w.screenshot(out)
    finally:
        w.close()
    return out


def video(files: list[Path], out: Path, fps: float | None = None, progress: bool = True) -> list[tuple[Path, int]]:
    from tqdm import tqdm

    from apps.replay.data import load
    from apps.replay.render import render_video
    from dexumi.safe_output import write_atomic

    if out.exists():
        raise DexumiError(f"{out} already exists; use --force to replace it")
    results = []
    for f in files:
        target = out if len(files) == 1 else out.with_name(f"{out.stem}_{f.name.split('.')[0]}{out.suffix}")
        d = load(f)
        frames: list[int] = []
        try:
            with tqdm(total=len(d), desc=f"render {f.name}", unit="frame", disable=not progress, leave=False) as bar:
                write_atomic(
                    target,
                    lambda tmp, d=d, frames=frames, bar=bar: frames.append(render_video(d, tmp, fps, bar.update)),
                )
            n = frames[0]
        finally:
            d.close()
        results.append((target, n))
    return results


def window(files: list[Path]) -> int:
    app = _app()
    from apps.replay.window import ReplayWindow

    w = ReplayWindow(files)
    w.show()
    return int(app.exec())

"""Running an export: plan, stage, convert with a progress bar, publish, summarise."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from dexumi.export.plan import ExportOptions, ExportPlan, make_plan
from dexumi.export.staging import StagedDir

log = logging.getLogger(__name__)


@dataclass
class ExportSummary:
    fmt: str
    out: Path
    fps: float
    sizes: dict[str, tuple[int, int]]
    episodes: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    bytes: int = 0

    @property
    def frames(self) -> int:
        return int(sum(e["frames"] for e in self.episodes))

    def to_dict(self) -> dict:
        return {"format": self.fmt, "out": str(self.out), "fps": self.fps,
                "image_size": {c: f"{w}x{h}" for c, (w, h) in self.sizes.items()}, "episodes": self.episodes,
                "frames": self.frames, "skipped": self.skipped, "seconds": round(self.seconds, 3), "bytes": self.bytes}


def _size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def _write(plan: ExportPlan, tmp: Path, opts: ExportOptions, tick) -> list[dict]:
    if opts.fmt == "act":
        from dexumi.export import act

        return act.write(plan, tmp, tick)
    if opts.fmt == "robomimic":
        from dexumi.export import robomimic

        return robomimic.write(plan, tmp, tick, opts)
    from dexumi.export import lerobot

    return lerobot.write(plan, tmp, tick)


def export_paths(paths: list[str | Path], opts: ExportOptions) -> ExportSummary:
    """Export every compatible episode; skipped inputs are listed in the summary (the caller decides the exit)."""
    t0 = time.perf_counter()
    plan = make_plan(paths, opts)
    summary = ExportSummary(opts.fmt, opts.out, plan.fps, plan.sizes, skipped=list(plan.skipped))
    total = sum(int(e.frames * 1.0) for e in plan.episodes)
    with StagedDir(opts.out, opts.force) as tmp:
        with tqdm(total=total, desc=f"export {opts.fmt}", unit="frame", disable=not opts.progress, leave=False) as bar:
            summary.episodes = _write(plan, tmp, opts, bar.update)
    summary.bytes = _size(opts.out)
    summary.seconds = time.perf_counter() - t0
    return summary

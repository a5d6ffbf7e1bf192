"""Running an export: plan, stage, convert with a progress bar, publish, summarise."""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from dexumi.errors import DexumiError
from dexumi.export.plan import RAW_WARN_BYTES, ExportOptions, ExportPlan, make_plan
from dexumi.export.prepared import Loop
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


def _write(plan: ExportPlan, tmp: Path, opts: ExportOptions, tick, loop: Loop | None = None) -> list[dict]:
    """The dataset in `tmp`; `loop`: where robomimic and zarr take their episodes from (default: read here)."""
    from dexumi.export.source import opencv_serial

    with opencv_serial():
        return _write_format(plan, tmp, opts, tick, loop)


def _write_format(plan: ExportPlan, tmp: Path, opts: ExportOptions, tick, loop: Loop | None = None) -> list[dict]:
    if opts.fmt == "act":
        from dexumi.export import act

        return act.write(plan, tmp, tick)
    if opts.fmt == "robomimic":
        from dexumi.export import robomimic

        return robomimic.write(plan, tmp, tick, opts, loop)
    if opts.fmt == "zarr":
        from dexumi.export import zarr_export

        return zarr_export.write(plan, tmp, tick, loop)
    from dexumi.export import lerobot

    return lerobot.write(plan, tmp, tick)


def estimate_bytes(plan: ExportPlan, opts: ExportOptions) -> int | None:
    """Bytes a raw-image export (ACT without compression, robomimic) will take; None when images are coded."""
    if not (opts.fmt == "robomimic" or (opts.fmt == "act" and not opts.act_compress)):
        return None
    per_frame = sum(w * h * 3 for w, h in plan.sizes.values()) + 64 * len(plan.first.vector_names)
    if opts.fmt == "act":
        from dexumi.export.act import common_length

        frames = common_length(plan) * len(plan.episodes)
    else:
        frames = sum(int(e.span_s * plan.fps) + 1 for e in plan.episodes)
    return frames * per_frame


def _check_space(plan: ExportPlan, opts: ExportOptions) -> None:
    est = estimate_bytes(plan, opts)
    if est is None:
        return
    parent = Path(opts.out).expanduser().resolve().parent
    while not parent.exists():
        parent = parent.parent
    free = shutil.disk_usage(parent).free
    if est > RAW_WARN_BYTES:
        log.warning("%s export with raw images: about %.1f GB (%.1f GB free); --image-size or --act-compress make "
                    "it smaller", opts.fmt, est / 2**30, free / 2**30)
    if est > free:
        raise DexumiError(f"{opts.out}: this {opts.fmt} export needs about {_human(est)} of raw images, "
                          f"{_human(free)} free; nothing written (--image-size or --act-compress make it smaller)")


def _human(n: float) -> str:
    return f"{n / 2**30:.2f} GB" if n >= 2**30 else f"{n / 2**20:.1f} MB"


def export_paths(paths: list[str | Path], opts: ExportOptions, engine=None,
                 work_dir: str | Path | None = None) -> ExportSummary:
    """Export every compatible episode; skipped inputs are listed in the summary (the caller decides the exit).
    With a batch `engine` (dexumi.batch) each episode is a task (dexumi.export.sharded); an `opts.out` URL
    (fsspec) is built locally, then uploaded (dexumi.batch.storage)."""
    from dexumi.batch.storage import is_url

    if is_url(opts.out):
        return _export_to_url(paths, opts, engine, work_dir)
    if engine is not None:
        from dexumi.export.sharded import export_sharded

        return export_sharded(paths, opts, engine, work_dir)
    t0 = time.perf_counter()
    plan = make_plan(paths, opts)
    staged = StagedDir(opts.out, opts.force, "export", inputs=[Path(p) for p in paths],
                       info={"format": opts.fmt, "layout": opts.layout if opts.fmt == "zarr" else None})
    _check_space(plan, opts)
    summary = ExportSummary(opts.fmt, opts.out, plan.fps, plan.sizes)
    total = sum(int(e.span_s * plan.fps) + 1 for e in plan.episodes)
    with staged as tmp:
        with tqdm(total=total, desc=f"export {opts.fmt}", unit="frame", disable=not opts.progress, leave=False) as bar:
            summary.episodes = _write(plan, tmp, opts, bar.update)
    summary.skipped = list(plan.skipped)
    summary.bytes = _size(opts.out)
    summary.seconds = time.perf_counter() - t0
    return summary


def _export_to_url(paths: list[str | Path], opts: ExportOptions, engine, work_dir) -> ExportSummary:
    import dataclasses

    from dexumi.batch.storage import check_target, local_staging_for, publish_tree
    from dexumi.export.staging import OUTPUT_MARKER

    url = str(opts.out)
    check_target(url, opts.force, OUTPUT_MARKER, "export")
    local = local_staging_for(url)
    s = export_paths(paths, dataclasses.replace(opts, out=local, force=True), engine, work_dir)
    publish_tree(local, url, OUTPUT_MARKER)
    shutil.rmtree(local.parent, ignore_errors=True)
    s.out = url  # type: ignore[assignment]
    return s

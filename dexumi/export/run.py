"""Running an export: plan, stage, convert with a progress bar, publish, summarise."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from tqdm import tqdm

from dexumi.export.plan import ExportOptions, make_plan
from dexumi.export.staging import StagedDir

# the summary and the writers live in dexumi.export.writer (the sharded run uses them too); ExportSummary and
# estimate_bytes keep their old path here
from dexumi.export.writer import ExportSummary, check_space, estimate_bytes, output_bytes, write_dataset

__all__ = ["ExportSummary", "estimate_bytes", "export_paths"]


def export_paths(
    paths: list[str | Path], opts: ExportOptions, engine=None, work_dir: str | Path | None = None
) -> ExportSummary:
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
    staged = StagedDir(
        opts.out,
        opts.force,
        "export",
        inputs=[Path(p) for p in paths],
        info={"format": opts.fmt, "layout": opts.layout if opts.fmt == "zarr" else None},
    )
    check_space(plan, opts)
    summary = ExportSummary(opts.fmt, opts.out, plan.fps, plan.sizes)
    total = sum(int(e.span_s * plan.fps) + 1 for e in plan.episodes)
    with staged as tmp:
        with tqdm(total=total, desc=f"export {opts.fmt}", unit="frame", disable=not opts.progress, leave=False) as bar:
            summary.episodes = write_dataset(plan, tmp, opts, bar.update)
    summary.skipped = list(plan.skipped)
    summary.bytes = output_bytes(opts.out)
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

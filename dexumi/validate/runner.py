"""Validating many files in parallel (processes) with a progress bar, plus folder numbering."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from dexumi.batch import Engine, LocalEngine, run_episode_tasks
from dexumi.batch.engine import default_workers
from dexumi.validate import models
from dexumi.validate.config import ValidateConfig
from dexumi.validate.episode import validate_file
from dexumi.validate.folder import check_calibration_drift, check_numbering
from dexumi.validate.paths import expand
from dexumi.validate.result import EpisodeReport

log = logging.getLogger(__name__)


@dataclass
class ValidationRun:
    """Reports of every file and folder, and the inputs that were not files at all."""

    episodes: list[EpisodeReport] = field(default_factory=list)
    folders: list[EpisodeReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def failed(self, warn_as_error: bool = False) -> bool:
        return (
            bool(self.problems)
            or not self.episodes
            or any(r.failed(warn_as_error) for r in self.episodes + self.folders)
        )


def _one(path: str, cfg: ValidateConfig, plots: str | None) -> dict:
    return validate_file(path, cfg, plots).to_dict()


__all__ = ["ValidationRun", "default_workers", "validate_paths"]


def validate_paths(
    paths: list[str | Path],
    cfg: ValidateConfig | None = None,
    plots_dir: str | Path | None = None,
    workers: int | None = None,
    progress: bool = True,
    engine: Engine | None = None,
    manifest: str | Path | None = None,
) -> ValidationRun:
    """Validate files and folders; reports come back in input order. One task per file on `engine` (default: the
    local process pool of `workers`); with `manifest`, files validated before with these settings and unchanged
    since are not read again."""
    cfg = cfg or ValidateConfig()
    inputs = expand(paths)
    run = ValidationRun(problems=list(inputs.problems))
    plots = None if plots_dir is None else str(Path(plots_dir).expanduser().resolve())
    pool = (
        engine.workers
        if isinstance(engine, LocalEngine)
        else ((default_workers() if workers is None else max(1, workers)) if engine is None else 1)
    )
    if pool > 1 and len(inputs.files) > 1:
        models.preload()  # once here, not once in each forked worker
    outcomes = run_episode_tasks(
        inputs.files,
        _one,
        (cfg, plots),
        engine=engine,
        workers=workers,
        manifest=manifest,
        command="validate",
        params={"config": cfg.to_dict(), "plots": plots},
        progress=progress,
        unit="file",
    )
    for o, p in zip(outcomes, inputs.files):
        if o.ok:
            run.episodes.append(EpisodeReport.from_dict(o.value))
        else:
            run.problems.append(f"{p}: {o.error}")
    by_folder: dict[Path, dict[str, int | None]] = {}
    for r in run.episodes:
        by_folder.setdefault(Path(r.path).parent.resolve(), {})[r.path] = r.metrics.get("episode_number")
    for folder in inputs.folders:
        if not by_folder.get(folder.resolve()):
            continue  # an empty folder is already one of `problems`
        rep = check_numbering(folder, cfg, by_folder.get(folder.resolve(), {}))
        check_calibration_drift(
            rep, cfg, [r for r in run.episodes if Path(r.path).parent.resolve() == folder.resolve()]
        )
        run.folders.append(rep)
    return run

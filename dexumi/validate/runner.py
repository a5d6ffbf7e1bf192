"""Validating many files in parallel (processes) with a progress bar, plus folder numbering."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

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
        return bool(self.problems) or not self.episodes or \
            any(r.failed(warn_as_error) for r in self.episodes + self.folders)


def _one(args: tuple[str, ValidateConfig, str | None]) -> dict:
    path, cfg, plots = args
    return validate_file(path, cfg, plots).to_dict()


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def validate_paths(paths: list[str | Path], cfg: ValidateConfig | None = None, plots_dir: str | Path | None = None,
                   workers: int | None = None, progress: bool = True) -> ValidationRun:
    """Validate files and folders; reports come back in input order."""
    cfg = cfg or ValidateConfig()
    inputs = expand(paths)
    run = ValidationRun(problems=list(inputs.problems))
    jobs = [(str(p), cfg, None if plots_dir is None else str(plots_dir)) for p in inputs.files]
    workers = default_workers() if workers is None else max(1, workers)
    bar = tqdm(total=len(jobs), desc="validate", unit="file", disable=not progress or not jobs, leave=False)
    try:
        if workers == 1 or len(jobs) <= 1:
            dicts = []
            for j in jobs:
                dicts.append(_one(j))
                bar.update(1)
        else:
            with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=mp.get_context("fork")) as ex:
                dicts = []
                for d in ex.map(_one, jobs):
                    dicts.append(d)
                    bar.update(1)
    finally:
        bar.close()
    run.episodes = [EpisodeReport.from_dict(d) for d in dicts]
    by_folder: dict[Path, dict[str, int | None]] = {}
    for r in run.episodes:
        by_folder.setdefault(Path(r.path).parent.resolve(), {})[r.path] = r.metrics.get("episode_number")
    for folder in inputs.folders:
        if not by_folder.get(folder.resolve()):
            continue  # an empty folder is already one of `problems`
        rep = check_numbering(folder, cfg, by_folder.get(folder.resolve(), {}))
        check_calibration_drift(rep, cfg, [r for r in run.episodes if Path(r.path).parent.resolve() == folder.resolve()])
        run.folders.append(rep)
    return run

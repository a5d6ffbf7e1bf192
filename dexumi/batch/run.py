"""`run_tasks`: skip what the manifest has, run the rest on an engine with a progress bar, record each finished
task, return the outcomes in input order. `run_episode_tasks`: the one call a per-episode command makes (one task
per episode file, the engine and the manifest opened and closed around it)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from dexumi.batch.engine import Engine, LocalEngine
from dexumi.batch.manifest import Manifest
from dexumi.batch.task import Outcome, Task
from dexumi.errors import DexumiError

log = logging.getLogger(__name__)


def run_tasks(
    tasks: Sequence[Task],
    engine: Engine | None = None,
    desc: str = "batch",
    progress: bool = False,
    manifest: Manifest | None = None,
    unit: str = "episode",
) -> list[Outcome]:
    """Every task's outcome, in the order of `tasks`. With a manifest, tasks it records as finished (same key,
    same content hash) are not run again; every task that finishes now is recorded before the next one."""
    keys = [t.key for t in tasks]
    if len(set(keys)) != len(keys):
        raise DexumiError("batch: task keys must be unique")
    own = engine is None
    engine = engine or LocalEngine()
    out: dict[str, Outcome] = {}
    todo: list[Task] = []
    for t in tasks:
        e = manifest.lookup(t.key, t.source) if manifest is not None else None
        if e is not None:
            out[t.key] = Outcome(
                t.key, bool(e.get("ok")), e.get("value"), e.get("error", ""), 0, True, 0.0, e.get("fingerprint") or {}
            )
        else:
            todo.append(t)
    if out:
        log.info(
            "%s: %d of %d task(s) already done (manifest %s)",
            desc,
            len(out),
            len(tasks),
            manifest.path if manifest else "",
        )
    bar = tqdm(total=len(tasks), initial=len(out), desc=desc, unit=unit, disable=not progress or not tasks, leave=False)
    try:
        for o in engine.run(todo):
            out[o.key] = o
            if manifest is not None:
                manifest.record(o.key, o.fingerprint, o.value, o.ok, o.error)
            if o.attempts > 1:
                log.warning("%s: %s ran %d times (a worker died)", desc, o.key, o.attempts)
            bar.update(1)
    finally:
        bar.close()
        if own:
            engine.close()
    return [out[k] for k in keys]


def run_episode_tasks(
    paths: Sequence[str | Path],
    fn: Callable[..., Any],
    args: tuple = (),
    *,
    engine: Engine | None = None,
    workers: int | None = None,
    manifest: str | Path | None = None,
    command: str = "batch",
    params: Any = None,
    progress: bool = False,
    unit: str = "episode",
) -> list[Outcome]:
    """`fn(str(path), *args)` for every episode, one task each (keyed by its resolved path; its content is hashed
    for the manifest), on `engine` (default: a local pool of `workers`, closed here). With `manifest`, a resume
    manifest of `command` and `params` at that path. Outcomes come back in the order of `paths`."""
    tasks = [Task(str(Path(p).resolve()), fn, (str(p), *args), source=str(p)) for p in paths]
    own = engine is None
    eng = engine if engine is not None else LocalEngine(workers)
    man: Manifest | None = None
    try:
        man = Manifest(manifest, command, params) if manifest else None
        return run_tasks(tasks, eng, command, progress, man, unit)
    finally:
        if man is not None:
            man.close()
        if own:
            eng.close()

"""One batch layer for every per-episode command: tasks, engines (local process pool, Ray), a resume manifest.

Plugging a command in is one call (see docs/scale.md):

    from dexumi.batch import run_episode_tasks
    outcomes = run_episode_tasks(paths, my_fn, (opts,), engine=engine, manifest=manifest_path,
                                 command="pose", params={"opts": ...})

`my_fn(path, opts)` is a module-level function (workers import it by name); `outcomes` come back in input order.
Work that is not one task per episode file builds its own `Task`s for `run_tasks`.
"""

from dexumi.batch.engine import Engine, LocalEngine, engine_from_args, make_engine
from dexumi.batch.manifest import Manifest
from dexumi.batch.run import run_episode_tasks, run_tasks
from dexumi.batch.task import Outcome, Task

__all__ = [
    "Engine",
    "LocalEngine",
    "Manifest",
    "Outcome",
    "Task",
    "engine_from_args",
    "make_engine",
    "run_episode_tasks",
    "run_tasks",
]

"""One batch layer for every per-episode command: tasks, engines (local process pool, Ray), a resume manifest.

Plugging a command in is one call (see docs/scale.md):

    from dexumi.batch import Task, run_tasks
    outcomes = run_tasks([Task(str(p), my_fn, (str(p), opts), source=str(p)) for p in paths], engine,
                         desc="pose", manifest=manifest)

`my_fn` is a module-level function (workers import it by name); `outcomes` come back in input order.
"""

from dexumi.batch.engine import Engine, LocalEngine, engine_from_args, make_engine
from dexumi.batch.manifest import Manifest
from dexumi.batch.run import run_tasks
from dexumi.batch.task import Outcome, Task

__all__ = ["Engine", "LocalEngine", "Manifest", "Outcome", "Task", "engine_from_args", "make_engine", "run_tasks"]

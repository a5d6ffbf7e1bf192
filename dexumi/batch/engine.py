"""Engines that run batch tasks: `LocalEngine` (a process pool on this machine, the default) and `RayEngine`
(a Ray cluster: `--engine ray [--address ADDR]`). Both yield outcomes as tasks finish; a worker that dies
mid-task has its task run again (on another worker where there is one)."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from dexumi.batch.task import Outcome, Task, execute
from dexumi.errors import DexumiError

log = logging.getLogger(__name__)

ENGINES = ("local", "ray")  # the `--engine` choices

__all__ = ["ENGINES", "Engine", "LocalEngine", "RayEngine", "default_workers", "engine_from_args", "make_engine"]
MAX_RETRIES = 3  # runs of a task after its worker died (not after an exception inside the task)


class Engine(Protocol):
    name: str

    @property
    def workers(self) -> int: ...

    def run(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        """Outcomes in completion order."""
        ...

    def close(self) -> None: ...


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def _outcome(task: Task, d: dict, attempts: int) -> Outcome:
    return Outcome(
        task.key,
        bool(d["ok"]),
        d.get("value"),
        d.get("error", ""),
        attempts,
        False,
        float(d.get("seconds", 0.0)),
        d.get("fingerprint") or {},
    )


FORK_HAZARDS = ("pyarrow", "av")  # thread pools that hang a forked child if forked while busy (Arrow documents it)
PRELOAD = [
    "dexumi.batch.task",
    "dexumi.batch.manifest",
    "dexumi.episode.derived",
    "dexumi.validate.episode",
    "dexumi.validate.rank",
    "dexumi.export.sharded",
    "dexumi.export.lerobot",
    "dexumi.export.act",
]


def _context() -> mp.context.BaseContext:
    """fork (today's pool: workers start at once with everything imported) unless this process has loaded a
    library whose native thread pool may hold a lock at fork time (pyarrow, PyAV: an export ran here before);
    then forkserver: workers fork from a clean server that preloads the batch modules. (forkserver, like spawn,
    imports the main script in each worker: scripts that use it need `if __name__ == "__main__":`.)"""
    import sys

    if not any(m in sys.modules for m in FORK_HAZARDS):
        return mp.get_context("fork")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


class LocalEngine:
    """Today's process pool (up to 2 workers); one worker runs the tasks in this process."""

    name = "local"

    def __init__(self, workers: int | None = None, retries: int = MAX_RETRIES) -> None:
        self._workers = default_workers() if workers is None else max(1, int(workers))
        self.retries = retries
        self._ex: ProcessPoolExecutor | None = None

    @property
    def workers(self) -> int:
        return self._workers

    def _pool(self) -> ProcessPoolExecutor:
        if self._ex is None:
            self._ex = ProcessPoolExecutor(max_workers=self._workers, mp_context=_context())
        return self._ex

    def run(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        """The pool lives until close(): a second job on this engine finds its workers started and warm."""
        if self._workers == 1 or len(tasks) <= 1:
            for t in tasks:
                yield _outcome(t, execute(t.fn, t.args, t.source), 1)
            return
        todo = list(tasks)
        attempts = {t.key: 0 for t in tasks}
        while todo:
            for t in todo:
                attempts[t.key] += 1
            broken: list[Task] = []
            ex = self._pool()
            futs: dict[Future, Task] = {ex.submit(execute, t.fn, t.args, t.source): t for t in todo}
            pending = set(futs)
            try:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for f in done:
                        t = futs[f]
                        try:
                            d = f.result()
                        except BrokenProcessPool:
                            broken.append(t)
                            continue
                        yield _outcome(t, d, attempts[t.key])
            except BaseException:
                self.close()  # an interrupted job: its queued tasks must not run on
                raise
            if broken:
                self.close()  # a dead worker breaks the whole pool: a new one runs what did not finish
                for t in broken:
                    if attempts[t.key] > self.retries:
                        raise DexumiError(f"{t.key}: its worker process died {attempts[t.key]} times; giving up")
                log.warning("a worker process died; running %d unfinished task(s) again", len(broken))
            todo = broken

    def close(self) -> None:
        if self._ex is not None:
            self._ex.shutdown(wait=True, cancel_futures=True)
            self._ex = None


class RayEngine:
    """Tasks on a Ray cluster (`address`: "auto", "HOST:PORT" or "ray://HOST:10001"); without an address a
    private single-machine cluster of `workers` CPUs is started for the job. Each task takes one CPU; Ray runs a
    task again when its worker process or node dies (`max_retries`)."""

    name = "ray"

    def __init__(self, address: str | None = None, workers: int | None = None, retries: int = MAX_RETRIES) -> None:
        try:
            import ray
        except ImportError:
            raise DexumiError("--engine ray needs Ray: pip install 'dexumi[scale]'") from None
        self.ray = ray
        self.retries = retries
        self._own = not ray.is_initialized()
        if self._own:
            kw: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False, "configure_logging": False}
            if address:
                kw["address"] = address
            else:
                kw["num_cpus"] = default_workers() if workers is None else max(1, int(workers))
            try:
                ray.init(**kw)
            except Exception as exc:  # noqa: BLE001 - ConnectionError, RuntimeError, ValueError in Ray's versions
                where = f" at {address}" if address else ""
                raise DexumiError(
                    f"--engine ray: cannot reach a Ray cluster{where}: "
                    f"{str(exc).strip().splitlines()[0][:160] if str(exc).strip() else exc}"
                ) from None
        self._remote = ray.remote(execute).options(num_cpus=1, max_retries=retries, retry_exceptions=False)
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._workers = cpus if workers is None else max(1, min(cpus, int(workers)))

    @property
    def workers(self) -> int:
        return self._workers

    def run(self, tasks: Sequence[Task]) -> Iterator[Outcome]:
        """At most `workers` tasks in flight (the cluster's CPUs by default): a job shares a cluster politely and
        never floods its object store."""
        ray = self.ray
        queue = list(reversed(tasks))
        refs: dict[Any, Task] = {}

        def submit() -> None:
            t = queue.pop()
            refs[self._remote.remote(t.fn, t.args, t.source)] = t

        while queue and len(refs) < self._workers:
            submit()
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1, timeout=None)
            for ref in done:
                t = refs.pop(ref)
                try:
                    d = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:  # e.g. a full disk raised inside the task
                    cause = exc.cause if getattr(exc, "cause", None) is not None else exc
                    raise DexumiError(f"{t.key}: {str(cause).strip().splitlines()[0][:200]}") from None
                except (
                    ray.exceptions.WorkerCrashedError,
                    ray.exceptions.NodeDiedError,
                    ray.exceptions.ObjectLostError,
                ) as exc:
                    raise DexumiError(
                        f"{t.key}: workers died {self.retries + 1} times running it ({type(exc).__name__}); giving up"
                    ) from None
                if queue:
                    submit()
                yield _outcome(t, d, 1)

    def close(self) -> None:
        if self._own and self.ray.is_initialized():
            self.ray.shutdown()


def make_engine(name: str | None = "local", address: str | None = None, workers: int | None = None) -> Engine:
    name = name or "local"
    if name not in ENGINES:
        raise DexumiError(f"--engine {name!r}: engines are {', '.join(ENGINES)}")
    if name == "local":
        if address:
            raise DexumiError("--address is for --engine ray")
        return LocalEngine(workers)
    return RayEngine(address, workers)


def engine_from_args(args: Any, workers: int | None = None) -> Engine:
    return make_engine(getattr(args, "engine", None), getattr(args, "address", None), workers)

"""A unit of batch work (one episode, or one block of a long one) and what came of it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dexumi.errors import DexumiError, is_disk_full


@dataclass(frozen=True)
class Task:
    """`fn(*args)` for the input `source` (an episode path, hashed for the resume manifest); `key` is unique
    within the job. `fn` must be a module-level function: workers on other machines import it by name."""

    key: str
    fn: Callable[..., Any]
    args: tuple = ()
    source: str | None = None


@dataclass
class Outcome:
    """The value of a task (ok) or its error line; `attempts` > 1 when a worker died and it ran again."""

    key: str
    ok: bool
    value: Any = None
    error: str = ""
    attempts: int = 1
    cached: bool = False  # taken from the manifest of an earlier run, not computed
    seconds: float = 0.0
    fingerprint: dict = field(default_factory=dict)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    if isinstance(exc, DexumiError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def execute(fn: Callable[..., Any], args: tuple, source: str | None) -> dict:
    """What a worker runs: the input's fingerprint first (so the manifest hashes what was processed), then the
    work. An exception becomes an error line (the job goes on); a full disk is raised to stop the job."""
    from dexumi.batch.manifest import content_hash

    t0 = time.perf_counter()
    fp = content_hash(source) if source else {}
    try:
        value = fn(*args)
    except Exception as exc:
        if is_disk_full(exc):
            raise
        return {"ok": False, "error": one_line(exc), "fingerprint": fp, "seconds": time.perf_counter() - t0}
    return {"ok": True, "value": value, "fingerprint": fp, "seconds": time.perf_counter() - t0}

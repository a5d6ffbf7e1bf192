"""Pacing the day: a task list with target counts and progress, the reset timer between episodes.

A task list file (YAML, read with `yaml.safe_load`):

    stack cups: 50
    pour water: 30
    open drawer: 20

or a list `[{task: stack cups, target: 50}, ...]`. Progress counts the folder's kept episodes (finished or
recovered, not discarded) per task.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from dexumi.errors import DexumiError


@dataclass
class TaskTarget:
    task: str
    target: int
    done: int = 0

    @property
    def complete(self) -> bool:
        return self.target > 0 and self.done >= self.target


def load_tasks(path: Path) -> list[TaskTarget]:
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise DexumiError(f"{path}: cannot read the task list: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise DexumiError(f"{path}: not a valid task list: {str(exc).splitlines()[0]}") from None
    items = (
        doc.items()
        if isinstance(doc, dict)
        else [(d.get("task"), d.get("target", 0)) for d in doc]
        if isinstance(doc, list) and all(isinstance(d, dict) for d in doc)
        else None
    )
    if items is None:
        raise DexumiError(f"{path}: a task list maps task names to target counts (e.g. 'stack cups: 50')")
    out = []
    for name, target in items:
        if not isinstance(name, str) or not name.strip():
            raise DexumiError(f"{path}: a task needs a name")
        try:
            t = int(target or 0)
        except (TypeError, ValueError):
            raise DexumiError(f"{path}: target of {name!r} must be a whole number, not {target!r}") from None
        if t < 0:
            raise DexumiError(f"{path}: target of {name!r} must not be negative")
        out.append(TaskTarget(name.strip(), t))
    return out


def count_done(tasks: list[TaskTarget], entries) -> None:
    """Set each task's `done` from a folder listing (dexumi.episode.listing entries)."""
    kept: dict[str, int] = {}
    for e in entries:
        if e.status in ("final", "recovered"):
            kept[e.task.strip()] = kept.get(e.task.strip(), 0) + 1
    for t in tasks:
        t.done = kept.get(t.task, 0)


def next_open(tasks: list[TaskTarget], current: str) -> TaskTarget | None:
    """The task to record now: `current` while not complete, else the next incomplete one after it."""
    names = [t.task for t in tasks]
    start = names.index(current) if current in names else 0
    for t in tasks[start:] + tasks[:start]:
        if not t.complete:
            return t
    return None


def format_clock(seconds: float) -> str:
    s = max(0, int(round(seconds)))
    return f"{s // 60}:{s % 60:02d}"

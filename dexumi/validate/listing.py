"""The validation column of a day's folder listing, cached in the folder.

Results are kept in `.dexumi-validation.json`, keyed by file name, size and modification time, so listing 300
episodes again validates only the new or edited ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dexumi.episode.listing import EpisodeEntry, list_folder
from dexumi.safe_output import write_atomic
from dexumi.validate.runner import validate_paths
from dexumi.vocab import CheckLevel

CACHE = ".dexumi-validation.json"


def _key(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def _load_cache(folder: Path) -> dict[str, Any]:
    try:
        d = json.loads((folder / CACHE).read_text())
        return d if isinstance(d, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_cache(folder: Path, cache: dict[str, Any]) -> None:
    try:
        write_atomic(folder / CACHE, json.dumps(cache))
    except OSError:  # a read-only folder: validate again next time
        pass


def validate_entries(
    folder: Path, entries: list[EpisodeEntry], progress: bool = False, cached_only: bool = False
) -> None:
    """Fill `validation` for finished and recovered episodes, from the cache or by validating (not with
    `cached_only`: a GUI lists at once and validates elsewhere)."""
    cache = _load_cache(folder)
    todo = []
    for e in entries:
        if e.status not in ("final", "recovered") or e.error:
            continue
        p = Path(e.path)
        hit = cache.get(p.name)
        if hit and hit.get("key") == _key(p):
            e.validation, e.validation_message = hit["level"], hit.get("message", "")
        else:
            todo.append(e)
    if not todo or cached_only:
        return
    run = validate_paths([e.path for e in todo], progress=progress)
    for e, r in zip(todo, run.episodes):
        bad = sorted(
            (c for c in r.checks if c.level in (CheckLevel.WARN, CheckLevel.ERROR)),
            key=lambda c: c.level != CheckLevel.ERROR,
        )
        e.validation = r.level
        e.validation_message = f"{bad[0].check}: {bad[0].message}" if bad else ""
        cache[Path(e.path).name] = {"key": _key(Path(e.path)), "level": e.validation, "message": e.validation_message}
    _save_cache(folder, cache)


def list_validated(folder: str | Path, progress: bool = False, cached_only: bool = False) -> list[EpisodeEntry]:
    """`list_folder` with the validation column filled (`cached_only`: results already cached, no validating)."""
    rows = list_folder(folder)
    validate_entries(Path(folder), rows, progress=progress, cached_only=cached_only)
    return rows

"""Derived streams stored beside an episode, never inside it.

An offline computation over a recorded episode (an offline pose trajectory, rendered visual-bridge frames)
writes `<folder>/<stem>.derived/<kind>.h5`, e.g. `day/episode_0007.derived/pose-board.h5`. The raw episode
is never opened for writing. Folder commands (`ls`, `validate DIR`, `export DIR`) only look at files at the
top of a folder, so derived folders are never taken for episodes.

Every derived file records which episode it was computed from (a content fingerprint: the episode's
creation time, number, size and hashes of its first and last MiB), so a derived file whose episode was
edited or replaced since is reported as stale instead of being silently paired with other data.

Root attributes: `format` = "dexumi-derived", `kind`, `source` (JSON fingerprint), `software_version`,
`created_utc`, plus whatever the producer adds. Publishing goes through `dexumi.safe_output.write_output`:
atomic, never over a file the command did not write, `force` to replace its own previous output.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import h5py

from dexumi.episode import schema as S
from dexumi.episode.h5open import open_readonly
from dexumi.episode.layout import utc_now
from dexumi.errors import DexumiError
from dexumi.safe_output import write_output

FORMAT = "dexumi-derived"
DIR_SUFFIX = ".derived"
KIND_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_EDGE = 1 << 20


def _check_kind(kind: str) -> str:
    if not KIND_RE.match(kind):
        raise DexumiError(f"derived kind {kind!r}: use lower-case letters, digits, '-' and '_'")
    return kind


def derived_dir(episode: str | Path) -> Path:
    """`day/episode_0007.h5` → `day/episode_0007.derived/`."""
    p = Path(episode)
    stem = p.name[: -len(S.SUFFIX)] if p.name.endswith(S.SUFFIX) else p.stem
    return p.with_name(stem + DIR_SUFFIX)


def derived_path(episode: str | Path, kind: str) -> Path:
    return derived_dir(episode) / f"{_check_kind(kind)}.h5"


def edges_sha256(path: str | Path, size: int) -> str:
    """SHA-256 of a file's first and last MiB (the cheap part of a content fingerprint)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        h.update(fh.read(_EDGE))
        if size > _EDGE:
            fh.seek(max(_EDGE, size - _EDGE))
            h.update(fh.read(_EDGE))
    return h.hexdigest()


def fingerprint(episode: str | Path) -> dict[str, Any]:
    """What identifies an episode's content cheaply (independent of copies' modification times)."""
    p = Path(episode)
    f, _ = open_readonly(p)
    with f:
        created = str(f.attrs.get(S.A_CREATED, ""))
        number = int(f.attrs.get(S.A_NUMBER, -1))
    size = p.stat().st_size
    return {
        "name": p.name,
        "created_utc": created,
        "episode_number": number,
        "size": size,
        "edges_sha256": edges_sha256(p, size),
    }


def _same_source(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("created_utc", "episode_number", "size", "edges_sha256")
    return all(a.get(k) == b.get(k) for k in keys)


def write_derived(
    episode: str | Path,
    kind: str,
    write: Callable[[h5py.File], None],
    force: bool = False,
    attrs: dict[str, Any] | None = None,
) -> Path:
    """Compute-and-publish `kind` for `episode`: `write(f)` fills an open, new HDF5 file."""
    from dexumi import __version__

    out = derived_path(episode, kind)
    source = fingerprint(episode)
    try:
        out.parent.mkdir(exist_ok=True)
    except OSError as exc:
        raise DexumiError(f"cannot create {out.parent}: {exc.strerror or exc}") from None

    def _write(tmp: Path) -> None:
        with h5py.File(tmp, "w", libver=S.LIBVER) as f:
            f.attrs["format"] = FORMAT
            f.attrs["kind"] = kind
            f.attrs["source"] = json.dumps(source)
            f.attrs["software_version"] = __version__
            f.attrs["created_utc"] = utc_now()
            for key, value in (attrs or {}).items():
                f.attrs[key] = value
            write(f)

    return write_output(out, _write, tag=f"derived-{kind}", force=force, inputs=(episode,))


def list_derived(episode: str | Path) -> list[str]:
    """The kinds stored beside `episode` (sorted; hidden staging files skipped)."""
    d = derived_dir(episode)
    if not d.is_dir():
        return []
    return sorted(p.stem for p in d.glob("*.h5") if not p.name.startswith(".") and KIND_RE.match(p.stem))


def is_fresh(episode: str | Path, kind: str) -> bool:
    """True when the derived file exists and was computed from the episode as it is now."""
    p = derived_path(episode, kind)
    if not p.is_file():
        return False
    try:
        f, _ = open_readonly(p)
        with f:
            stored = json.loads(str(f.attrs.get("source", "{}")))
        return isinstance(stored, dict) and _same_source(stored, fingerprint(episode))
    except (DexumiError, OSError, ValueError):
        return False


@contextmanager
def open_derived(episode: str | Path, kind: str, allow_stale: bool = False) -> Iterator[h5py.File]:
    """Open `kind` beside `episode` read-only; one-line DexumiError when missing, foreign or stale."""
    p = derived_path(episode, kind)
    if not p.is_file():
        raise DexumiError(f"{episode}: no derived '{kind}' (expected {p})")
    f, _ = open_readonly(p)
    try:
        if f.attrs.get("format") != FORMAT or f.attrs.get("kind") != kind:
            raise DexumiError(f"{p}: not a dexumi derived '{kind}' file")
        if not allow_stale:
            try:
                stored = json.loads(str(f.attrs.get("source", "{}")))
            except ValueError:
                stored = {}
            if not isinstance(stored, dict) or not _same_source(stored, fingerprint(episode)):
                raise DexumiError(
                    f"{p}: computed from a different version of {Path(episode).name} "
                    "(edited or replaced since); recompute it with --force"
                )
        yield f
    finally:
        f.close()

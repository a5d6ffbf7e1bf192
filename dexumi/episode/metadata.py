"""Editing a finished episode's metadata afterwards: atomic, crash-safe, logged in the file.

An edit never touches the file in place. It copies the episode next to itself (a reflink where the filesystem
can, else a kernel copy), changes the root attributes of the copy, appends the change to the copy's edit log,
fsyncs it and renames it over the original (`os.replace`, atomic on POSIX), then fsyncs the folder. A `kill -9`
at any instant leaves the old file or the new one — never a half-written one; a leftover temporary copy
(`.episode_0007.h5.edit-PID`, hidden, never matched by `*.h5`) is removed by the next edit of that folder.

What can be edited: `task`, `operator`, `notes`, `outcome` and the aligned view's *non-destructive* trim
(`view_trim_s` = [start, end] seconds from the first aligned instant) and split points (`view_splits_s`).
Neither trim nor split removes data: `view_ranges()` turns them into index ranges of the aligned view, which
readers and exporters apply. Discarding (`.h5` → `.h5.discarded`) and undiscarding are renames, logged too.

The edit log is the root attribute `edit_log`: JSON, a list of {"utc", "user", "host", "changes":
{key: [old, new]}}.
"""

from __future__ import annotations

import errno
import fcntl
import getpass
import json
import logging
import os
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from dexumi.episode import schema as S
from dexumi.episode.layout import utc_now
from dexumi.errors import DexumiError
from dexumi.safe_output import fsync_path, rename_no_clobber
from dexumi.vocab import EpisodeState

log = logging.getLogger(__name__)

A_EDIT_LOG = "edit_log"
A_TRIM = "view_trim_s"  # float64 (2,): [start, end] seconds from timestamps[0]; end < 0 or nan: to the end
A_SPLITS = "view_splits_s"  # float64 (K,): split points, seconds from timestamps[0]
A_FLAGS = "flags"  # str: what the recorder flagged (e.g. "gap 2.1 s"); empty: nothing
TEXT_KEYS = (S.A_TASK, S.A_OPERATOR, S.A_NOTES, S.A_OUTCOME, A_FLAGS)
TMP_PREFIX = "."
TMP_MARK = ".edit-"
FICLONE = 0x40049409  # linux/fs.h: share the source's extents (btrfs, xfs, ...)


@dataclass
class EditResult:
    path: Path
    changes: dict[str, list[Any]] = field(default_factory=dict)  # key: [old, new]


def _who() -> str:
    for get in (lambda: os.environ.get("DEXUMI_USER", ""), getpass.getuser):
        try:
            v = get()
        except Exception:  # noqa: BLE001 - no user name (containers): fall back
            v = ""
        if v:
            return v
    return str(os.getuid())


def _plain(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        return [None if not np.isfinite(x) else float(x) for x in v.astype(float).ravel()]
    if isinstance(v, np.generic):
        return v.item()
    return v


def read_log(f: h5py.File) -> list[dict[str, Any]]:
    raw = _plain(f.attrs.get(A_EDIT_LOG, ""))
    if not raw:
        return []
    try:
        out = json.loads(raw)
    except (TypeError, ValueError):
        return []
    return out if isinstance(out, list) else []


def edit_log(path: str | Path) -> list[dict[str, Any]]:
    """The edit log of an episode file (oldest first)."""
    from dexumi.episode.h5open import open_h5

    with open_h5(path) as f:
        return read_log(f)


def _check(changes: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in changes.items():
        if v is None:
            continue
        if k in TEXT_KEYS:
            v = str(v)
            if k == S.A_OUTCOME and v not in S.OUTCOMES:
                raise DexumiError(f"outcome must be one of {', '.join(S.OUTCOMES)}, not {v!r}")
            if len(v) > 10000:
                raise DexumiError(f"{k} is too long ({len(v)} characters, at most 10000)")
            out[k] = v
        elif k == A_TRIM:
            a = np.asarray(v, float).ravel()
            if (
                a.shape != (2,)
                or not np.isfinite(a[0])
                or a[0] < 0
                or (np.isfinite(a[1]) and a[1] >= 0 and a[1] <= a[0])
            ):
                raise DexumiError(f"trim needs 0 <= start < end seconds, not {list(a)}")
            out[k] = a
        elif k == A_SPLITS:
            a = np.asarray(sorted(float(x) for x in v), float)
            if len(a) and (not np.all(np.isfinite(a)) or a[0] <= 0 or np.any(np.diff(a) <= 0)):
                raise DexumiError(f"split points must be distinct positive seconds, not {list(a)}")
            out[k] = a
        else:
            raise DexumiError(f"cannot edit {k!r}: editable are {', '.join(TEXT_KEYS + (A_TRIM, A_SPLITS))}")
    return out


def _clone(src: Path, dst: Path) -> None:
    """dst = a copy of src: reflink if possible, else copy_file_range/sendfile (shutil)."""
    with open(src, "rb") as fi, open(dst, "xb") as fo:
        try:
            fcntl.ioctl(fo.fileno(), FICLONE, fi.fileno())
            return
        except OSError:
            pass
    shutil.copyfile(src, dst)


_fsync = fsync_path


def _tmp_name(path: Path) -> Path:
    return path.with_name(f"{TMP_PREFIX}{path.name}{TMP_MARK}{os.getpid()}")


def clean_stale(folder: str | Path) -> list[Path]:
    """Remove temporary copies left by edits that were killed (their process no longer exists)."""
    removed = []
    for p in Path(folder).glob(f"{TMP_PREFIX}episode_*{TMP_MARK}*"):
        try:
            pid = int(p.name.rsplit(TMP_MARK, 1)[1])
        except ValueError:
            continue
        if pid != os.getpid():
            try:
                os.kill(pid, 0)
                continue  # another edit is running
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
        p.unlink(missing_ok=True)
        removed.append(p)
    return removed


LOCK_NAME = ".dexumi-edit.lock"


class _Lock:
    """An exclusive advisory lock on the folder's edits (one editor at a time; the others wait)."""

    def __init__(self, path: Path) -> None:
        try:
            self.fd = os.open(path.parent / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:  # a read-only folder: the edit itself will say why it cannot write
            self.fd = os.open(path, os.O_RDONLY)

    def __enter__(self) -> _Lock:
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _apply(f: h5py.File, changes: dict[str, Any], action: str = "") -> dict[str, list[Any]]:
    diff: dict[str, list[Any]] = {}
    for k, v in changes.items():
        old = _plain(f.attrs.get(k)) if k in f.attrs else None
        new = _plain(v)
        if old == new:
            continue
        diff[k] = [old, new]
        if k in f.attrs:
            del f.attrs[k]
        f.attrs[k] = v
    if diff or action:
        entry = {"utc": utc_now(), "user": _who(), "host": socket.gethostname(), "changes": diff}
        if action:
            entry["action"] = action
        entries = read_log(f) + [entry]
        if A_EDIT_LOG in f.attrs:
            del f.attrs[A_EDIT_LOG]
        f.attrs[A_EDIT_LOG] = json.dumps(entries)
    return diff


def edit_file(path: str | Path, changes: dict[str, Any], action: str = "") -> EditResult:
    """Change root attributes of a finished (or discarded) episode atomically; returns what changed."""
    p = Path(path)
    if not p.is_file():
        raise DexumiError(f"{p}: no such episode file")
    if p.name.endswith((S.PARTIAL, S.RECOVERING)):
        raise DexumiError(f"{p}: an unfinished episode; run `dexumi recover` first")
    checked = _check(changes)
    clean_stale(p.parent)
    with _Lock(p):
        tmp = _tmp_name(p)
        tmp.unlink(missing_ok=True)
        try:
            _clone(p, tmp)
            try:
                f = h5py.File(tmp, "r+")
            except OSError as exc:
                raise DexumiError(f"{p}: cannot open as HDF5 ({str(exc).splitlines()[0][:120]})") from None
            with f:
                from dexumi.episode.h5open import check_version

                check_version(f, p)
                diff = _apply(f, checked, action)
            if not diff and not action:
                tmp.unlink()
                return EditResult(p, {})
            _fsync(tmp)
            os.replace(tmp, p)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            if exc.errno == errno.ENOSPC:
                raise DexumiError(f"{p}: no space left to write the edited copy (the file is unchanged)") from None
            raise DexumiError(f"{p}: edit failed, the file is unchanged: {exc}") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    _fsync(p.parent)
    log.info("edited %s: %s", p, diff)
    return EditResult(p, diff)


def _rename_no_clobber(src: Path, dst: Path) -> None:
    rename_no_clobber(src, dst)
    _fsync(dst.parent)


def discard(path: str | Path, record: bool = True) -> Path:
    """episode_0007.h5 → episode_0007.h5.discarded (logged in the file); returns the new path.

    The one discard: `dexumi edit --discard`, the recorder's Del key and the session's discard of a running
    episode (`record=False`: not logged, which also allows an unfinished `.h5.partial`). The number stays taken."""
    p = Path(path)
    n = S.episode_number(p)
    unfinished = not record and p.name.endswith(S.PARTIAL)
    if n is None or not (p.name.endswith(S.SUFFIX) or unfinished):
        raise DexumiError(f"{p}: only a finished episode (episode_NNNN.h5) can be discarded")
    if record:
        edit_file(p, {}, action="discard")
    target = p.with_name(S.episode_name(n) + S.DISCARDED)
    _rename_no_clobber(p, target)
    return target


def undiscard(path: str | Path, record: bool = True) -> Path:
    """episode_0007.h5.discarded → .h5 (a finished file) or .h5.partial (an unfinished one, to recover).

    `record=False` (the recorder's undo, right after its discard): not logged in the file."""
    p = Path(path)
    n = S.episode_number(p)
    if n is None or not p.name.endswith(S.DISCARDED):
        raise DexumiError(f"{p}: not a discarded episode (episode_NNNN.h5.discarded)")
    from dexumi.episode.h5open import open_h5

    with open_h5(p) as f:
        state = _plain(f.attrs.get(S.A_STATE, ""))
    if state in (EpisodeState.FINAL, EpisodeState.RECOVERED):
        if record:
            edit_file(p, {}, action="undiscard")
        target = p.with_name(S.episode_name(n) + S.SUFFIX)
    else:  # a recording discarded while running: back to recoverable
        target = p.with_name(S.episode_name(n) + S.PARTIAL)
    _rename_no_clobber(p, target)
    return target


def find_episode(spec: str | Path) -> Path:
    """An episode file by path, or by `DIR/NUMBER` / `NUMBER` (in the current folder), any state but failed."""
    p = Path(spec)
    if p.exists():
        return p
    folder, name = p.parent, p.name
    if name.isdigit():
        from dexumi.episode.numbering import scan

        files = scan(folder).get(int(name), [])
        for sfx in (S.SUFFIX, S.DISCARDED, S.PARTIAL, S.RECOVERING):
            for f in files:
                if (
                    f.name.endswith(sfx)
                    and S.episode_number(f) == int(name)
                    and f.name == S.episode_name(int(name)) + sfx
                ):
                    return f
        raise DexumiError(f"no episode {int(name)} in {folder}")
    raise DexumiError(f"{p}: no such episode file")


def view_ranges(timestamps: np.ndarray, attrs: dict[str, Any]) -> list[tuple[int, int]]:
    """The aligned view after trim and splits: half-open index ranges [i0, i1) into `timestamps`."""
    t = np.asarray(timestamps, float)
    if len(t) == 0:
        return []
    rel = t - t[0]
    start, end = 0.0, np.inf
    trim = attrs.get(A_TRIM)
    if trim is not None:
        tr = np.asarray(trim, float).ravel()
        if tr.shape == (2,):
            start = float(tr[0])
            end = float(tr[1]) if np.isfinite(tr[1]) and tr[1] >= 0 else np.inf
    cuts = [start] + [float(x) for x in np.asarray(attrs.get(A_SPLITS, []), float).ravel() if start < x < end] + [end]
    out = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        i0 = int(np.searchsorted(rel, a, "left"))
        i1 = int(np.searchsorted(rel, b, "left")) if np.isfinite(b) else len(t)
        if i1 > i0:
            out.append((i0, i1))
    return out

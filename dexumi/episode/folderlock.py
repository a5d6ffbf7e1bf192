"""One writer per episode folder: an exclusive `flock` on `<folder>/.dexumi-lock`, held for a session's life.

A recorder takes it before it recovers leftovers or reserves a number, and keeps it until it closes; a
second recorder on the same folder is refused in one line. `dexumi recover` takes it too (or reuses the one
this process holds), so a `.partial` that a live recorder is writing is never "recovered" under its feet.
The lock dies with the process (kill -9 included): no stale lock to clean up. The file itself stays.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
from pathlib import Path

from dexumi.errors import DexumiError

LOCK_NAME = ".dexumi-lock"
_held: dict[str, int] = {}  # realpath → holders in this process (a session, and recoveries it runs)
_guard = threading.Lock()


class FolderBusy(DexumiError):
    """Another process records into (or recovers) this folder."""


def _key(folder: Path) -> str:
    return os.path.realpath(folder)


def _owner(path: Path) -> str:
    try:
        pid = path.read_text().strip()
        return f" (pid {pid})" if pid.isdigit() else ""
    except OSError:
        return ""


class FolderLock:
    """`acquire()` / `release()`, or a context manager. `exclusive=False` reuses a lock this process holds."""

    def __init__(self, folder: str | Path, exclusive: bool = True) -> None:
        self.folder = Path(folder)
        self.exclusive = exclusive
        self.fd: int | None = None
        self.shared = False

    def acquire(self) -> FolderLock:
        key = _key(self.folder)
        path = self.folder / LOCK_NAME
        with _guard:
            if key in _held:
                if self.exclusive:
                    raise FolderBusy(f"{self.folder} is already being recorded into by this process")
                _held[key] += 1
                self.shared = True
                return self
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise DexumiError(f"cannot create the folder lock {path}: {exc.strerror or exc}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise FolderBusy(
                    f"{self.folder} is in use by another dexumi recorder or recovery{_owner(path)}; "
                    "use another --out folder or stop the other one"
                ) from None
            except OSError as exc:  # a filesystem without flock: one writer is then the user's job
                os.close(fd)
                if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP):
                    raise DexumiError(f"cannot lock {path}: {exc.strerror or exc}") from None
                return self
            try:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
            except OSError:
                pass
            self.fd = fd
            _held[key] = 1
            return self

    def release(self) -> None:
        key = _key(self.folder)
        with _guard:
            if self.shared:
                self.shared = False
                if key in _held:
                    _held[key] -= 1
                return
            if self.fd is None:
                return
            _held.pop(key, None)
            try:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            finally:
                os.close(self.fd)
                self.fd = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

"""The emulator's end of a pseudo-terminal, published under a stable name that survives re-plugs.

A real re-plug gives the device a new /dev/ttyACMn; udev's /dev/serial/by-id link follows it. We do the
same: each plug opens a new pty and atomically re-points one symlink at its slave.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import select
import struct
import termios
import time
import tty
from pathlib import Path

log = logging.getLogger(__name__)


def _ours(path: Path) -> bool:
    """A symlink an emulator made: it points at a pty (live or gone), nothing else."""
    if not path.is_symlink():
        return False
    return os.readlink(path).startswith(("/dev/pts/", "/dev/tty"))


def check_link_path(path: Path) -> None:
    """ValueError unless `path` is free or an earlier emulator's symlink (never replace a real file)."""
    p = Path(path)
    if (p.exists() or p.is_symlink()) and not _ours(p):
        raise ValueError(f"--link {p} exists and is not an emulator's pty link; refusing to replace it")


class PtyLink:
    """A pty whose slave path is published as `link_path`; `unplug`/`plug` emulate the cable."""

    def __init__(self, link_path: Path) -> None:
        self.link_path = Path(link_path)
        self.master: int | None = None
        self._slave: int | None = None
        self.slave_name = ""

    @property
    def plugged(self) -> bool:
        return self.master is not None

    def plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no newline translation: bytes are bytes
        os.set_blocking(master, False)
        self.master, self._slave = master, slave
        self.slave_name = os.ttyname(slave)
        check_link_path(self.link_path)
        tmp = self.link_path.with_name(f".{self.link_path.name}.{os.getpid()}.new")
        if tmp.is_symlink():
            tmp.unlink()
        os.symlink(self.slave_name, tmp)
        os.replace(tmp, self.link_path)
        log.info("plugged: %s -> %s", self.link_path, self.slave_name)

    def unread(self) -> int:
        """Bytes written to the port that the host has not read yet (they die with the cable)."""
        if self._slave is None:
            return 0
        try:
            return int(struct.unpack("i", fcntl.ioctl(self._slave, termios.FIONREAD, b"\0\0\0\0"))[0])
        except OSError:
            return 0

    def unplug(self) -> None:
        """Close our ends (the host's reads fail, as on a pulled cable) and remove the link, as udev does."""
        for fd in (self.master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.master = self._slave = None
        try:
            if self.slave_name and os.readlink(self.link_path) == self.slave_name:  # only our own link
                self.link_path.unlink()
        except OSError:
            pass
        log.info("unplugged %s", self.link_path)

    def read(self) -> bytes:
        """Bytes the host wrote (commands); empty if none or unplugged."""
        if self.master is None:
            return b""
        try:
            return os.read(self.master, 4096)
        except BlockingIOError:
            return b""
        except OSError as exc:
            if exc.errno == errno.EIO:
                return b""
            raise

    def write(self, data: bytes, stall_timeout: float = 0.5) -> int:
        """Write all of `data` unless the host stops reading for `stall_timeout`; returns bytes written."""
        if self.master is None:
            return 0
        view = memoryview(data)
        done = 0
        deadline = time.monotonic() + stall_timeout
        while done < len(data):
            try:
                done += os.write(self.master, view[done:])
                continue
            except BlockingIOError:
                pass
            except OSError as exc:
                if exc.errno == errno.EIO:
                    return done
                raise
            left = deadline - time.monotonic()
            if left <= 0:
                return done
            select.select([], [self.master], [], min(left, 0.05))
        return done

"""The GUI's side of the session process: spawn it, send commands from a worker thread, get answers as signals.

Nothing here blocks the GUI thread: `send()` queues a command; a worker thread writes it and waits for the
answer; `answered(cmd, result, error)` is emitted (queued onto the GUI thread). `died` is emitted when the
process's output ends.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
from typing import Any

from PySide6 import QtCore

from dexumi.errors import DexumiError
from dexumi.session.client import SessionClient

log = logging.getLogger(__name__)


class HostClient(QtCore.QObject):
    answered = QtCore.Signal(str, object, str)  # command, result, error ("" when it worked)
    died = QtCore.Signal(int)

    def __init__(self, parent: QtCore.QObject | None = None, extra_argv: list[str] | None = None) -> None:
        super().__init__(parent)
        self._closing = False
        self.client = SessionClient(
            argv=[sys.executable, "-m", "apps.recorder.session_host", *(extra_argv or [])], on_exit=self._on_exit
        )
        self.proc = self.client.proc
        self._todo: queue.Queue = queue.Queue()
        threading.Thread(target=self._work, name="host-commands", daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _on_exit(self, code: int) -> None:
        if not self._closing:
            self.died.emit(code)

    def _work(self) -> None:
        while True:
            cmd, args = self._todo.get()
            if cmd is None:
                return
            try:
                result, error = self.call(cmd, **args), ""
            except DexumiError as exc:
                result, error = None, str(exc)
            except (BrokenPipeError, OSError) as exc:
                result, error = None, f"the session process is gone: {exc}"
            self.answered.emit(cmd, result, error)

    def send(self, cmd: str, **args: Any) -> None:
        """Queue a command; its answer comes as `answered`."""
        self._todo.put((cmd, args))

    def call(self, cmd: str, timeout: float = 120.0, **args: Any) -> Any:
        """Send and wait (worker thread, tests); DexumiError with the session's one-line error."""
        return self.client.call(cmd, timeout=timeout, **args)

    def close(self, timeout: float = 30.0) -> int:
        """Close the session (a running episode is finalised) and wait for the process."""
        self._closing = True
        self._todo.put((None, None))
        return self.client.close(timeout)

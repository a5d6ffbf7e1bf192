"""The GUI's side of the session process: spawn it, send commands from a worker thread, get answers as signals.

Nothing here blocks the GUI thread: `send()` queues a command; a worker thread writes it and waits for the
answer; `answered(cmd, result, error)` is emitted (queued onto the GUI thread). `died` is emitted when the
process's output ends.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import subprocess
import sys
import threading
from typing import Any

from PySide6 import QtCore

from dexumi.errors import DexumiError

log = logging.getLogger(__name__)


class HostClient(QtCore.QObject):
    answered = QtCore.Signal(str, object, str)  # command, result, error ("" when it worked)
    died = QtCore.Signal(int)

    def __init__(self, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.proc = subprocess.Popen([sys.executable, "-m", "apps.recorder.session_host"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        self._ids = itertools.count(1)
        self._boxes: dict[int, queue.Queue] = {}
        self._todo: queue.Queue = queue.Queue()
        self._closing = False
        threading.Thread(target=self._read, name="host-reader", daemon=True).start()
        threading.Thread(target=self._work, name="host-commands", daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            box = self._boxes.get(msg.get("id")) if isinstance(msg, dict) else None
            if box is not None:
                box.put(msg)
        code = self.proc.wait()
        for box in list(self._boxes.values()):
            box.put({"ok": False, "error": f"the session process ended (exit {code})"})
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
        rid = next(self._ids)
        box: queue.Queue = queue.Queue()
        self._boxes[rid] = box
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps({"id": rid, "cmd": cmd, **args}, default=str) + "\n")
            self.proc.stdin.flush()
            msg = box.get(timeout=timeout)
        except queue.Empty:
            raise DexumiError(f"the session did not answer '{cmd}' within {timeout:g} s") from None
        finally:
            self._boxes.pop(rid, None)
        if not msg.get("ok"):
            raise DexumiError(msg.get("error") or "unknown error")
        return msg.get("result")

    def close(self, timeout: float = 30.0) -> int:
        """Close the session (a running episode is finalised) and wait for the process."""
        self._closing = True
        self._todo.put((None, None))
        if self.proc.poll() is None:
            try:
                self.call("close", timeout=timeout)
            except (DexumiError, BrokenPipeError, OSError, ValueError):
                pass
            try:
                if self.proc.stdin:
                    self.proc.stdin.close()
            except OSError:
                pass
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("session process %d did not exit; terminating it", self.proc.pid)
            self.proc.terminate()
            return self.proc.wait(10)

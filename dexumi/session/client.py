"""Talk to `python -m dexumi.session.server` in a child process (what the recorder GUI uses)."""

from __future__ import annotations

import itertools
import logging
import json
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from dexumi.errors import DexumiError

log = logging.getLogger(__name__)


class SessionClient:
    """`call(cmd, **args)` → result (DexumiError on failure); `latest_status` is the newest status event."""

    def __init__(
        self,
        status_interval_s: float = 0.5,
        argv: list[str] | None = None,
        on_exit: Callable[[int], None] | None = None,
    ) -> None:
        """`argv` runs another server speaking the same protocol (the recorder's host); `on_exit(code)` is
        called when the process's output ends."""
        argv = argv or [sys.executable, "-m", "dexumi.session.server", "--status-interval", str(status_interval_s)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.on_exit = on_exit
        self._ids = itertools.count(1)
        self._answers: dict[int, queue.Queue] = {}
        self.latest_status: dict | None = None
        self.events: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, name="session-client", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "event" in msg:
                if msg["event"] == "status":
                    self.latest_status = msg["status"]
                else:
                    self.events.put(msg)
            elif msg.get("id") in self._answers:
                self._answers[msg["id"]].put(msg)
        code = self.proc.wait()
        for box in list(self._answers.values()):
            box.put({"ok": False, "error": f"the session process ended (exit {code})"})
        if self.on_exit is not None:
            self.on_exit(code)

    def call(self, cmd: str, timeout: float = 60.0, **args: Any) -> Any:
        rid = next(self._ids)
        box: queue.Queue = queue.Queue()
        self._answers[rid] = box
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"id": rid, "cmd": cmd, **args}, default=str) + "\n")
        self.proc.stdin.flush()
        try:
            msg = box.get(timeout=timeout)
        except queue.Empty:
            raise DexumiError(f"the recording session did not answer '{cmd}' within {timeout:g} s") from None
        finally:
            self._answers.pop(rid, None)
        if not msg.get("ok"):
            raise DexumiError(msg.get("error", "unknown error"))
        return msg.get("result")

    def close(self, timeout: float = 30.0) -> int:
        """Close the session (a running episode is finalised) and wait for the process."""
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
        finally:
            if threading.current_thread() is not self._reader:
                self._reader.join(5)  # the process is gone: its output ends, and the reader with it
            if self.proc.stdout and not self._reader.is_alive():
                self.proc.stdout.close()

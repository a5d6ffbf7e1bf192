"""Start the device emulator as its own process, for the `sim` port scheme, `--sim` modes and tests."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from firmware_bridge.errors import BridgeError

log = logging.getLogger(__name__)


def die_with_parent() -> None:
    """In the child: get SIGTERM when the parent dies, even by kill -9 (Linux), so no emulator is orphaned."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


class EmulatorProcess:
    """`python -m firmware_bridge.emulator ARGS` in a new session; `.port` is the path it printed."""

    error: type[BridgeError] = BridgeError  # what a failed start raises (one line)

    def __init__(self, *args: object, truth: Path | None = None, startup_timeout: float = 20.0) -> None:
        argv = [sys.executable, "-m", "firmware_bridge.emulator", *map(str, args)]
        if truth is not None:
            argv += ["--truth", str(truth)]
        self.truth = truth
        self._stderr = tempfile.TemporaryFile(mode="w+t")  # a file, not a pipe: a full pipe would stall it
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        self.port = self._read_port(startup_timeout)

    def _read_port(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline().strip()
            if line or self.proc.poll() is not None:
                break
        if not line or not os.path.exists(line):
            self.stop(close_log=False)
            self._stderr.seek(0)
            err = self._stderr.read()
            self._stderr.close()
            raise self.error(
                f"the simulated device did not start: {err.strip().splitlines()[-1] if err.strip() else line!r}"
            )
        return line

    def stop(self, timeout: float = 5.0, close_log: bool = True) -> int | None:
        """SIGTERM (the emulator flushes its truth log), then SIGKILL if it lingers; closes its stderr file."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        if close_log and not self._stderr.closed:
            self._stderr.close()
        return self.proc.returncode

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

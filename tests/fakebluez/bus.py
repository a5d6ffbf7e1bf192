"""A private D-Bus "system" bus (dbus-daemon) for the fake BlueZ: permissive policy, generous limits."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow send_destination="*"/>
  </policy>
  <limit name="max_incoming_bytes">268435456</limit>
  <limit name="max_outgoing_bytes">268435456</limit>
  <limit name="max_message_size">33554432</limit>
  <limit name="max_replies_per_connection">65536</limit>
  <limit name="max_match_rules_per_connection">4096</limit>
  <limit name="reply_timeout">60000</limit>
</busconfig>
"""


def dbus_daemon_path() -> str | None:
    """The dbus-daemon executable, or None if it is not installed."""
    return shutil.which("dbus-daemon")


class PrivateBus:
    """A dbus-daemon of type "system" listening on a socket in a private directory."""

    def __init__(self) -> None:
        self.address: str = ""
        self._dir: Path | None = None
        self._proc: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 10.0) -> str:
        exe = dbus_daemon_path()
        if exe is None:
            raise FileNotFoundError("dbus-daemon is not installed (apt-get install dbus)")
        self._dir = Path(tempfile.mkdtemp(prefix="fakebluez-bus-"))
        conf = self._dir / "bus.conf"
        conf.write_text(CONFIG.format(socket=self._dir / "system_bus_socket"))
        self._proc = subprocess.Popen(
            [exe, f"--config-file={conf}", "--print-address", "--nofork", "--nopidfile"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if not line:
            err = self._proc.stderr.read() if self._proc.stderr else ""
            self.stop()
            raise RuntimeError(f"dbus-daemon did not start: {err.strip()[-300:]}")
        self.address = line
        log.info("private system bus at %s (pid %d)", self.address, self._proc.pid)
        return self.address

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def stop(self) -> None:
        if self._proc is not None:
            try:
                os.killpg(self._proc.pid, signal.SIGTERM)
                self._proc.wait(5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self._proc.pid, signal.SIGKILL)
                    self._proc.wait(5)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
            for stream in (self._proc.stdout, self._proc.stderr):
                if stream:
                    stream.close()
            self._proc = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> PrivateBus:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

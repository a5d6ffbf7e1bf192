"""Test harness: run the fake BlueZ in a subprocess against a private bus and read its ground truth."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .config import DeviceConfig
from .groundtruth import GroundTruth, read_ground_truth

if TYPE_CHECKING:
    from collections.abc import Callable

    from firmware_bridge.protocol import MsgType
    from firmware_bridge.transports.base import Transport

TESTS_DIR = Path(__file__).resolve().parent.parent
_FLAGS = {
    "name": "--name",
    "address": "--address",
    "rssi": "--rssi",
    "mtu": "--mtu",
    "rate_hz": "--rate",
    "channels": "--channels",
    "width": "--width",
    "batch": "--batch",
    "connection_interval_ms": "--interval-ms",
    "packets_per_event": "--packets",
    "drop_after": "--drop-after",
    "drops": "--drops",
    "reappear_after": "--reappear-after",
    "log_path": "--log",
}


def cli_args(cfg: DeviceConfig) -> list[str]:
    """The launcher's command-line flags for a DeviceConfig (defaults left out)."""
    default = DeviceConfig()
    args: list[str] = []
    for f in fields(DeviceConfig):
        value = getattr(cfg, f.name)
        if value == getattr(default, f.name):
            continue
        if f.name == "advertise_service":
            args.append("--no-service-uuid")
        elif f.name == "autostart":
            args.append("--autostart")
        elif f.name in _FLAGS and value is not None:
            args += [_FLAGS[f.name], str(value)]
    return args


class FakeBlueZProcess:
    """`python -m fakebluez` serving one device on `bus_address`; a context manager."""

    def __init__(self, bus_address: str, cfg: DeviceConfig) -> None:
        self.bus_address = bus_address
        self.cfg = cfg
        self.proc: subprocess.Popen[str] | None = None
        self.ready: dict = {}

    def start(self, timeout: float = 15.0) -> FakeBlueZProcess:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fakebluez", "--bus", self.bus_address, *cli_args(self.cfg)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("{"):
            err = self.stop()
            raise RuntimeError(f"fake BlueZ did not start: {line!r} {err[-500:]}")
        self.ready = json.loads(line)
        return self

    def stop(self) -> str:
        """Terminate (SIGTERM, then SIGKILL); returns its stderr."""
        if self.proc is None:
            return ""
        proc, self.proc = self.proc, None
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate(timeout=5)
        return err or ""

    def truth(self) -> GroundTruth:
        assert self.cfg.log_path, "configure log_path to get a ground truth"
        return read_ground_truth(self.cfg.log_path)

    def wait_for_event(self, event: str, count: int = 1, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.cfg.log_path and Path(self.cfg.log_path).exists() and self.truth().count(event) >= count:
                return True
            time.sleep(0.05)
        return False

    def __enter__(self) -> FakeBlueZProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class HostSession:
    """The host side of a protocol v1 session over any Transport: commands out, decoded frames in."""

    def __init__(self, transport: Transport) -> None:
        from firmware_bridge.decoder import V1Decoder

        self.transport = transport
        self.decoder = V1Decoder()
        self.seq = 100
        self.index: list[np.ndarray] = []
        self.t_us: list[np.ndarray] = []
        self.values: list[np.ndarray] = []
        self.messages: list[object] = []

    def send(self, command: MsgType, **kwargs: object) -> int:
        from firmware_bridge import protocol

        seq = self.seq
        self.seq += 1
        self.transport.write(protocol.command_frame(command, seq, **kwargs))
        return seq

    def pump(self, seconds: float) -> None:
        """Read and decode for `seconds` (TransportLost propagates)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.feed(self.transport.read(1 << 16, min(0.05, left)))

    def drain(self, quiet: float = 0.3, limit: float = 5.0) -> None:
        """Read until nothing arrived for `quiet` seconds."""
        deadline = time.monotonic() + limit
        last = time.monotonic()
        while time.monotonic() - last < quiet and time.monotonic() < deadline:
            data = self.transport.read(1 << 16, 0.05)
            if data:
                self.feed(data)
                last = time.monotonic()

    def feed(self, data: bytes) -> None:
        if not data:
            return
        out = self.decoder.feed(data)
        self.messages += out.messages
        for b in out.blocks:
            self.index.append(b.index)
            self.t_us.append(b.device_time_us)
            self.values.append(b.values)

    def wait_for(self, predicate: Callable[[object], bool], timeout: float = 3.0) -> object | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hit = next((m for m in self.messages if predicate(m)), None)
            if hit is not None:
                return hit
            self.feed(self.transport.read(1 << 16, 0.05))
        return next((m for m in self.messages if predicate(m)), None)

    def samples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(index, device_time_us, values) of everything received."""
        if not self.index:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 0), np.int32)
        return np.concatenate(self.index), np.concatenate(self.t_us), np.concatenate(self.values)

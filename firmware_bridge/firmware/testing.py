"""Helpers for the firmware tests (tests/test_firmware_*.py): build each target once per test process,
run the SIL device and QEMU, read their ports, and the Python twin of the synthetic ADC."""

from __future__ import annotations

import atexit
import functools
import logging
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import serial

from firmware_bridge.decoder import SampleBlock, V1Decoder
from firmware_bridge.firmware import build

log = logging.getLogger(__name__)

QEMU = "qemu-system-arm"
QEMU_PTY = re.compile(r"char device redirected to (/dev/pts/\d+)")


def missing_tools(*tools: str) -> str | None:
    """A skip reason naming the tools that are not on PATH, or None."""
    gone = [t for t in tools if shutil.which(t) is None]
    return (
        f"not on PATH: {', '.join(gone)} (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)"
        if gone
        else None
    )


@functools.cache
def build_dir() -> Path:
    """A private build folder per test process (parallel sessions do not share objects); removed at exit."""
    path = Path(tempfile.mkdtemp(prefix="dexumi-fw-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@functools.cache
def built(target: str) -> Path:
    """Build a target once per process (the session's compile); returns the executable or image."""
    out = build_dir()
    if target == "host_sil":
        return build.build_host_sil(out)
    if target == "vectors":
        return build.build_vectors_test(out)
    if target == "qemu":
        return build.build_qemu(out)
    raise ValueError(target)


def synth_values(index: np.ndarray, channels: int) -> np.ndarray:
    """Python twin of boards/common/dx_synth_adc.c: int32 (n, channels)."""
    n = np.asarray(index, dtype=np.int64)[:, None] & 0xFFFFFFFF
    c = np.arange(channels, dtype=np.int64)[None, :]
    phase = (n * (37 + 13 * c) + 4099 * c) & 0xFFFF
    h = phase & 0x7FFF
    s = (h * (32768 - h)) >> 13
    v = np.where(phase < 32768, s, -s) * (255 - 8 * c) + 1000 * c
    return v.astype(np.int32)


@dataclass
class Capture:
    """Everything read from a device: sample blocks joined, messages in order, the decoder's stats."""

    decoder: V1Decoder = field(default_factory=V1Decoder)
    blocks: list[SampleBlock] = field(default_factory=list)
    messages: list[object] = field(default_factory=list)
    first_sample_host_s: float | None = None
    last_sample_host_s: float | None = None
    samples_after_first_read: int = 0

    def feed(self, data: bytes) -> None:
        out = self.decoder.feed(data)
        now = time.monotonic()
        if out.blocks:
            if self.first_sample_host_s is None:
                self.first_sample_host_s = now
            else:
                self.samples_after_first_read += out.samples
            self.last_sample_host_s = now
        self.blocks.extend(out.blocks)
        self.messages.extend(out.messages)

    @property
    def index(self) -> np.ndarray:
        return np.concatenate([b.index for b in self.blocks]) if self.blocks else np.zeros(0, np.int64)

    @property
    def device_time_us(self) -> np.ndarray:
        return np.concatenate([b.device_time_us for b in self.blocks]) if self.blocks else np.zeros(0, np.int64)

    @property
    def values(self) -> np.ndarray:
        return np.concatenate([b.values for b in self.blocks]) if self.blocks else np.zeros((0, 0), np.int32)

    def host_rate_hz(self) -> float:
        """Samples per second of host time, from the first to the last read that brought samples."""
        if self.first_sample_host_s is None or self.last_sample_host_s is None:
            return 0.0
        span = self.last_sample_host_s - self.first_sample_host_s
        return self.samples_after_first_read / span if span > 0 else 0.0


def read_for(port: serial.Serial, cap: Capture, seconds: float) -> Capture:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        cap.feed(port.read(65536))
    return cap


def read_until(port: serial.Serial, cap: Capture, predicate: Callable[[Capture], bool], timeout: float) -> bool:
    """Read until predicate(cap) holds; False on timeout."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate(cap):
            return True
        cap.feed(port.read(65536))
    return predicate(cap)


@contextmanager
def sil_device(*args: str, seconds: float = 60.0) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Run the host SIL device; yields its pty path and process, stops it afterwards."""
    proc = subprocess.Popen(
        [str(built("host_sil")), "--seconds", str(seconds), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        path = proc.stdout.readline().strip()
        if not path.startswith("/dev/"):
            raise RuntimeError(f"host_sil printed {path!r}, stderr: {proc.stderr.read() if proc.stderr else ''}")
        yield path, proc
    finally:
        _stop(proc)


@contextmanager
def qemu_device(timeout: float = 10.0) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Boot the QEMU board; yields the pty path of its UART0 and the process.

    QEMU 7.2 prints 'char device redirected to /dev/pts/N (label serial0)' on stdout with -nographic
    -monitor none (older notes say stderr): both are read."""
    proc = subprocess.Popen(
        [QEMU, "-M", "mps2-an385", "-nographic", "-monitor", "none", "-serial", "pty", "-kernel", str(built("qemu"))],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        end = time.monotonic() + timeout
        path = None
        while path is None and time.monotonic() < end:
            line = proc.stdout.readline()
            if not line:
                break
            m = QEMU_PTY.search(line)
            path = m.group(1) if m else None
        if path is None:
            raise RuntimeError("QEMU did not report its serial pty")
        yield path, proc
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[str]) -> None:
    """Stop the device process and close its pipes."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()

"""USB-serial transport on pyserial: exclusive open, clear errors, tolerant of pseudo-terminals."""

from __future__ import annotations

import errno
import logging
import os
import select
from dataclasses import dataclass

import serial
from serial.tools import list_ports

from firmware_bridge import legacy
from firmware_bridge.errors import PortBusy, PortNotFound, PortPermission
from firmware_bridge.transports.base import Transport, TransportLost

log = logging.getLogger(__name__)
BY_ID_DIR = "/dev/serial/by-id"


@dataclass(frozen=True)
class SerialPortInfo:
    """One serial port as discovery sees it."""

    device: str
    description: str
    vid: int | None
    pid: int | None
    serial_number: str | None
    manufacturer: str | None
    by_id: str | None

    def summary(self) -> str:
        ids = f"{self.vid:04x}:{self.pid:04x}" if self.vid is not None and self.pid is not None else "----:----"
        parts = [self.device, ids, self.description or "?"]
        if self.serial_number:
            parts.append(f"serial {self.serial_number}")
        if self.by_id:
            parts.append(self.by_id)
        return "  ".join(parts)


def _by_id_links() -> dict[str, str]:
    """Real device path → its stable /dev/serial/by-id name."""
    links: dict[str, str] = {}
    if os.path.isdir(BY_ID_DIR):
        for name in sorted(os.listdir(BY_ID_DIR)):
            path = os.path.join(BY_ID_DIR, name)
            links[os.path.realpath(path)] = path
    return links


def list_serial_ports() -> list[SerialPortInfo]:
    """USB/ACM serial ports with VID/PID and serial number (ptys and legacy ttyS stubs are left out)."""
    links = _by_id_links()
    ports = []
    for p in list_ports.comports():
        if p.vid is None and not p.device.startswith(("/dev/ttyACM", "/dev/ttyUSB")):
            continue
        ports.append(
            SerialPortInfo(
                p.device,
                p.description,
                p.vid,
                p.pid,
                p.serial_number,
                p.manufacturer,
                links.get(os.path.realpath(p.device)),
            )
        )
    return ports


def _available_hint() -> str:
    ports = list_serial_ports()
    if not ports:
        return "no serial ports found (is the board plugged in? `dexumi devices` lists what is there)"
    return "available: " + ", ".join(p.by_id or p.device for p in ports)


class SerialTransport(Transport):
    """A serial port (USB CDC, UART bridge or pseudo-terminal), opened exclusively."""

    def __init__(self, spec: str, baudrate: int = legacy.BAUDRATE) -> None:
        self.spec = spec
        self.baudrate = baudrate
        self._ser: serial.Serial | None = None
        self._timeout: float | None = None

    @property
    def default_baudrate(self) -> int:
        return legacy.BAUDRATE

    @property
    def is_open(self) -> bool:
        return self._ser is not None and self._ser.is_open

    def open(self) -> None:
        if not os.path.exists(self.spec):
            raise PortNotFound(f"serial port {self.spec} does not exist; {_available_hint()}")
        ser = serial.Serial(baudrate=self.baudrate, timeout=0.1, exclusive=True, rtscts=False, dsrdtr=False)
        ser.port = self.spec
        try:
            ser.open()
        except serial.SerialException as exc:
            raise self._translate(exc) from None
        self._ser = ser
        self._timeout = 0.1
        log.info("opened %s (%s)", self.spec, os.path.realpath(self.spec))

    def _translate(self, exc: serial.SerialException) -> Exception:
        code = getattr(exc, "errno", None)
        text = str(exc)
        if code == errno.EACCES or "Permission denied" in text:
            return PortPermission(
                f"permission denied opening {self.spec}: add yourself to the 'dialout' group "
                f"(sudo usermod -aG dialout $USER, then log in again)"
            )
        if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "exclusively lock" in text or "busy" in text:
            return PortBusy(
                f"serial port {self.spec} is busy: another program has it open (close it, or "
                f"find it with `fuser {self.spec}`)"
            )
        if code == errno.ENOENT:
            return PortNotFound(f"serial port {self.spec} disappeared; {_available_hint()}")
        return PortNotFound(f"cannot open serial port {self.spec}: {text.splitlines()[0] if text else code}")

    def read(self, max_bytes: int, timeout: float) -> bytes:
        """Whatever has arrived (up to `max_bytes`), waiting up to `timeout` for the first byte.

        On POSIX one `select` + one `os.read` on the port's descriptor: pyserial's `read(1)` + `in_waiting`
        + `read(n)` costs three system calls and ~2x the CPU per read, and a reader does hundreds a second.
        """
        ser = self._ser
        if ser is None:
            raise TransportLost(f"{self.spec} is not open")
        fd = getattr(ser, "fd", None)
        if fd is None:  # not a POSIX port (Windows): pyserial's own read
            return self._read_portable(ser, max_bytes, timeout)
        try:
            ready, _, _ = select.select([fd], [], [], max(timeout, 0.0))
            if not ready:
                return b""
            data = os.read(fd, max_bytes)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EINTR):
                return b""
            raise TransportLost(f"{self.spec}: {exc}") from None
        if not data:  # readable but nothing to read: the device went away (pyserial says the same)
            raise TransportLost(
                f"{self.spec}: device reports readiness to read but returned no data (device disconnected?)"
            )
        return data

    def _read_portable(self, ser: serial.Serial, max_bytes: int, timeout: float) -> bytes:
        try:
            if timeout != self._timeout:
                ser.timeout = self._timeout = timeout
            data = ser.read(1)
            if data:
                waiting = ser.in_waiting
                if waiting:
                    data += ser.read(min(waiting, max_bytes - 1))
            return data
        except (serial.SerialException, OSError) as exc:
            raise TransportLost(f"{self.spec}: {exc}") from None

    def write(self, data: bytes) -> None:
        ser = self._ser
        if ser is None:
            raise TransportLost(f"{self.spec} is not open")
        try:
            ser.write(data)
        except (serial.SerialException, OSError) as exc:
            raise TransportLost(f"{self.spec}: {exc}") from None

    def close(self) -> None:
        if self._ser is not None:
            try:
                self._ser.close()
            except (serial.SerialException, OSError):
                pass
            self._ser = None

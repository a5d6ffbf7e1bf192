"""The `sim[:options]` port: the encoder-board emulator started as its own process, read over its pty.

    sim                                  16 channels, v1, 1000 Hz (or what the driver asks for)
    sim:channels=12,rate=2000            any of SIM_OPTIONS; durations need a unit (`jitter=2ms`)
    sim:protocol=legacy,drift-ppm=100    `keep-counters` and `autostart` are bare flags

`open()` starts the emulator the first time; `close()` closes the link only (the driver reopens it after a
simulated unplug, as udev keeps a real board's name), and `release()` stops the emulator.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from firmware_bridge.emulator.process import EmulatorProcess
from firmware_bridge.errors import PortNotFound
from firmware_bridge.specs import parse_duration, parse_number, parse_options
from firmware_bridge.transports.base import Transport
from firmware_bridge.transports.serial_port import SerialTransport
from firmware_bridge.vocab import Protocol

log = logging.getLogger(__name__)

# option → (emulator flag, kind): kind is int, float, str, "duration" (seconds with a unit → the flag's unit)
SIM_OPTIONS: dict[str, tuple[str, object]] = {
    "protocol": ("--protocol", str),
    "channels": ("--channels", int),
    "rate": ("--rate", float),
    "batch": ("--batch", int),
    "seed": ("--seed", int),
    "motion": ("--motion", str),
    "drift-ppm": ("--drift-ppm", float),
    "jitter": ("--jitter-ms", "ms"),
    "corrupt": ("--corrupt", float),
    "drop": ("--drop", float),
    "disconnect-after": ("--disconnect-after", "s"),
    "reconnect-after": ("--reconnect-after", "s"),
    "noise-counts": ("--noise-counts", float),
    "device-id": ("--device-id", str),
    "duration": ("--duration", "s"),
}
SIM_FLAGS = {"keep-counters": "--keep-counters", "autostart": "--autostart"}
HINT = "sim[:key=value,...] with keys " + ", ".join([*SIM_OPTIONS, *SIM_FLAGS])


@dataclass
class SimPortOptions:
    """A `sim:` port's options as emulator arguments; `defaults` fill in what the spec leaves out."""

    args: dict[str, str] = field(default_factory=dict)  # flag → value ("" for bare flags)

    @classmethod
    def parse(cls, body: str) -> SimPortOptions:
        out = cls()
        for key, value in parse_options(body, "port", HINT, PortNotFound, flags=tuple(SIM_FLAGS)):
            key = key.replace("_", "-")
            if key in SIM_FLAGS and not value:
                out.args[SIM_FLAGS[key]] = ""
                continue
            if key not in SIM_OPTIONS:
                raise PortNotFound(f"port spec: unknown sim option {key!r} (use {HINT})")
            flag, kind = SIM_OPTIONS[key]
            if kind in ("ms", "s"):
                secs = parse_duration(value, key, "port", PortNotFound, "2ms" if kind == "ms" else "5s")
                out.args[flag] = f"{secs * (1e3 if kind == 'ms' else 1.0):g}"
            elif kind in (int, float):
                out.args[flag] = str(parse_number(value, key, kind, "port", PortNotFound))
            else:
                out.args[flag] = value
        return out

    def argv(self, **defaults: object) -> list[str]:
        """Emulator arguments: the spec's, then `defaults` (flag names without dashes) it did not set."""
        args = dict(self.args)
        for key, value in defaults.items():
            flag = "--" + key.replace("_", "-")
            if value is not None and flag not in args:
                args[flag] = str(value)
        return [a for flag, value in args.items() for a in ((flag, value) if value else (flag,))]


class SimTransport(Transport):
    """The emulator behind a pty, as a transport. `hints`: what the driver will ask (protocol, channels, rate)."""

    def __init__(
        self,
        spec: str,
        body: str = "",
        protocol: str | None = None,
        channels: int | None = None,
        rate_hz: float | None = None,
    ) -> None:
        self.spec = spec
        self.options = SimPortOptions.parse(body)
        self._defaults = {
            "protocol": protocol if protocol in (Protocol.V1, Protocol.LEGACY) else "v1",
            "channels": channels or 16,
            "rate": rate_hz or 1000,
        }
        self.process: EmulatorProcess | None = None
        self._link: SerialTransport | None = None

    @property
    def argv(self) -> list[str]:
        return self.options.argv(**self._defaults)

    @property
    def port(self) -> str | None:
        """The emulator's pty (None before the first `open`)."""
        return self.process.port if self.process is not None else None

    def open(self) -> None:
        first = self.process is None
        if self.process is None:
            self.process = EmulatorProcess(*self.argv)
            log.info("%s: emulator on %s", self.spec, self.process.port)
        self._link = SerialTransport(self.process.port)
        try:
            self._link.open()
        except BaseException:
            if first:
                self.release()
            raise

    def read(self, max_bytes: int, timeout: float) -> bytes:
        assert self._link is not None, "open() first"
        return self._link.read(max_bytes, timeout)

    def write(self, data: bytes) -> None:
        assert self._link is not None, "open() first"
        self._link.write(data)

    def close(self) -> None:
        if self._link is not None:
            self._link.close()

    def release(self) -> None:
        self.close()
        if self.process is not None:
            self.process.stop()
            self.process = None

    @property
    def is_open(self) -> bool:
        return self._link is not None and self._link.is_open

    def describe(self) -> str:
        return f"{self.spec} ({self.port})" if self.port else self.spec

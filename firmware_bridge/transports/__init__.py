"""Transports: one facade opens a port spec, the way pyserial's `serial_for_url` dispatches on a scheme.

Specs (`PORTS`, a `SchemeRegistry`): ``/dev/ttyACM0``, ``/dev/serial/by-id/...``, ``./ttySIM0`` (serial),
``ble:NAME`` / ``ble:AA:BB:...`` (BLE), ``sim[:key=value,...]`` (the emulator started for you,
`firmware_bridge.transports.sim`). `make_transport(spec, protocol=, channels=, rate_hz=)`: the hints are
what the driver will ask for; a `sim` port starts an emulator that speaks it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from firmware_bridge.errors import PortNotFound
from firmware_bridge.specs import SchemeRegistry
from firmware_bridge.transports.base import Transport, TransportLost


@dataclass(frozen=True)
class PortHints:
    """What the driver will ask of the device: a `sim` port starts an emulator that matches."""

    protocol: str | None = None
    channels: int | None = None
    rate_hz: float | None = None


PortHandler = Callable[[str, str, PortHints], Transport]
PORTS: SchemeRegistry[Callable[[PortHints], Transport]] = SchemeRegistry("port", PortNotFound)


def register_port_scheme(name: str, handler: PortHandler, *forms: str) -> None:
    """Add a scheme: `handler(body, spec, hints)` returns the (not yet opened) transport for `name:body`."""
    PORTS.register(name, lambda body, spec: lambda hints: handler(body, spec, hints), *forms)


def _ble(body: str, spec: str, hints: PortHints) -> Transport:
    from firmware_bridge.transports.ble import BleTransport

    return BleTransport(spec)


def _sim(body: str, spec: str, hints: PortHints) -> Transport:
    from firmware_bridge.transports.sim import SimTransport

    return SimTransport(spec, body, hints.protocol, hints.channels, hints.rate_hz)


def _serial(path: str, spec: str) -> Callable[[PortHints], Transport]:
    from firmware_bridge.transports.serial_port import SerialTransport

    return lambda hints: SerialTransport(path)


register_port_scheme("ble", _ble, "ble:NAME", "ble:ADDRESS")
register_port_scheme("sim", _sim, "sim[:key=value,...]")
PORTS.register_fallback(
    lambda spec: spec.startswith(("/", ".")), _serial, "a serial path (/dev/ttyACM0, /dev/serial/by-id/...)"
)


def port_scheme(spec: str) -> str:
    """'sim', 'ble' or '' (a serial path) for a valid port spec; PortNotFound (one line) otherwise."""
    return PORTS.scheme_of(spec)


def is_sim_port(spec: str | None) -> bool:
    """True for `sim` and `sim:...` (the emulator); False for None and every other valid spec."""
    return spec is not None and port_scheme(spec) == "sim"


def make_transport(
    spec: str, protocol: str | None = None, channels: int | None = None, rate_hz: float | None = None
) -> Transport:
    """The transport for a port spec, not yet opened (the hints shape a `sim` port's emulator)."""
    return PORTS.resolve(spec)(PortHints(protocol, channels, rate_hz))


def open_transport(spec: str, **hints: object) -> Transport:
    """Make and open the transport for `spec`."""
    transport = make_transport(spec, **hints)  # type: ignore[arg-type]
    transport.open()
    return transport


__all__ = [
    "PORTS",
    "PortHints",
    "Transport",
    "TransportLost",
    "is_sim_port",
    "make_transport",
    "open_transport",
    "port_scheme",
    "register_port_scheme",
]

"""Transports: one facade opens a port spec the way bleak hides its backends.

Specs: ``/dev/ttyACM0``, ``/dev/serial/by-id/...`` (serial), ``ble:NAME`` / ``ble:AA:BB:...`` (BLE).
``sim`` is resolved by the caller (it starts the emulator and passes the pty path).
"""

from __future__ import annotations

from firmware_bridge.errors import PortNotFound
from firmware_bridge.transports.base import Transport, TransportLost

__all__ = ["Transport", "TransportLost", "open_transport", "make_transport"]


def make_transport(spec: str) -> Transport:
    """The transport for a port spec, not yet opened."""
    if spec.startswith("ble:"):
        from firmware_bridge.transports.ble import BleTransport

        return BleTransport(spec)
    if spec.startswith("/") or spec.startswith("."):
        from firmware_bridge.transports.serial_port import SerialTransport

        return SerialTransport(spec)
    raise PortNotFound(f"unknown port spec {spec!r}: use a serial path (/dev/ttyACM0, /dev/serial/by-id/...), "
                       f"ble:NAME, ble:ADDRESS or sim")


def open_transport(spec: str) -> Transport:
    """Make and open the transport for `spec`."""
    transport = make_transport(spec)
    transport.open()
    return transport

"""A real radio and a real board (never in CI: `-m hardware`; set DEXUMI_BLE_PORT, default `ble:`).

DEXUMI_BLE_PORT=ble:dexumi-glove .venv/bin/python -m pytest -m hardware tests/test_ble_hardware.py
"""

from __future__ import annotations

import os

import pytest

from firmware_bridge import protocol
from firmware_bridge.decoder import V1Decoder
from firmware_bridge.protocol import MsgType
from firmware_bridge.transports.ble import BleTransport, scan_ble

pytestmark = pytest.mark.hardware
PORT = os.environ.get("DEXUMI_BLE_PORT", "ble:")


def test_ble_hardware_scan_connect_stream() -> None:
    assert any(d["has_service"] for d in scan_ble(5.0)), "no board advertising the dexumi service"
    with BleTransport(PORT, scan_timeout=10) as t:
        assert t.mtu >= 23 and t.rssi is not None
        t.write(protocol.command_frame(MsgType.GET_INFO, 1))
        t.write(protocol.command_frame(MsgType.START, 2))
        dec = V1Decoder()
        for _ in range(60):  # ~3 s
            dec.feed(t.read(1 << 16, 0.05))
        t.write(protocol.command_frame(MsgType.STOP, 3))
    assert dec.stats.samples > 0 and dec.stats.crc_errors == 0
    assert dec.stats.messages.get("INFO") == 1

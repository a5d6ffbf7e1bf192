"""GATT UUIDs of the dexumi encoder board's BLE service (shared by host, firmware and the fake BlueZ).

The samples characteristic notifies the protocol v1 byte stream (COBS frames split into MTU-3-byte
pieces); the commands characteristic takes protocol v1 command frames, written without response.
"""

from __future__ import annotations

SERVICE_UUID = "d3c10001-5b1e-4d8a-9f0e-6a7de0a1b2c3"
SAMPLES_CHAR_UUID = "d3c10002-5b1e-4d8a-9f0e-6a7de0a1b2c3"  # notify: device -> host bytes
COMMANDS_CHAR_UUID = "d3c10003-5b1e-4d8a-9f0e-6a7de0a1b2c3"  # write / write-without-response: host -> device
CCCD_UUID = "00002902-0000-1000-8000-00805f9b34fb"  # Client Characteristic Configuration descriptor

DEFAULT_ATT_MTU = 23
ATT_NOTIFY_OVERHEAD = 3  # opcode + handle: a notification carries MTU - 3 bytes

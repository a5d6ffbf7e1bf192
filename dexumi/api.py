"""Conveniences of the `dexumi` facade that no single module owns."""

from __future__ import annotations

from typing import Any

from dexumi.devices.encoder import EncoderConfig, EncoderDriver


def open_encoder(port: str, **config: Any) -> EncoderDriver:
    """A started encoder driver on a port spec (`sim`, `sim:channels=6`, `/dev/ttyACM0`, `ble:NAME`);
    `config`: the other `EncoderConfig` fields (protocol, channels, rate_hz, calibration, ...). Close it
    (or use `with`) to stop it and, for `sim`, its emulator."""
    return EncoderDriver(EncoderConfig(port, **config)).start()

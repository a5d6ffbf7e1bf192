"""Start the device emulator as its own process (`--sim` modes, tests): failures are `DexumiError`s."""

from __future__ import annotations

from dexumi.errors import DexumiError
from firmware_bridge.emulator.process import EmulatorProcess


class SimDeviceProcess(EmulatorProcess):
    """`python -m firmware_bridge.emulator ARGS` in a new session; `.port` is the path it printed."""

    error = DexumiError


__all__ = ["SimDeviceProcess"]

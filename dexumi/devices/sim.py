"""Start the device emulator as its own process (`--sim` modes, tests): failures are `DexumiError`s."""

from __future__ import annotations

from dexumi.errors import DexumiError
from firmware_bridge.emulator.process import EmulatorProcess, die_with_parent


class SimDeviceProcess(EmulatorProcess):
    """`python -m firmware_bridge.emulator ARGS` in a new session; `.port` is the path it printed."""

    error = DexumiError


_die_with_parent = die_with_parent  # the old private name

__all__ = ["SimDeviceProcess", "die_with_parent"]

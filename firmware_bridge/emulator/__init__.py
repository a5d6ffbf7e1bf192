"""The encoder-board emulator (`dexumi sim-device`): a separate process behind a real pseudo-terminal."""

from firmware_bridge.emulator.device import EmulatorConfig, run_emulator
from firmware_bridge.emulator.truth import Fate, read_truth

__all__ = ["EmulatorConfig", "run_emulator", "Fate", "read_truth"]

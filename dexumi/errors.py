"""User-facing errors of the core library (the CLI prints them as one line and exits non-zero)."""

from firmware_bridge.errors import BridgeError


class DexumiError(BridgeError):
    """A problem with the user's input, files or devices, explained in one line."""

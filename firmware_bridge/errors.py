"""Errors a user can act on, raised by the bridge layer (the CLI prints them as one line)."""


class BridgeError(Exception):
    """A device, port or byte-stream problem that the user can act on."""


class PortNotFound(BridgeError):
    """The named port does not exist."""


class PortBusy(BridgeError):
    """Another program holds the port."""


class PortPermission(BridgeError):
    """The user may not open the port."""


class ProtocolMismatch(BridgeError):
    """The device does not speak the protocol we expected (or any we know)."""


class DeviceLost(BridgeError):
    """The device went away and did not come back in time."""

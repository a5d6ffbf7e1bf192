"""Everything that speaks to the exoskeleton's microcontroller: wire protocols, decoders, transports,
the device emulator and the firmware sources.

The errors and the `Protocol` vocabulary load with the package; `make_transport` / `open_transport` (port
specs through one scheme registry) load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from firmware_bridge.errors import BridgeError as BridgeError
from firmware_bridge.errors import DeviceLost as DeviceLost
from firmware_bridge.errors import PortBusy as PortBusy
from firmware_bridge.errors import PortNotFound as PortNotFound
from firmware_bridge.errors import PortPermission as PortPermission
from firmware_bridge.errors import ProtocolMismatch as ProtocolMismatch
from firmware_bridge.vocab import Protocol as Protocol
from firmware_bridge.vocab import VocabularyError as VocabularyError

_LAZY = {
    "make_transport": "firmware_bridge.transports",
    "open_transport": "firmware_bridge.transports",
    "port_scheme": "firmware_bridge.transports",
    "Transport": "firmware_bridge.transports",
    "TransportLost": "firmware_bridge.transports",
}
__all__ = [
    "BridgeError",
    "DeviceLost",
    "PortBusy",
    "PortNotFound",
    "PortPermission",
    "Protocol",
    "ProtocolMismatch",
    "VocabularyError",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'firmware_bridge' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from firmware_bridge.transports import Transport as Transport
    from firmware_bridge.transports import TransportLost as TransportLost
    from firmware_bridge.transports import make_transport as make_transport
    from firmware_bridge.transports import open_transport as open_transport
    from firmware_bridge.transports import port_scheme as port_scheme

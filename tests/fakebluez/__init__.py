"""A fake BlueZ (org.bluez on a private D-Bus system bus) with a protocol v1 encoder board behind it.

bleak's real BlueZ backend talks to it exactly as to bluetoothd: discovery, Connect, GATT objects,
StartNotify, notifications as ``Value`` PropertiesChanged, WriteValue. Run ``python -m tests.fakebluez
--help`` from the repository root (or ``python -m fakebluez`` with ``tests/`` on PYTHONPATH).
"""

from .bus import PrivateBus, dbus_daemon_path
from .config import AdapterConfig, DeviceConfig
from .groundtruth import GroundTruth, read_ground_truth

__all__ = ["AdapterConfig", "DeviceConfig", "GroundTruth", "PrivateBus", "dbus_daemon_path", "read_ground_truth"]

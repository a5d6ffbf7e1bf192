"""D-Bus objects of the fake BlueZ: org.bluez.Adapter1, Device1, GattService1, GattCharacteristic1, GattDescriptor1.

Annotations here are D-Bus signatures read by dbus-fast, so this module must not use
``from __future__ import annotations``. Behaviour lives in `FakeDevice`/`FakeBlueZ` (service.py);
these classes only expose state and forward calls.
"""

from typing import TYPE_CHECKING, Any

from dbus_fast import Variant
from dbus_fast.errors import DBusError
from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_property, method

if TYPE_CHECKING:
    from .service import FakeBlueZ, FakeDevice

READ = PropertyAccess.READ
ERR_FAILED = "org.bluez.Error.Failed"
ERR_NOT_SUPPORTED = "org.bluez.Error.NotSupported"
ERR_NOT_PERMITTED = "org.bluez.Error.NotPermitted"
ERR_INVALID_ARGS = "org.bluez.Error.InvalidArguments"
ERR_NOT_CONNECTED = "org.bluez.Error.NotConnected"
ERR_DOES_NOT_EXIST = "org.bluez.Error.DoesNotExist"


class Adapter1(ServiceInterface):
    """hci0: discovery sessions and filters."""

    def __init__(self, bluez: "FakeBlueZ") -> None:
        super().__init__("org.bluez.Adapter1")
        self.bluez = bluez

    @method()
    def StartDiscovery(self):
        self.bluez.start_discovery()

    @method()
    def StopDiscovery(self):
        self.bluez.stop_discovery()

    @method()
    def SetDiscoveryFilter(self, properties: "a{sv}"):
        self.bluez.discovery_filter = {k: v.value for k, v in properties.items()}

    @method()
    def GetDiscoveryFilters(self) -> "as":
        return ["UUIDs", "RSSI", "Pathloss", "Transport", "DuplicateData", "Discoverable", "Pattern"]

    @method()
    def RemoveDevice(self, device: "o"):
        self.bluez.remove_device(device)

    @dbus_property(access=READ)
    def Address(self) -> "s":
        return self.bluez.cfg.address

    @dbus_property(access=READ)
    def AddressType(self) -> "s":
        return "public"

    @dbus_property(access=READ)
    def Name(self) -> "s":
        return self.bluez.cfg.name

    @dbus_property(access=READ)
    def Alias(self) -> "s":
        return self.bluez.cfg.name

    @dbus_property(access=READ)
    def Class(self) -> "u":
        return 0

    @dbus_property(access=READ)
    def Powered(self) -> "b":
        return True

    @dbus_property(access=READ)
    def PowerState(self) -> "s":
        return "on"

    @dbus_property(access=READ)
    def Discoverable(self) -> "b":
        return False

    @dbus_property(access=READ)
    def Pairable(self) -> "b":
        return True

    @dbus_property(access=READ)
    def Discovering(self) -> "b":
        return self.bluez.discovering

    @dbus_property(access=READ)
    def UUIDs(self) -> "as":
        return []

    @dbus_property(access=READ)
    def Modalias(self) -> "s":
        return "usb:v1D6Bp0246d0548"

    @dbus_property(access=READ)
    def Roles(self) -> "as":
        return ["central", "peripheral"]


class Device1(ServiceInterface):
    """One remote peripheral as BlueZ shows it."""

    def __init__(self, dev: "FakeDevice") -> None:
        super().__init__("org.bluez.Device1")
        self.dev = dev

    @method()
    async def Connect(self):
        await self.dev.connect()

    @method()
    async def Disconnect(self):
        await self.dev.disconnect("host")

    @method()
    def Pair(self):
        raise DBusError(ERR_NOT_SUPPORTED, "Pairing is not supported by the fake")

    @method()
    def CancelPairing(self):
        raise DBusError(ERR_DOES_NOT_EXIST, "No pairing in progress")

    @dbus_property(access=READ)
    def Address(self) -> "s":
        return self.dev.cfg.address

    @dbus_property(access=READ)
    def AddressType(self) -> "s":
        return "random"

    @dbus_property(access=READ)
    def Name(self) -> "s":
        return self.dev.cfg.name

    @dbus_property(access=READ)
    def Alias(self) -> "s":
        return self.dev.cfg.name

    @dbus_property(access=READ)
    def Paired(self) -> "b":
        return False

    @dbus_property(access=READ)
    def Bonded(self) -> "b":
        return False

    @dbus_property(access=READ)
    def Trusted(self) -> "b":
        return False

    @dbus_property(access=READ)
    def Blocked(self) -> "b":
        return False

    @dbus_property(access=READ)
    def LegacyPairing(self) -> "b":
        return False

    @dbus_property(access=READ)
    def RSSI(self) -> "n":
        return self.dev.rssi

    @dbus_property(access=READ)
    def TxPower(self) -> "n":
        return 0

    @dbus_property(access=READ)
    def Connected(self) -> "b":
        return self.dev.connected

    @dbus_property(access=READ)
    def UUIDs(self) -> "as":
        return self.dev.advertised_uuids()

    @dbus_property(access=READ)
    def Adapter(self) -> "o":
        return self.dev.bluez.adapter_path

    @dbus_property(access=READ)
    def ManufacturerData(self) -> "a{qv}":
        return {0xFFFF: Variant("ay", b"dexumi")}

    @dbus_property(access=READ)
    def ServiceData(self) -> "a{sv}":
        return {}

    @dbus_property(access=READ)
    def ServicesResolved(self) -> "b":
        return self.dev.services_resolved


class GattService1(ServiceInterface):
    def __init__(self, dev: "FakeDevice", uuid: str, handle: int) -> None:
        super().__init__("org.bluez.GattService1")
        self.dev, self.uuid, self.handle = dev, uuid, handle

    @dbus_property(access=READ)
    def UUID(self) -> "s":
        return self.uuid

    @dbus_property(access=READ)
    def Device(self) -> "o":
        return self.dev.path

    @dbus_property(access=READ)
    def Primary(self) -> "b":
        return True

    @dbus_property(access=READ)
    def Includes(self) -> "ao":
        return []

    @dbus_property(access=READ)
    def Handle(self) -> "q":
        return self.handle


class GattCharacteristic1(ServiceInterface):
    """A characteristic: notify (samples) or write-without-response (commands)."""

    def __init__(self, dev: "FakeDevice", uuid: str, handle: int, service_path: str, flags: list[str]) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self.dev, self.uuid, self.handle, self.service_path, self.flags = dev, uuid, handle, service_path, flags
        self.value = b""
        self.notifying = False

    def notify(self, data: bytes) -> None:
        """One ATT notification: BlueZ publishes it as a change of Value."""
        self.value = data
        self.emit_properties_changed({"Value": data})

    def set_notifying(self, on: bool) -> None:
        if on != self.notifying:
            self.notifying = on
            self.emit_properties_changed({"Notifying": on})

    @method()
    def ReadValue(self, options: "a{sv}") -> "ay":
        if "read" not in self.flags:
            raise DBusError(ERR_NOT_PERMITTED, "Read not permitted")
        return self.value

    @method()
    def WriteValue(self, value: "ay", options: "a{sv}"):
        kind = options.get("type", Variant("s", "request")).value
        if not any(f.startswith("write") for f in self.flags):
            raise DBusError(ERR_NOT_PERMITTED, "Write not permitted")
        self.dev.write(self, bytes(value), kind)

    @method()
    def StartNotify(self):
        if "notify" not in self.flags:
            raise DBusError(ERR_NOT_SUPPORTED, "Operation is not supported")
        self.dev.start_notify(self)

    @method()
    def StopNotify(self):
        self.dev.stop_notify(self)

    @method()
    def AcquireNotify(self, options: "a{sv}") -> "hq":
        raise DBusError(ERR_NOT_SUPPORTED, "Operation is not supported")

    @method()
    def AcquireWrite(self, options: "a{sv}") -> "hq":
        raise DBusError(ERR_NOT_SUPPORTED, "Operation is not supported")

    @dbus_property(access=READ)
    def UUID(self) -> "s":
        return self.uuid

    @dbus_property(access=READ)
    def Service(self) -> "o":
        return self.service_path

    @dbus_property(access=READ)
    def Value(self) -> "ay":
        return self.value

    @dbus_property(access=READ)
    def Notifying(self) -> "b":
        return self.notifying

    @dbus_property(access=READ)
    def Flags(self) -> "as":
        return self.flags

    @dbus_property(access=READ)
    def MTU(self) -> "q":
        return self.dev.cfg.mtu

    @dbus_property(access=READ)
    def Handle(self) -> "q":
        return self.handle


class GattDescriptor1(ServiceInterface):
    """The CCCD under the notify characteristic (read-only mirror of Notifying)."""

    def __init__(self, char: GattCharacteristic1, char_path: str, uuid: str) -> None:
        super().__init__("org.bluez.GattDescriptor1")
        self.char, self.char_path, self.uuid = char, char_path, uuid

    @method()
    def ReadValue(self, options: "a{sv}") -> "ay":
        return bytes([1 if self.char.notifying else 0, 0])

    @method()
    def WriteValue(self, value: "ay", options: "a{sv}"):
        raise DBusError(ERR_NOT_PERMITTED, "Write not permitted")

    @dbus_property(access=READ)
    def UUID(self) -> "s":
        return self.uuid

    @dbus_property(access=READ)
    def Characteristic(self) -> "o":
        return self.char_path

    @dbus_property(access=READ)
    def Value(self) -> "ay":
        return bytes([1 if self.char.notifying else 0, 0])

    @dbus_property(access=READ)
    def Flags(self) -> "as":
        return ["read"]


def device_path(adapter_path: str, address: str) -> str:
    return f"{adapter_path}/dev_{address.upper().replace(':', '_')}"


def unpack_options(options: dict[str, Any]) -> dict[str, Any]:
    return {k: v.value if isinstance(v, Variant) else v for k, v in options.items()}

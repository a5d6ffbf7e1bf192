"""The fake BlueZ runtime: an adapter, its devices, discovery, connections and the paced radio loop."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

from dbus_fast import BusType
from dbus_fast.aio import MessageBus
from dbus_fast.constants import RequestNameReply
from dbus_fast.errors import DBusError

from firmware_bridge.transports.ble_uuids import (
    CCCD_UUID,
    COMMANDS_CHAR_UUID,
    SAMPLES_CHAR_UUID,
    SERVICE_UUID,
)

from . import gatt
from .board import Board, PendingFrame
from .config import AdapterConfig, DeviceConfig
from .groundtruth import GroundTruthLog

log = logging.getLogger(__name__)
BLUEZ_NAME = "org.bluez"
ADAPTER_PATH = "/org/bluez/hci0"
SERVICE_HANDLE = 0x0010


class FakeDevice:
    """One peripheral: advertisement, connection state, GATT objects and the board behind them."""

    def __init__(self, bluez: FakeBlueZ, cfg: DeviceConfig) -> None:
        self.bluez = bluez
        self.cfg = cfg
        self.path = gatt.device_path(bluez.adapter_path, cfg.address)
        self.connected = False
        self.services_resolved = False
        self.rssi = cfg.rssi
        self.away_until = 0.0
        self.drops_done = 0
        self.truth = GroundTruthLog(cfg.log_path)
        self.board = Board(cfg, self._frame_sent)
        self.iface = gatt.Device1(self)
        self.stats = {"notifications": 0, "bytes": 0, "connects": 0, "drops": 0}
        svc = f"{self.path}/service{SERVICE_HANDLE:04x}"
        self.service = gatt.GattService1(self, SERVICE_UUID, SERVICE_HANDLE)
        self.samples = gatt.GattCharacteristic1(self, SAMPLES_CHAR_UUID, SERVICE_HANDLE + 2, svc, ["notify"])
        self.commands = gatt.GattCharacteristic1(
            self, COMMANDS_CHAR_UUID, SERVICE_HANDLE + 5, svc, ["write-without-response", "write"]
        )
        samples_path = f"{svc}/char{SERVICE_HANDLE + 1:04x}"
        self.cccd = gatt.GattDescriptor1(self.samples, samples_path, CCCD_UUID)
        self._gatt_objects = [
            (svc, self.service),
            (samples_path, self.samples),
            (f"{samples_path}/desc{SERVICE_HANDLE + 3:04x}", self.cccd),
            (f"{svc}/char{SERVICE_HANDLE + 4:04x}", self.commands),
        ]
        self._drop_task: asyncio.Task[None] | None = None
        self._connected_at = 0.0

    # ------------------------------------------------------------------ advertisement
    @property
    def advertising(self) -> bool:
        return not self.connected and time.monotonic() >= self.away_until

    def advertised_uuids(self) -> list[str]:
        return [SERVICE_UUID] if self.cfg.advertise_service else []

    def advertise(self) -> None:
        """One advertisement seen by the scanner: BlueZ publishes it as an RSSI change."""
        self.rssi = self.cfg.rssi if self.rssi != self.cfg.rssi else self.cfg.rssi - 1
        self.iface.emit_properties_changed({"RSSI": self.rssi})

    # ------------------------------------------------------------------ connection
    async def connect(self) -> None:
        if self.connected:
            return
        if time.monotonic() < self.away_until:
            await asyncio.sleep(0.2)
            raise DBusError(gatt.ERR_FAILED, "Software caused connection abort")
        await asyncio.sleep(0.005)  # connection establishment
        self.connected = True
        self._connected_at = time.monotonic()
        self.stats["connects"] += 1
        self.truth.event("connected", mtu=self.cfg.mtu)
        self.iface.emit_properties_changed({"Connected": True})
        for path, obj in self._gatt_objects:
            self.bluez.bus.export(path, obj)
        self.services_resolved = True
        self.iface.emit_properties_changed({"ServicesResolved": True})
        if self.cfg.drop_after is not None and self.drops_done < self.cfg.drops:
            self._drop_task = asyncio.get_running_loop().create_task(self._drop_later(self.cfg.drop_after))

    async def _drop_later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if self.connected:
            self.drops_done += 1
            self.stats["drops"] += 1
            self.away_until = time.monotonic() + self.cfg.reappear_after
            await self.disconnect("forced")

    async def disconnect(self, reason: str) -> None:
        if not self.connected:
            return
        if self._drop_task is not None and reason != "forced":
            self._drop_task.cancel()
        self._drop_task = None
        self.board.link_lost()
        self.samples.set_notifying(False)
        self.services_resolved = False
        self.iface.emit_properties_changed({"ServicesResolved": False})
        self.connected = False
        self.iface.emit_properties_changed({"Connected": False})
        for path, _ in reversed(self._gatt_objects):
            self.bluez.bus.unexport(path)
        self.truth.event("disconnected", reason=reason, after_s=round(time.monotonic() - self._connected_at, 3))
        log.info("%s disconnected (%s)", self.cfg.name, reason)

    # ------------------------------------------------------------------ GATT
    def write(self, char: gatt.GattCharacteristic1, data: bytes, kind: str) -> None:
        if not self.connected:
            raise DBusError(gatt.ERR_NOT_CONNECTED, "Not connected")
        if char is not self.commands:
            raise DBusError(gatt.ERR_NOT_PERMITTED, "Write not permitted")
        if kind == "command" and len(data) > self.cfg.payload_size:
            raise DBusError(gatt.ERR_INVALID_ARGS, "Invalid Length")
        self.board.receive(data)

    def start_notify(self, char: gatt.GattCharacteristic1) -> None:
        if not self.connected:
            raise DBusError(gatt.ERR_NOT_CONNECTED, "Not connected")
        char.set_notifying(True)
        if self.cfg.autostart:
            self.board.start()

    def stop_notify(self, char: gatt.GattCharacteristic1) -> None:
        char.set_notifying(False)

    def _frame_sent(self, frame: PendingFrame) -> None:
        self.truth.samples(frame.first, frame.t_us, frame.values, frame.seq)

    # ------------------------------------------------------------------ radio
    def connection_event(self) -> None:
        """One connection event: produce due samples, send up to packets_per_event notifications."""
        if not self.connected:
            return
        self.board.produce()
        if not self.samples.notifying:
            return
        size = self.cfg.payload_size
        for _ in range(self.cfg.packets_per_event):
            if not self.board.tx:
                break
            chunk = self.board.take(size)
            self.samples.notify(chunk)
            self.stats["notifications"] += 1
            self.stats["bytes"] += len(chunk)

    async def radio_loop(self) -> None:
        """Connection events at a fixed interval; a late event is not made up for (like a real radio)."""
        loop = asyncio.get_running_loop()
        interval = self.cfg.connection_interval_ms / 1000
        next_t = loop.time()
        while True:
            self.connection_event()
            next_t += interval
            delay = next_t - loop.time()
            if delay < 0:
                next_t = loop.time()
                delay = 0
            await asyncio.sleep(delay)


class FakeBlueZ:
    """org.bluez on a bus: hci0 plus the configured devices."""

    def __init__(self, cfg: AdapterConfig, bus_address: str | None = None) -> None:
        self.cfg = cfg
        self.bus_address = bus_address
        self.adapter_path = ADAPTER_PATH
        self.adapter = gatt.Adapter1(self)
        self.discovery_sessions = 0
        self.discovery_filter: dict[str, object] = {}
        self.devices = [FakeDevice(self, d) for d in cfg.devices]
        self.bus: MessageBus
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def discovering(self) -> bool:
        return self.discovery_sessions > 0

    def start_discovery(self) -> None:
        self.discovery_sessions += 1
        if self.discovery_sessions == 1:
            self.adapter.emit_properties_changed({"Discovering": True})

    def stop_discovery(self) -> None:
        if self.discovery_sessions == 0:
            raise DBusError(gatt.ERR_FAILED, "No discovery started")
        self.discovery_sessions -= 1
        if self.discovery_sessions == 0:
            self.discovery_filter = {}
            self.adapter.emit_properties_changed({"Discovering": False})

    def remove_device(self, path: str) -> None:
        if not any(d.path == path for d in self.devices):
            raise DBusError(gatt.ERR_DOES_NOT_EXIST, "Does Not Exist")

    def _passes_filter(self, dev: FakeDevice) -> bool:
        uuids = self.discovery_filter.get("UUIDs")
        return not uuids or bool({u.lower() for u in uuids} & set(dev.advertised_uuids()))  # type: ignore[union-attr]

    async def start(self) -> None:
        """Connect to the bus, export hci0 and the devices, own org.bluez, start the loops."""
        if self.bus_address:
            self.bus = MessageBus(bus_address=self.bus_address)
        else:
            self.bus = MessageBus(bus_type=BusType.SYSTEM)
        await self.bus.connect()
        self._grow_send_buffer()
        self.bus.export(self.adapter_path, self.adapter)
        for dev in self.devices:
            self.bus.export(dev.path, dev.iface)
        reply = await self.bus.request_name(BLUEZ_NAME)
        if reply != RequestNameReply.PRIMARY_OWNER:
            raise RuntimeError(f"could not own {BLUEZ_NAME} on the bus ({reply})")
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._advertising_loop())]
        self._tasks += [loop.create_task(d.radio_loop()) for d in self.devices]

    def _grow_send_buffer(self) -> None:
        """dbus-fast drops the bus when a send would block: a larger socket buffer absorbs bursts."""
        sock = getattr(self.bus, "_sock", None)
        if isinstance(sock, socket.socket):
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
            except OSError:
                pass

    async def _advertising_loop(self) -> None:
        period = min(d.cfg.advertising_interval_ms for d in self.devices) / 1000 if self.devices else 0.1
        while True:
            await asyncio.sleep(period)
            if self.discovering:
                for dev in self.devices:
                    if dev.advertising and self._passes_filter(dev):
                        dev.advertise()

    async def run_forever(self) -> None:
        await self.start()
        await self.bus.wait_for_disconnect()
        raise RuntimeError("the fake BlueZ lost its D-Bus connection")

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for dev in self.devices:
            await dev.disconnect("shutdown")
            dev.truth.close()
            self.bus.unexport(dev.path)
        self.bus.unexport(self.adapter_path)
        await asyncio.sleep(0.05)  # let the InterfacesRemoved signals leave before the socket closes
        self.bus.disconnect()

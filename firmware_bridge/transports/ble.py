"""BLE transport on bleak: the encoder board's GATT service as a synchronous byte stream.

Spec strings: ``ble:NAME``, ``ble:AA:BB:CC:DD:EE:FF`` (or a CoreBluetooth UUID on macOS), and ``ble:``
alone for the first device advertising the dexumi service. The board notifies the protocol v1 byte
stream in MTU-3-byte pieces on the samples characteristic; v1 frames are COBS-delimited, so reassembly is
concatenating the notification payloads in arrival order. Commands are written (without response) to the
commands characteristic, split into pieces that fit the negotiated MTU.

bleak is asyncio: every transport runs its coroutines on one background event loop thread owned by this
module (bleak's BlueZ manager is per event loop and meant to live as long as the application), and the
public API blocks like pyserial's. Reconnecting is the driver's job: after `read` raises `TransportLost`
it calls `close()` and `open()` again, which re-scans (one advertising interval) and reconnects.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import re
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from firmware_bridge.errors import BridgeError, PortNotFound, ProtocolMismatch
from firmware_bridge.transports.base import Transport, TransportLost
from firmware_bridge.transports.ble_uuids import (
    ATT_NOTIFY_OVERHEAD,
    COMMANDS_CHAR_UUID,
    DEFAULT_ATT_MTU,
    SAMPLES_CHAR_UUID,
    SERVICE_UUID,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

_ADDRESS_RE = re.compile(r"^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$")
_APPLE_ID_RE = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
MAX_BUFFERED = 8 << 20  # bytes kept for a reader that fell behind; older bytes are dropped beyond this
WRITE_TIMEOUT = 5.0
CLOSE_TIMEOUT = 5.0


# ------------------------------------------------------------------------------------------ spec parsing


@dataclass(frozen=True)
class BleTarget:
    """Which peripheral a spec names: by address, by advertised name, or the first one with our service."""

    name: str | None = None
    address: str | None = None

    @classmethod
    def parse(cls, spec: str) -> BleTarget:
        if not spec.startswith("ble:"):
            raise PortNotFound(f"not a BLE port spec: {spec!r} (use ble:NAME, ble:AA:BB:CC:DD:EE:FF or ble:)")
        rest = spec[4:].strip()
        if not rest:
            return cls()
        if _ADDRESS_RE.match(rest):
            return cls(address=rest.replace("-", ":").upper())
        if _APPLE_ID_RE.match(rest):
            return cls(address=rest.upper())
        return cls(name=rest)

    def matches(self, address: str, name: str | None, service_uuids: list[str]) -> bool:
        if self.address is not None:
            return address.upper() == self.address
        if self.name is not None:
            return name == self.name
        return SERVICE_UUID in (u.lower() for u in service_uuids)

    def describe(self) -> str:
        if self.address:
            return f"with address {self.address}"
        if self.name:
            return f"named {self.name!r}"
        return f"advertising the dexumi service {SERVICE_UUID}"


# ------------------------------------------------------------------------------------------ event loop


class _LoopThread:
    """An asyncio event loop in a daemon thread; `run` executes a coroutine there and waits for it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name="dexumi-ble-loop", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self.loop.is_closed()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        if threading.current_thread() is self._thread:
            raise RuntimeError("BLE transport methods must not be called from its own event loop thread")
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return fut.result(timeout)
        except concurrent.futures.TimeoutError:
            fut.cancel()
            raise TimeoutError(f"BLE operation timed out after {timeout:.1f} s") from None

    def stop(self) -> None:
        if self.alive:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(2.0)


_loop_lock = threading.Lock()
_loop: _LoopThread | None = None


def _ble_loop() -> _LoopThread:
    """The module's event loop thread (started on first use)."""
    global _loop
    with _loop_lock:
        if _loop is None or not _loop.alive:
            _loop = _LoopThread()
        return _loop


@atexit.register
def _stop_ble_loop() -> None:
    if _loop is not None:
        _loop.stop()


# ------------------------------------------------------------------------------------------ byte stream


class _ByteStream:
    """Notification payloads appended in arrival order, read as one byte stream from another thread."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._cond = threading.Condition()
        self._lost: str | None = None
        self.notifications = 0
        self.bytes = 0
        self.largest = 0
        self.dropped = 0

    def push(self, data: bytes) -> None:
        with self._cond:
            self._buf += data
            self.notifications += 1
            self.bytes += len(data)
            self.largest = max(self.largest, len(data))
            excess = len(self._buf) - MAX_BUFFERED
            if excess > 0:
                del self._buf[:excess]
                self.dropped += excess
                log.warning("BLE reader fell behind: dropped %d buffered bytes", excess)
            self._cond.notify_all()

    def mark_lost(self, reason: str) -> None:
        with self._cond:
            if self._lost is None:
                self._lost = reason
            self._cond.notify_all()

    @property
    def lost(self) -> str | None:
        return self._lost

    def read(self, max_bytes: int, timeout: float) -> bytes:
        """What has arrived (up to max_bytes), waiting up to `timeout`; the rest is drained before a loss."""
        with self._cond:
            if not self._buf and self._lost is None and timeout > 0:
                self._cond.wait_for(lambda: self._buf or self._lost is not None, timeout)
            if self._buf:
                n = min(len(self._buf), max(1, max_bytes))
                data = bytes(self._buf[:n])
                del self._buf[:n]
                return data
            if self._lost is not None:
                raise TransportLost(self._lost)
            return b""


# ------------------------------------------------------------------------------------------ errors


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _no_bluetooth_reason(exc: BaseException) -> str | None:
    """A one-line reason when `exc` means there is no usable Bluetooth stack, else None."""
    from bleak.exc import BleakBluetoothNotAvailableError, BleakDBusError

    if isinstance(exc, BleakBluetoothNotAvailableError):
        return f"no usable Bluetooth adapter ({_one_line(exc)})"
    if isinstance(exc, BleakDBusError) and exc.dbus_error in (
        "org.freedesktop.DBus.Error.ServiceUnknown",
        "org.freedesktop.DBus.Error.NameHasNoOwner",
    ):
        return "BlueZ (org.bluez) is not running on the D-Bus system bus (start bluetoothd)"
    if isinstance(exc, (FileNotFoundError, ConnectionRefusedError, PermissionError)):
        return f"cannot reach BlueZ on the D-Bus system bus ({_one_line(exc)})"
    return None


# ------------------------------------------------------------------------------------------ scanning


async def _scan_for(target: BleTarget, timeout: float) -> tuple[Any, Any] | None:
    """The first (BLEDevice, AdvertisementData) matching `target`, or None after `timeout`."""
    from bleak import BleakScanner

    uuids = [SERVICE_UUID] if target.name is None and target.address is None else None
    async with BleakScanner(service_uuids=uuids) as scanner:
        try:
            async with asyncio.timeout(timeout):
                async for device, adv in scanner.advertisement_data():
                    if target.matches(device.address, adv.local_name or device.name, adv.service_uuids):
                        return device, adv
        except TimeoutError:
            return None
    return None


async def _discover(timeout: float) -> list[dict[str, Any]]:
    from bleak import BleakScanner

    found = await BleakScanner.discover(timeout=timeout, return_adv=True)
    out = []
    for device, adv in found.values():
        has_service = SERVICE_UUID in (u.lower() for u in adv.service_uuids)
        name = adv.local_name or device.name
        out.append(
            {
                "name": name,
                "address": device.address,
                "rssi": adv.rssi,
                "has_service": has_service,
                "spec": f"ble:{name}" if name else f"ble:{device.address}",
            }
        )
    out.sort(key=lambda d: (not d["has_service"], -(int(d["rssi"]) if d["rssi"] is not None else -999)))
    return out


def scan_ble(timeout: float = 3.0) -> list[dict[str, Any]]:
    """BLE devices around (name, address, rssi, has_service, spec), ours first; [] if there is no Bluetooth."""
    try:
        return _ble_loop().run(_discover(timeout), timeout + 10.0)
    except Exception as exc:  # no adapter, no bus, no bluetoothd: `dexumi devices` must still work
        log.info("BLE scan skipped: %s", _no_bluetooth_reason(exc) or _one_line(exc))
        return []


# ------------------------------------------------------------------------------------------ BlueZ watch


class _BlueZWatch:
    """Marks the stream lost when bluetoothd (org.bluez) leaves the system bus or the bus itself dies.

    bleak notices a dead bus but not a BlueZ restart: its device would look connected forever, with no data.
    """

    RULE = (
        "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
        "member='NameOwnerChanged',arg0='org.bluez'"
    )

    def __init__(self) -> None:
        self._bus: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, stream: _ByteStream, spec: str) -> None:
        from dbus_fast import BusType, Message, MessageType
        from dbus_fast.aio import MessageBus

        bus = MessageBus(bus_type=BusType.SYSTEM)
        await bus.connect()

        def on_message(msg: Message) -> None:
            if (
                msg.message_type == MessageType.SIGNAL
                and msg.member == "NameOwnerChanged"
                and msg.body
                and msg.body[0] == "org.bluez"
                and not msg.body[2]
            ):
                stream.mark_lost(f"{spec}: BLE link lost (bluetoothd left the system bus)")

        bus.add_message_handler(on_message)
        await bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member="AddMatch",
                signature="s",
                body=[self.RULE],
            )
        )
        self._bus = bus

        async def watch_bus() -> None:
            try:
                await bus.wait_for_disconnect()  # type: ignore[no-untyped-call, unused-ignore]  # dbus-fast leaves it unannotated
            except Exception:
                pass
            stream.mark_lost(f"{spec}: BLE link lost (D-Bus system bus connection closed)")

        self._task = asyncio.get_running_loop().create_task(watch_bus())

    def stop(self) -> None:
        bus, self._bus = self._bus, None
        if bus is not None:
            bus.disconnect()


# ------------------------------------------------------------------------------------------ transport


@dataclass
class BleLinkInfo:
    """What the last open() found: the peripheral, its advertisement RSSI and the link's ATT MTU."""

    address: str
    name: str | None
    rssi: int | None
    mtu: int
    connect_s: float


class BleTransport(Transport):
    """The encoder board over BLE (bleak), with pyserial-like blocking calls."""

    def __init__(self, spec: str, *, scan_timeout: float = 5.0, connect_timeout: float = 15.0) -> None:
        self.spec = spec
        self.target = BleTarget.parse(spec)
        self.scan_timeout = scan_timeout
        self.connect_timeout = connect_timeout
        self.info: BleLinkInfo | None = None
        self._client: Any = None
        self._samples: Any = None
        self._commands: Any = None
        self._stream = _ByteStream()
        self._stream.mark_lost("not open")
        self._open_lock = threading.RLock()
        self._write_lock = threading.Lock()
        self._loop: _LoopThread | None = None
        self._watch: _BlueZWatch | None = None

    # -------------------------------------------------------------- state
    @property
    def is_open(self) -> bool:
        return self._client is not None and self._stream.lost is None

    @property
    def rssi(self) -> int | None:
        """RSSI (dBm) of the advertisement we connected to (BlueZ reports none for a connected LE link)."""
        return self.info.rssi if self.info else None

    @property
    def mtu(self) -> int:
        """The link's ATT MTU; notifications carry mtu - 3 bytes."""
        char = self._samples or self._commands
        if char is not None and self._client is not None:
            return self._read_mtu(self._client, char)
        return self.info.mtu if self.info else DEFAULT_ATT_MTU

    @property
    def stats(self) -> dict[str, Any]:
        s = self._stream
        return {
            "notifications": s.notifications,
            "bytes": s.bytes,
            "largest_notification": s.largest,
            "dropped_bytes": s.dropped,
        }

    def describe(self) -> str:
        if self.info is None:
            return self.spec
        return f"{self.spec} ({self.info.name or '?'} {self.info.address}, MTU {self.mtu}, RSSI {self.info.rssi} dBm)"

    # -------------------------------------------------------------- open / close
    def open(self) -> None:
        """Scan, connect, subscribe. A no-op when already open; after a loss, call close() first (or not)."""
        with self._open_lock:
            if self.is_open:
                return
            self._release()
            self._loop = _ble_loop()
            self._stream = _ByteStream()
            try:
                self._loop.run(self._open_async(self._stream), self.scan_timeout + self.connect_timeout + 5.0)
            except BridgeError:
                self._release()
                raise
            except Exception as exc:
                self._release()
                reason = _no_bluetooth_reason(exc)
                if reason is not None:
                    raise PortNotFound(f"{self.spec}: {reason}") from None
                raise PortNotFound(f"{self.spec}: found the device but could not connect: {_one_line(exc)}") from None

    async def _open_async(self, stream: _ByteStream) -> None:
        from bleak import BleakClient

        t0 = time.monotonic()
        hit = await _scan_for(self.target, self.scan_timeout)
        if hit is None:
            raise PortNotFound(
                f"no BLE device {self.target.describe()} found in {self.scan_timeout:g} s "
                f"(is it on, advertising and not connected elsewhere? `dexumi devices` lists "
                f"what is around)"
            )
        device, adv = hit

        def on_disconnect(_client: Any) -> None:
            stream.mark_lost(f"{self.spec}: BLE link lost (device disconnected)")

        client = BleakClient(
            device, disconnected_callback=on_disconnect, services=[SERVICE_UUID], timeout=self.connect_timeout
        )
        if client.backend_id == "bluez_dbus":
            self._watch = _BlueZWatch()
            await self._watch.start(stream, self.spec)
        await client.connect()
        self._client = client
        service = client.services.get_service(SERVICE_UUID)
        samples = service.get_characteristic(SAMPLES_CHAR_UUID) if service else None
        commands = service.get_characteristic(COMMANDS_CHAR_UUID) if service else None
        if samples is None or commands is None:
            await client.disconnect()
            self._client = None
            raise ProtocolMismatch(
                f"{self.spec}: {device.address} has no dexumi GATT service {SERVICE_UUID} "
                f"with samples and commands characteristics"
            )
        self._samples, self._commands = samples, commands
        await client.start_notify(samples, lambda _char, data: stream.push(bytes(data)))
        if not client.is_connected:  # dropped while subscribing
            stream.mark_lost(f"{self.spec}: BLE link lost while subscribing")
        self.info = BleLinkInfo(
            device.address,
            adv.local_name or device.name,
            adv.rssi,
            self._read_mtu(client, samples),
            time.monotonic() - t0,
        )
        log.info("BLE connected: %s in %.2f s", self.describe(), self.info.connect_s)

    @staticmethod
    def _read_mtu(client: Any, char: Any) -> int:
        """BlueZ negotiates the MTU itself and publishes it per characteristic; other backends via mtu_size."""
        try:
            if client.backend_id == "bluez_dbus":
                return int(char.max_write_without_response_size) + ATT_NOTIFY_OVERHEAD
            return int(client.mtu_size)
        except Exception:  # the connection is going away: keep the default
            return DEFAULT_ATT_MTU

    def close(self) -> None:
        """Unsubscribe and disconnect (best effort, bounded time); safe to call at any time."""
        with self._open_lock:
            self._release()

    def _release(self) -> None:
        client, self._client = self._client, None
        watch, self._watch = self._watch, None
        self._samples = self._commands = None
        self._stream.mark_lost(f"{self.spec}: closed")
        if (client is None and watch is None) or self._loop is None or not self._loop.alive:
            return
        try:
            self._loop.run(self._close_async(client, watch), CLOSE_TIMEOUT)
        except Exception as exc:
            log.debug("BLE close of %s: %s", self.spec, _one_line(exc))

    @staticmethod
    async def _close_async(client: Any, watch: _BlueZWatch | None) -> None:
        if watch is not None:
            watch.stop()
        if client is None:
            return
        try:
            await client.disconnect()
        except Exception as exc:
            log.debug("BLE disconnect: %s", _one_line(exc))

    # -------------------------------------------------------------- bytes
    def read(self, max_bytes: int, timeout: float) -> bytes:
        return self._stream.read(max_bytes, timeout)

    def write(self, data: bytes) -> None:
        """Send bytes to the commands characteristic, in pieces that fit one ATT write."""
        with self._write_lock:
            client, char, loop = self._client, self._commands, self._loop
            if client is None or char is None or loop is None or self._stream.lost is not None:
                raise TransportLost(self._stream.lost or f"{self.spec} is not open")
            try:
                loop.run(self._write_async(client, char, bytes(data)), WRITE_TIMEOUT)
            except Exception as exc:
                self._stream.mark_lost(f"{self.spec}: BLE write failed: {_one_line(exc)}")
                raise TransportLost(f"{self.spec}: BLE write failed: {_one_line(exc)}") from None

    @staticmethod
    async def _write_async(client: Any, char: Any, data: bytes) -> None:
        no_response = "write-without-response" in char.properties
        size = max(1, char.max_write_without_response_size) if no_response else 512
        for i in range(0, len(data), size):
            await client.write_gatt_char(char, data[i : i + size], response=not no_response)

"""Launcher: ``python -m tests.fakebluez [--start-bus] [device options]``.

Prints one JSON line ``{"ready": true, "bus": ADDRESS, ...}`` when org.bluez is owned, then serves until
SIGTERM/SIGINT. Point bleak at it with ``DBUS_SYSTEM_BUS_ADDRESS=ADDRESS``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from dataclasses import fields

from .bus import PrivateBus
from .config import AdapterConfig, DeviceConfig
from .service import FakeBlueZ

log = logging.getLogger("fakebluez")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    d = DeviceConfig()
    p = argparse.ArgumentParser(
        prog="python -m tests.fakebluez", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--bus",
        default=os.environ.get("DBUS_SYSTEM_BUS_ADDRESS"),
        help="D-Bus address to serve on (default: $DBUS_SYSTEM_BUS_ADDRESS)",
    )
    p.add_argument("--start-bus", action="store_true", help="start a private dbus-daemon and serve on it")
    p.add_argument("--name", default=d.name, help="advertised device name")
    p.add_argument("--address", default=d.address, help="device address AA:BB:CC:DD:EE:FF")
    p.add_argument("--rssi", type=int, default=d.rssi)
    p.add_argument(
        "--no-service-uuid",
        dest="advertise_service",
        action="store_false",
        help="do not advertise the dexumi service UUID",
    )
    p.add_argument("--mtu", type=int, default=d.mtu, help="ATT MTU (23 = default, 247 = typical after exchange)")
    p.add_argument("--rate", dest="rate_hz", type=float, default=d.rate_hz, help="sample rate (Hz)")
    p.add_argument("--channels", type=int, default=d.channels)
    p.add_argument("--width", type=int, default=d.width, choices=(2, 3, 4))
    p.add_argument("--batch", type=int, default=d.batch, help="samples per frame (0 = ceil(rate/500))")
    p.add_argument(
        "--interval-ms",
        dest="connection_interval_ms",
        type=float,
        default=d.connection_interval_ms,
        help="connection interval (one burst of notifications per interval)",
    )
    p.add_argument(
        "--packets",
        dest="packets_per_event",
        type=int,
        default=d.packets_per_event,
        help="notifications per connection event at most",
    )
    p.add_argument("--drop-after", type=float, default=None, help="force a disconnect this many s after Connect")
    p.add_argument("--drops", type=int, default=d.drops, help="number of forced disconnects")
    p.add_argument(
        "--reappear-after",
        type=float,
        default=d.reappear_after,
        help="seconds the device stays away after a forced disconnect",
    )
    p.add_argument("--autostart", action="store_true", help="stream on StartNotify without a START command")
    p.add_argument("--log", dest="log_path", default=None, help="ground-truth JSON lines file")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if not args.bus and not args.start_bus:
        p.error("give --bus ADDRESS (or set DBUS_SYSTEM_BUS_ADDRESS) or --start-bus")
    return args


def device_config(args: argparse.Namespace) -> DeviceConfig:
    names = {f.name for f in fields(DeviceConfig)}
    return DeviceConfig(**{k: v for k, v in vars(args).items() if k in names})


async def serve(cfg: AdapterConfig, address: str, extra: dict) -> int:
    bluez = FakeBlueZ(cfg, address)
    await bluez.start()
    print(json.dumps({"ready": True, "bus": address, "devices": [d.path for d in bluez.devices], **extra}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    lost = loop.create_task(bluez.bus.wait_for_disconnect())
    waiter = loop.create_task(stop.wait())
    await asyncio.wait({lost, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if lost.done():
        log.error("the fake BlueZ lost its D-Bus connection: %r", lost.exception() if not lost.cancelled() else None)
        return 1
    for dev in bluez.devices:
        log.info("%s: %s", dev.cfg.name, dev.stats)
    await bluez.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="fakebluez %(levelname)s %(name)s: %(message)s",
    )
    cfg = AdapterConfig(devices=[device_config(args)])
    bus = PrivateBus() if args.start_bus else None
    address = bus.start() if bus else args.bus
    extra = {"export": f"export DBUS_SYSTEM_BUS_ADDRESS={address}"} if bus else {}
    try:
        return asyncio.run(serve(cfg, address, extra))
    finally:
        if bus:
            bus.stop()


if __name__ == "__main__":
    sys.exit(main())

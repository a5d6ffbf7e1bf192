"""`dexumi devices`: what is plugged in — encoder serial ports, cameras, and BLE boards in range."""

from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "devices",
        help="list serial ports, cameras and BLE encoder boards",
        description="List the encoder boards and cameras this machine can see.",
    )
    p.add_argument("--json", action="store_true", help="one JSON object instead of text")
    p.add_argument("--no-ble", action="store_true", help="skip the Bluetooth scan")
    p.add_argument("--ble-timeout", type=float, default=3.0, help="seconds to scan for BLE boards")
    p.set_defaults(handler=run)


def _cameras() -> list[dict]:
    try:
        from dexumi.devices.cameras import list_cameras
    except ImportError:  # the camera drivers are optional at this layer
        return []
    return [c if isinstance(c, dict) else vars(c) for c in list_cameras()]


def run(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from firmware_bridge.transports.serial_port import list_serial_ports

    serial_ports = [asdict(p) for p in list_serial_ports()]
    cameras = _cameras()
    ble: list[dict] = []
    if not args.no_ble:
        from firmware_bridge.transports.ble import scan_ble

        ble = scan_ble(args.ble_timeout)
    if args.json:
        print(json.dumps({"serial": serial_ports, "cameras": cameras, "ble": ble}))
        return 0
    print("Serial ports (use with --port):")
    if serial_ports:
        for p in list_serial_ports():
            print("  " + p.summary())
    else:
        print("  none found (plug in the encoder board; on Linux it shows as /dev/ttyACM* or /dev/ttyUSB*)")
    print("Cameras (use with --camera):")
    if cameras:
        for c in cameras:
            print("  " + "  ".join(str(c.get(k)) for k in ("spec", "name", "by_id") if c.get(k)))
    else:
        print("  none found (no /dev/video* devices); 'sim' and 'file:PATH' always work")
    if not args.no_ble:
        print("BLE encoder boards (use with --port ble:NAME):")
        if ble:
            for b in ble:
                print(
                    f"  ble:{b.get('name') or b.get('address')}  {b.get('address')}  RSSI {b.get('rssi')} dBm"
                    + ("" if b.get("has_service", True) else "  (not a dexumi board)")
                )
        else:
            print("  none found (or no Bluetooth adapter on this machine)")
    print("Simulated: --port sim, --camera sim")
    return 0

"""Throughput and reconnect time of the BLE rig (bleak's BlueZ backend + the fake BlueZ), as JSON lines.

    .venv/bin/python -m tests.fakebluez.bench [--seconds 3]

For each ATT MTU and pacing (notifications per 7.5 ms connection event) the fake streams at its maximum
rate (4 kHz x 16 channels); the host measures what arrives. Two unpaced rows at 4 kHz x 64 channels x 4 B
show the ceiling of the rig itself (dbus-daemon + bleak + Python), not of any radio.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
from pathlib import Path

from firmware_bridge.errors import PortNotFound
from firmware_bridge.protocol import MsgType
from firmware_bridge.transports.base import TransportLost
from firmware_bridge.transports.ble import BleTransport

from .bus import PrivateBus
from .config import DeviceConfig
from .harness import FakeBlueZProcess, HostSession


def measure_throughput(
    bus: str, mtu: int, packets: int, seconds: float, tmp: Path, channels: int = 16, width: int = 3
) -> dict:
    cfg = DeviceConfig(
        name=f"bench-{mtu}-{packets}-{channels}",
        mtu=mtu,
        packets_per_event=packets,
        rate_hz=4000,
        channels=channels,
        width=width,
        log_path=str(tmp / f"bench-{mtu}-{packets}-{channels}.jsonl"),
    )
    with FakeBlueZProcess(bus, cfg), BleTransport(f"ble:{cfg.name}") as t:
        s = HostSession(t)
        s.send(MsgType.START)
        s.pump(0.5)  # settle
        b0, n0, t0 = t.stats["bytes"], t.stats["notifications"], time.monotonic()
        lost = False
        try:
            s.pump(seconds)
        except TransportLost:
            lost = True
        dt = time.monotonic() - t0
        b1, n1 = t.stats["bytes"], t.stats["notifications"]
    return {
        "mtu": mtu,
        "packets_per_event": packets,
        "paced_limit_Bps": round((mtu - 3) * packets / 0.0075),
        "bytes_per_s": round((b1 - b0) / dt),
        "notifications_per_s": round((n1 - n0) / dt),
        "channels": channels,
        "samples_per_s": round(s.decoder.stats.samples / (dt + 0.5)),
        "link_dropped": lost,
        "crc_errors": s.decoder.stats.crc_errors,
        "gaps": s.decoder.stats.gaps,
    }


def measure_reconnect(bus: str, tmp: Path, away: float) -> dict:
    cfg = DeviceConfig(name="bench-drop", drop_after=0.5, reappear_after=away, log_path=str(tmp / "drop.jsonl"))
    with FakeBlueZProcess(bus, cfg):
        t = BleTransport("ble:bench-drop", scan_timeout=2)
        t0 = time.monotonic()
        t.open()
        first_open = time.monotonic() - t0
        try:
            while True:
                t.read(1 << 16, 0.1)
        except TransportLost:
            lost = time.monotonic()
        t.close()
        while True:
            try:
                t.open()
                break
            except PortNotFound:
                time.sleep(0.05)
        back = time.monotonic() - lost
        t.close()
    return {
        "first_open_s": round(first_open, 3),
        "away_s": away,
        "reconnect_s": round(back, 3),
        "reconnect_minus_away_s": round(back - away, 3),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=3.0)
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with PrivateBus() as bus, tempfile.TemporaryDirectory() as tmp:
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = bus.address
        for mtu in (23, 247):
            for packets in (4, 6, 1000):
                print(json.dumps(measure_throughput(bus.address, mtu, packets, args.seconds, Path(tmp))), flush=True)
        for mtu in (23, 247):  # the rig's own ceiling: 4 kHz x 64 channels x 4 B, unpaced
            print(json.dumps(measure_throughput(bus.address, mtu, 1000, args.seconds, Path(tmp), 64, 4)), flush=True)
        print(json.dumps(measure_reconnect(bus.address, Path(tmp), 0.5)), flush=True)


if __name__ == "__main__":
    main()

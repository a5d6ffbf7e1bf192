"""Forced BLE disconnects (the fake drops the link, stays away, comes back) and automatic reconnects:
a small reconnect loop on the bare transport, the encoder driver, and `dexumi stream` end to end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fakebluez.fixtures import ble_bus, require_dbus_daemon, start_fake
from fakebluez.harness import HostSession

from firmware_bridge.errors import PortNotFound
from firmware_bridge.protocol import MsgType
from firmware_bridge.transports.base import TransportLost
from firmware_bridge.transports.ble import BleTransport

require_dbus_daemon()


def reopen(t: BleTransport, give_up_s: float = 10.0) -> float:
    """close + open with back-off until the device is back; returns the seconds it took."""
    t0 = time.monotonic()
    t.close()
    delay = 0.05
    while True:
        try:
            t.open()
            return time.monotonic() - t0
        except PortNotFound:
            assert time.monotonic() - t0 < give_up_s, "the device did not come back"
            time.sleep(delay)
            delay = min(0.5, delay * 2)


def test_ble_forced_disconnect_then_reconnect(start_fake) -> None:
    fake = start_fake(name="glove-drop", drop_after=1.0, reappear_after=0.5, rate_hz=200, channels=16)
    t = BleTransport("ble:glove-drop", scan_timeout=2)
    t.open()
    s = HostSession(t)
    s.send(MsgType.GET_INFO)
    s.send(MsgType.START)
    reconnects: list[float] = []
    end = time.monotonic() + 3.5
    while time.monotonic() < end:
        try:
            s.pump(0.1)
        except TransportLost:
            reconnects.append(reopen(t))
            s.decoder.mark_reconnect()
            s.send(MsgType.GET_INFO)
            s.send(MsgType.START)
    s.send(MsgType.STOP)
    s.drain()
    t.close()

    truth = fake.truth()
    assert [e["reason"] for e in truth.events if e["event"] == "disconnected"][:1] == ["forced"]
    assert truth.count("connected") == 2 and len(reconnects) == 1
    assert 0.4 < reconnects[0] < 3.0, reconnects  # away 0.5 s, then one advertising interval + connect
    index, t_us, values = s.samples()
    assert len(truth.index) > 400
    np.testing.assert_array_equal(index, truth.index)  # nothing the fake sent was lost or repeated
    np.testing.assert_array_equal(t_us, truth.t_us)
    np.testing.assert_array_equal(values, truth.values)
    assert s.decoder.stats.crc_errors == 0 and s.decoder.stats.duplicates == 0


def test_ble_encoder_driver_reconnects(start_fake) -> None:
    """The colleague's EncoderDriver routes ble: specs to BleTransport and reconnects by itself."""
    from dexumi.devices.encoder import EncoderConfig, EncoderDriver

    fake = start_fake(name="glove-driver", drop_after=1.0, reappear_after=0.4, rate_hz=200, channels=16)
    batches = []
    with EncoderDriver(EncoderConfig("ble:glove-driver", protocol="v1")) as driver:
        end = time.monotonic() + 3.5
        while time.monotonic() < end:
            batches += driver.read(timeout=0.1)
        stats = driver.stats()
    assert stats.reconnects == 1 and stats.crc_errors == 0 and stats.duplicates == 0
    index = np.concatenate([b.index for b in batches])
    values = np.concatenate([b.raw for b in batches])
    truth = fake.truth()
    n = len(index)
    assert n > 400 and len(truth.index) - n < 40  # all but what was in flight when the driver stopped reading
    np.testing.assert_array_equal(index, truth.index[:n])
    np.testing.assert_array_equal(values, truth.values[:n])


def _dexumi() -> list[str]:
    exe = Path(sys.executable).parent / "dexumi"
    return [str(exe)] if exe.exists() else [sys.executable, "-c", "from apps.cli.main import main; main()"]


def test_ble_cli_stream_json(start_fake, ble_bus: str) -> None:
    """`dexumi stream --port ble:NAME --seconds 3 --json` against the fake, with one forced drop."""
    fake = start_fake(name="glove-cli", drop_after=1.0, reappear_after=0.3, rate_hz=200, channels=16)
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": ble_bus}
    p = subprocess.run(
        [*_dexumi(), "stream", "--port", "ble:glove-cli", "--seconds", "3", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    report = json.loads(p.stdout.strip().splitlines()[-1])
    truth = fake.truth()
    assert report["protocol"] == "v1" and report["channels"] == 16
    assert report["reconnects"] == 1 and len(report["gap_events"]) == 1
    assert report["crc_errors"] == 0 and report["duplicates"] == 0 and report["missing_samples"] == 0
    assert 300 < report["samples"] <= len(truth.index)
    assert truth.count("connected") == 2


def test_ble_bluez_crash_is_a_loss_and_the_link_comes_back(start_fake) -> None:
    """bluetoothd dying silently (here: the fake, SIGKILLed) must end the stream, not hang it."""
    fake = start_fake(name="glove-crash")
    t = BleTransport("ble:glove-crash", scan_timeout=3)
    t.open()
    s = HostSession(t)
    s.send(MsgType.START)
    s.pump(0.5)
    before = s.decoder.stats.samples
    assert before > 50
    assert fake.proc is not None
    os.killpg(fake.proc.pid, signal.SIGKILL)
    t0 = time.monotonic()
    with pytest.raises(TransportLost):
        s.pump(5.0)
    assert time.monotonic() - t0 < 1.0
    start_fake(name="glove-crash")  # bluetoothd is back (a new process: the board restarted too)
    reopen(t)
    s.decoder.mark_reconnect()
    s.send(MsgType.START)
    s.pump(0.5)
    t.close()
    assert s.decoder.stats.samples > before + 50 and s.decoder.stats.device_resets == 1

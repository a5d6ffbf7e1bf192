"""BLE link through bleak's real BlueZ backend, against the fake BlueZ on a private dbus-daemon.

Every test starts its own fake (one device); the module shares one bus. The fake logs what it sent, so
samples are compared exactly: index, device time and every channel value.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
from fakebluez.fixtures import ble_bus, require_dbus_daemon, start_fake
from fakebluez.harness import FakeBlueZProcess, HostSession

from firmware_bridge import protocol
from firmware_bridge.errors import PortNotFound
from firmware_bridge.protocol import AckStatus, MsgType
from firmware_bridge.transports.ble import BleTarget, BleTransport, scan_ble
from firmware_bridge.transports.ble_uuids import SERVICE_UUID

require_dbus_daemon()


def stream(transport: BleTransport, seconds: float) -> HostSession:
    """GET_INFO, START, read `seconds`, STOP, drain: the whole session decoded."""
    s = HostSession(transport)
    s.send(MsgType.GET_INFO)
    s.send(MsgType.START)
    s.pump(seconds)
    s.send(MsgType.STOP)
    s.drain()
    return s


def assert_matches_truth(session: HostSession, fake: FakeBlueZProcess, min_samples: int) -> None:
    truth = fake.truth()
    index, t_us, values = session.samples()
    assert len(truth.index) >= min_samples
    assert len(index) == len(truth.index), f"received {len(index)} samples, the fake sent {len(truth.index)}"
    np.testing.assert_array_equal(index, truth.index)  # once each, in order
    np.testing.assert_array_equal(t_us, truth.t_us)
    np.testing.assert_array_equal(values, truth.values)  # exact values
    st = session.decoder.stats
    assert (st.crc_errors, st.resync_bytes, st.gaps, st.missing_frames, st.duplicates, st.out_of_order) == (
        0,
        0,
        0,
        0,
        0,
        0,
    ), st


def test_ble_lossless_200hz_16ch(start_fake) -> None:
    fake = start_fake(name="glove-lossless", rate_hz=200, channels=16, mtu=247)
    with BleTransport("ble:glove-lossless", scan_timeout=5) as t:
        session = stream(t, 4.0)
    assert_matches_truth(session, fake, min_samples=780)


@pytest.mark.parametrize("mtu,batch", [(23, 1), (23, 8), (247, 1), (247, 8)])
def test_ble_reassembly_across_notifications(start_fake, mtu: int, batch: int) -> None:
    """Frames split into MTU-3-byte notifications (and frames > 254 B, COBS's block) come back whole."""
    fake = start_fake(name=f"glove-mtu{mtu}", mtu=mtu, batch=batch, rate_hz=200, channels=16, packets_per_event=8)
    with BleTransport(f"ble:glove-mtu{mtu}", scan_timeout=5) as t:
        assert t.mtu == mtu
        session = stream(t, 1.5)
        stats = t.stats
    assert_matches_truth(session, fake, min_samples=250)
    frame_len = len(
        protocol.encode_frame(
            MsgType.SAMPLES, 0, 0, protocol.samples_payload(0, np.zeros(batch), np.zeros((batch, 16)), 3)
        )
    )
    assert stats["largest_notification"] <= mtu - 3
    if frame_len > mtu - 3:  # a frame never fits one notification: pieces are cut at exactly MTU-3 bytes
        assert stats["largest_notification"] == mtu - 3
        assert stats["notifications"] >= stats["bytes"] / (mtu - 3)


def test_ble_commands_acknowledged(start_fake) -> None:
    """At MTU 23 a PING frame (27 B) does not fit one write: the transport splits it, the board reassembles."""
    start_fake(name="glove-cmd", mtu=23)
    with BleTransport("ble:glove-cmd", scan_timeout=5) as t:
        s = HostSession(t)
        info_seq = s.send(MsgType.GET_INFO)
        ack = s.wait_for(lambda m: isinstance(m, protocol.Ack) and m.command_seq == info_seq)
        assert ack is not None and ack.command == MsgType.GET_INFO and ack.status is AckStatus.OK
        info = s.wait_for(lambda m: isinstance(m, protocol.DeviceInfo))
        assert info is not None and info.channels == 16 and info.rate_hz == 200
        assert len(protocol.command_frame(MsgType.PING, 0, token=1)) > 20
        token = 0x0123456789ABCDEF
        ping_seq = s.send(MsgType.PING, token=token)
        pong = s.wait_for(lambda m: isinstance(m, protocol.Pong) and m.command_seq == ping_seq)
        assert pong is not None and pong.token == token
        bad = s.send(MsgType.SET_RATE, rate_hz=1e6)
        nak = s.wait_for(lambda m: isinstance(m, protocol.Ack) and m.command_seq == bad)
        assert nak is not None and nak.status is AckStatus.BAD_ARGUMENT
        rate_seq = s.send(MsgType.SET_RATE, rate_hz=500)
        ok = s.wait_for(lambda m: isinstance(m, protocol.Ack) and m.command_seq == rate_seq)
        assert ok is not None and ok.status is AckStatus.OK


def test_ble_rssi_and_link_info(start_fake) -> None:
    start_fake(name="glove-rssi", address="C0:FF:EE:00:00:42", rssi=-61, mtu=185)
    t = BleTransport("ble:glove-rssi", scan_timeout=5)
    assert not t.is_open and t.rssi is None
    t.open()
    try:
        assert t.is_open
        assert t.rssi in (-61, -62)
        assert t.mtu == 185
        assert t.info is not None and t.info.address == "C0:FF:EE:00:00:42" and t.info.name == "glove-rssi"
        assert "RSSI" in t.describe() and "MTU 185" in t.describe()
        t.open()  # re-entrant: already open is a no-op
        assert t.is_open
    finally:
        t.close()
    assert not t.is_open
    t.close()  # closing twice is harmless


def test_ble_scan_by_name_and_by_service(start_fake) -> None:
    start_fake(name="glove-scan", address="C0:FF:EE:00:00:07")
    found = scan_ble(0.6)
    ours = [d for d in found if d["name"] == "glove-scan"]
    assert ours and ours[0]["has_service"] and ours[0]["address"] == "C0:FF:EE:00:00:07"
    assert ours[0]["rssi"] is not None and ours[0]["spec"] == "ble:glove-scan"
    for spec in ("ble:", "ble:c0:ff:ee:00:00:07", "ble:glove-scan"):  # by service UUID, address, name
        t0 = time.monotonic()
        with BleTransport(spec, scan_timeout=5) as t:
            assert t.info is not None and t.info.address == "C0:FF:EE:00:00:07"
        assert time.monotonic() - t0 < 3.0


def test_ble_name_only_advertiser(start_fake) -> None:
    """A board that does not put the service UUID in its advertisement is found by name, not by `ble:`."""
    start_fake(name="glove-noadv", advertise_service=False)
    with BleTransport("ble:glove-noadv", scan_timeout=5) as t:
        assert t.is_open
    with pytest.raises(PortNotFound):
        BleTransport("ble:", scan_timeout=0.5).open()


def test_ble_missing_device_is_one_line_port_not_found(start_fake) -> None:
    start_fake(name="glove-present")
    t = BleTransport("ble:no-such-glove", scan_timeout=0.5)
    with pytest.raises(PortNotFound) as err:
        t.open()
    message = str(err.value)
    assert "\n" not in message and "no-such-glove" in message
    assert not t.is_open


def test_ble_spec_parsing() -> None:
    assert BleTarget.parse("ble:") == BleTarget()
    assert BleTarget.parse("ble:aa-bb-cc-dd-ee-ff") == BleTarget(address="AA:BB:CC:DD:EE:FF")
    assert BleTarget.parse("ble:my glove") == BleTarget(name="my glove")
    assert BleTarget().matches("X", None, [SERVICE_UUID.upper()])
    with pytest.raises(PortNotFound):
        BleTarget.parse("/dev/ttyACM0")


def test_ble_without_bluetooth_is_clean() -> None:
    """No system bus / no BlueZ: scan_ble returns [] and open() is a one-line PortNotFound (own process)."""
    code = (
        "from firmware_bridge.transports.ble import BleTransport, scan_ble\n"
        "from firmware_bridge.errors import PortNotFound\n"
        "assert scan_ble(0.3) == []\n"
        "try:\n    BleTransport('ble:glove', scan_timeout=0.3).open()\n"
        "except PortNotFound as e:\n    print('PortNotFound:', e)\n"
    )
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent/dexumi-no-bus"}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("PortNotFound: ble:glove:") and "D-Bus" in lines[0]

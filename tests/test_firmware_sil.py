"""Software-in-the-loop: the firmware core compiled with the host's cc into a device on a pseudo-terminal
(boards/host_sil), driven and read through pyserial by the Python protocol code."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import serial

from firmware_bridge.firmware.testing import (
    Capture,
    built,
    missing_tools,
    read_for,
    read_until,
    sil_device,
    synth_values,
)
from firmware_bridge.protocol import (
    Ack,
    AckStatus,
    DeviceError,
    DeviceInfo,
    ErrorCode,
    MsgType,
    Pong,
    command_frame,
    encode_frame,
)

pytestmark = pytest.mark.skipif(missing_tools("cc") is not None, reason=str(missing_tools("cc")))

CHANNELS = 16


def open_port(path: str) -> serial.Serial:
    return serial.Serial(path, 921600, timeout=0.02)


def acks(cap: Capture) -> list[tuple[int, int, AckStatus]]:
    return [(m.command_seq, m.command, m.status) for m in cap.messages if isinstance(m, Ack)]


def errors(cap: Capture) -> list[tuple[int, int]]:
    return [(m.code, m.detail) for m in cap.messages if isinstance(m, DeviceError)]


def test_sil_builds_with_host_cc() -> None:
    exe = built("host_sil")
    assert exe.is_file() and exe.stat().st_size > 0


@pytest.mark.parametrize("rate_hz", [1000.0, 2000.0])
def test_sil_streams_exact_values_at_the_commanded_rate(rate_hz: float) -> None:
    seconds = 1.5
    with sil_device() as (path, _), open_port(path) as port:
        cap = Capture()
        port.write(
            command_frame(MsgType.GET_INFO, 1)
            + command_frame(MsgType.SET_RATE, 2, rate_hz=rate_hz)
            + command_frame(MsgType.START, 3)
        )
        read_for(port, cap, seconds)
    assert acks(cap) == [
        (1, MsgType.GET_INFO, AckStatus.OK),
        (2, MsgType.SET_RATE, AckStatus.OK),
        (3, MsgType.START, AckStatus.OK),
    ]
    info = next(m for m in cap.messages if isinstance(m, DeviceInfo))
    assert (info.device_id, info.model, info.firmware) == ("SIL-0001", "dexumi-host-sil", (1, 0, 0))
    assert (info.channels, info.resolution_bits, info.sample_width, info.max_batch) == (CHANNELS, 24, 3, 32)
    assert (info.rate_hz, info.max_rate_hz) == (1000.0, 8000.0)  # the rate when GET_INFO arrived

    index = cap.index
    assert len(index) >= 0.8 * rate_hz * seconds
    assert np.array_equal(index, np.arange(len(index)))  # from 0, contiguous
    assert np.array_equal(cap.values, synth_values(index, CHANNELS))
    stats = cap.decoder.stats
    assert (stats.crc_errors, stats.missing_frames, stats.gaps, stats.resync_bytes) == (0, 0, 0, 0)
    batch = math.ceil(rate_hz / 500)  # automatic batching: 500 frames/s
    assert stats.messages["SAMPLES"] * batch == len(index)

    period_us = np.diff(cap.device_time_us).mean()
    assert abs(period_us - 1e6 / rate_hz) < 0.01 * 1e6 / rate_hz
    assert abs(cap.host_rate_hz() - rate_hz) < 0.05 * rate_hz  # against the host's own clock


def test_sil_commands_are_acknowledged_and_bad_ones_rejected() -> None:
    with sil_device() as (path, _), open_port(path) as port:
        cap = Capture()
        token = 0x0123456789ABCDEF
        port.write(command_frame(MsgType.PING, 10, token=token))
        assert read_until(port, cap, lambda c: any(isinstance(m, Pong) for m in c.messages), 2.0)
        pong = next(m for m in cap.messages if isinstance(m, Pong))
        assert (pong.command_seq, pong.token) == (10, token)
        assert 0 <= (pong.device_tx_us - pong.device_rx_us) % (1 << 32) < 100_000

        port.write(
            command_frame(MsgType.SET_RATE, 11, rate_hz=0.0)
            + command_frame(MsgType.SET_RATE, 12, rate_hz=100_000.0)
            + command_frame(MsgType.SET_BATCH, 13, batch=33)
            + encode_frame(MsgType.SET_BATCH, 14, 0, b"\x00\x00")
            + encode_frame(MsgType.START, 15, 0, b"\x01")
            + encode_frame(0x1F, 16, 0)
            + encode_frame(MsgType.SAMPLES, 17, 0)
            + b"\x05\x01\x02\x03\x04\x00"  # not a frame: COBS says 4 more bytes, CRC cannot match
            + command_frame(MsgType.SET_RATE, 18, rate_hz=250.0)
            + command_frame(MsgType.SET_BATCH, 19, batch=8)
            + command_frame(MsgType.GET_INFO, 20)
        )
        assert read_until(port, cap, lambda c: any(isinstance(m, DeviceInfo) for m in c.messages), 2.0)
        assert acks(cap) == [
            (11, MsgType.SET_RATE, AckStatus.BAD_ARGUMENT),
            (12, MsgType.SET_RATE, AckStatus.BAD_ARGUMENT),
            (13, MsgType.SET_BATCH, AckStatus.BAD_ARGUMENT),
            (14, MsgType.SET_BATCH, AckStatus.BAD_ARGUMENT),
            (15, MsgType.START, AckStatus.BAD_ARGUMENT),
            (16, 0x1F, AckStatus.UNSUPPORTED),
            (17, MsgType.SAMPLES, AckStatus.UNSUPPORTED),
            (18, MsgType.SET_RATE, AckStatus.OK),
            (19, MsgType.SET_BATCH, AckStatus.OK),
            (20, MsgType.GET_INFO, AckStatus.OK),
        ]
        assert errors(cap) == [
            (ErrorCode.BAD_COMMAND, 0x1F),
            (ErrorCode.BAD_COMMAND, MsgType.SAMPLES),
            (ErrorCode.FRAME_ERROR, 1),
        ]
        info = next(m for m in cap.messages if isinstance(m, DeviceInfo))
        assert info.rate_hz == 250.0
        assert cap.index.size == 0  # nothing started yet: a START with a payload was refused

        port.write(command_frame(MsgType.START, 21))
        read_for(port, cap, 0.5)
        port.write(command_frame(MsgType.STOP, 22))
        assert read_until(port, cap, lambda c: (22, MsgType.STOP, AckStatus.OK) in acks(c), 2.0)
        read_for(port, cap, 0.1)  # the partial batch flushed after STOP
        stopped = len(cap.index)
        read_for(port, cap, 0.3)
    assert acks(cap)[-2:] == [(21, MsgType.START, AckStatus.OK), (22, MsgType.STOP, AckStatus.OK)]
    assert len(cap.index) == stopped  # nothing after STOP
    assert 0.8 * 125 <= stopped <= 1.2 * 250  # 0.5-1 s at 250 Hz
    assert np.array_equal(cap.index, np.arange(stopped))
    assert np.array_equal(cap.values, synth_values(cap.index, CHANNELS))
    frames = cap.decoder.stats.messages["SAMPLES"]
    assert frames == math.ceil(stopped / 8)  # batches of 8, the last one flushed by STOP
    assert abs(np.diff(cap.device_time_us).mean() - 4000.0) < 40.0


def test_sil_device_clock_wraps_cleanly() -> None:
    rate_hz = 2000.0
    offset = (1 << 32) - 300_000  # the 32-bit microsecond clock wraps 0.3 s after power-up
    with sil_device("--time-offset", str(offset)) as (path, _), open_port(path) as port:
        cap = Capture()
        port.write(command_frame(MsgType.SET_RATE, 1, rate_hz=rate_hz) + command_frame(MsgType.START, 2))
        read_for(port, cap, 1.0)
    t = cap.device_time_us
    assert t[0] < (1 << 32) < t[-1]  # unwrapped across the wrap
    steps = np.diff(t)
    # stamps are the clock when each sample was read: a late poll catches up with samples microseconds apart
    assert steps.min() >= 0 and steps.max() < 50_000
    assert abs(steps.mean() - 500.0) < 5.0
    assert np.array_equal(cap.index, np.arange(len(cap.index)))
    assert cap.decoder.stats.device_resets == 0


def test_sil_ring_overflow_is_reported_with_the_lost_count() -> None:
    """The host stops reading: the pty fills, then the device's ring; it must say how many samples it lost,
    and exactly those must be missing from the stream."""
    with sil_device() as (path, _), open_port(path) as port:
        cap = Capture()
        port.write(command_frame(MsgType.SET_RATE, 1, rate_hz=2000.0) + command_frame(MsgType.START, 2))
        time.sleep(2.0)
        read_for(port, cap, 1.0)
    lost = [detail for code, detail in errors(cap) if code == ErrorCode.BUFFER_OVERFLOW]
    stats = cap.decoder.stats
    assert len(lost) >= 1 and stats.gaps >= 1
    assert sum(lost) == stats.missing_samples > 500  # ~1 s of 2 kHz samples could not be buffered
    assert (stats.crc_errors, stats.missing_frames) == (0, 0)
    index = cap.index
    assert index[0] == 0 and index[-1] + 1 == len(index) + stats.missing_samples
    assert np.array_equal(cap.values, synth_values(index, CHANNELS))

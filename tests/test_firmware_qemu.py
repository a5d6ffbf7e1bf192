"""Firmware-in-the-loop: the core plus the mps2-an385 board file, built with arm-none-eabi-gcc, running
under qemu-system-arm with its UART on a pty, read by the Python decoder and by `dexumi stream`."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import serial

from firmware_bridge.firmware.testing import (
    QEMU,
    Capture,
    built,
    missing_tools,
    qemu_device,
    read_for,
    read_until,
    synth_values,
)
from firmware_bridge.protocol import Ack, AckStatus, DeviceInfo, MsgType, Pong, command_frame

log = logging.getLogger(__name__)
MISSING = missing_tools("arm-none-eabi-gcc", QEMU)
pytestmark = pytest.mark.skipif(MISSING is not None, reason=str(MISSING))
CHANNELS = 16


def dexumi_exe() -> str | None:
    exe = Path(sys.executable).with_name("dexumi")
    return str(exe) if exe.exists() else shutil.which("dexumi")


def stream_cli_missing() -> str | None:
    exe = dexumi_exe()
    if exe is None:
        return "no dexumi command installed beside this Python"
    r = subprocess.run([exe, "stream", "--help"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0 or "--port" not in r.stdout:
        return "`dexumi stream` is not available yet (the CLI subcommand is built in another issue)"
    return None


def handshake(port: serial.Serial, cap: Capture) -> DeviceInfo:
    """GET_INFO until answered: QEMU notices a newly opened pty within about a second."""
    for seq in (1, 2, 3):
        port.write(command_frame(MsgType.GET_INFO, seq))
        if read_until(port, cap, lambda c: any(isinstance(m, DeviceInfo) for m in c.messages), 1.5):
            return next(m for m in cap.messages if isinstance(m, DeviceInfo))
    raise AssertionError("the QEMU device never answered GET_INFO")


def test_qemu_image_builds_for_cortex_m3() -> None:
    elf = built("qemu")
    head = elf.read_bytes()[:4]
    assert head == b"\x7fELF"


# 1 kHz only: at 2 kHz TCG emulation on a 2-core host cannot keep the Cortex-M3's timer (QEMU drops SysTick
# interrupts, the fixed-rate scheduler then skips periods) — that measures QEMU's speed, not the firmware.
# 2 kHz is covered on the host by the SIL test (tests/test_firmware_sil.py: mean period 500.02 us, exact values).
@pytest.mark.parametrize("rate_hz", [1000.0])
def test_qemu_firmware_streams_exact_values(rate_hz: float) -> None:
    seconds = 2.0
    with qemu_device() as (path, _), serial.Serial(path, 921600, timeout=0.02) as port:
        cap = Capture()
        info = handshake(port, cap)
        port.write(
            command_frame(MsgType.SET_RATE, 10, rate_hz=rate_hz)
            + command_frame(MsgType.START, 11)
            + command_frame(MsgType.PING, 12, token=77)
        )
        read_for(port, cap, seconds)
    assert (info.device_id, info.model, info.channels, info.sample_width) == (
        "QEMU-AN385",
        "dexumi-qemu-mps2",
        CHANNELS,
        3,
    )
    assert (info.rate_hz, info.max_rate_hz) == (1000.0, 4000.0)
    acked = [(m.command_seq, m.status) for m in cap.messages if isinstance(m, Ack) and m.command_seq >= 10]
    assert acked == [(10, AckStatus.OK), (11, AckStatus.OK)]
    pongs = [m for m in cap.messages if isinstance(m, Pong)]
    assert [(p.command_seq, p.token) for p in pongs] == [(12, 77)]

    stats = cap.decoder.stats
    assert (stats.crc_errors, stats.resync_bytes, stats.missing_frames, stats.gaps) == (0, 0, 0, 0)
    index = cap.index
    assert np.array_equal(index, np.arange(len(index)))
    assert np.array_equal(cap.values, synth_values(index, CHANNELS))
    device_period = float(np.diff(cap.device_time_us).mean())
    host_rate = cap.host_rate_hz()
    log.info(
        "QEMU at %.0f Hz: %d samples, device period %.3f us, %.1f samples/s of host time",
        rate_hz,
        len(index),
        device_period,
        host_rate,
    )
    assert abs(device_period - 1e6 / rate_hz) < 0.01 * 1e6 / rate_hz  # the firmware's own clock: exact
    # Emulated time follows the host's clock (SysTick read back from QEMU's virtual clock); allow for a
    # loaded CI machine that delays QEMU, but not for a wrong time base.
    assert len(index) >= 0.7 * rate_hz * seconds
    assert 0.8 * rate_hz < host_rate < 1.2 * rate_hz


def test_qemu_dexumi_stream_reads_the_firmware() -> None:
    reason = stream_cli_missing()
    if reason is not None:
        pytest.skip(reason)
    exe = dexumi_exe()
    assert exe is not None
    seconds = 3
    with qemu_device() as (path, _):
        r = subprocess.run(
            [exe, "stream", "--port", path, "--seconds", str(seconds), "--rate", "1000", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(next(line for line in reversed(r.stdout.splitlines()) if line.startswith("{")))
    log.info("dexumi stream on QEMU: %s", {k: report.get(k) for k in ("frames", "samples", "rate_hz", "drift_ppm")})
    # Bytes damaged or cut on the line show as CRC errors: none allowed, nor reconnects. A gap without them is the
    # firmware skipping a sample period because TCG emulation missed SysTick ticks (seen under load on this
    # 2-core host even at 1 kHz): a few are QEMU's timing, not the reader's.
    assert report["crc_errors"] == 0 and report["reconnects"] == 0, report
    assert report["gaps"] <= 3, report
    assert report["samples"] >= 0.7 * 1000 * seconds
    assert report["frames"] >= report["samples"] // 2  # 2 samples per frame at 1 kHz, plus the replies
    assert abs(report["rate_hz"] - 1000.0) < 100.0
    assert abs(report["drift_ppm"]) < 10_000

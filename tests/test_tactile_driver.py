"""The tactile driver on a real pty: a consumer that polls while a frame is half-way in loses nothing."""

from __future__ import annotations

import os
import threading
import time
import tty

import numpy as np

from dexumi.devices.encoder import EncoderConfig
from dexumi.devices.tactile import TactileDriver
from firmware_bridge.tactile import fsr

WHOLE, CUT = 200, 60  # frames sent whole (the handshake's), then frames each cut in two


def _frames(n: int) -> tuple[np.ndarray, bytes]:
    """Smooth signals (the decoder rejects an isolated FSR jump as corruption), and their frames."""
    t = np.arange(n)[:, None]
    adc = np.round(2_000_000 * np.sin(t / 40.0 + np.arange(fsr.ADC_WORDS))).astype(np.int64)
    force = np.round(200 + 1000 * (1 + np.sin(t / 30.0 + np.arange(2)))).astype(np.int64)
    values = np.concatenate([adc, force], axis=1)
    return values, fsr.encode_frames(adc, force, (2 * np.arange(n)) % 65536)


def test_polls_while_a_frame_is_half_in_lose_no_frame():
    values, wire = _frames(WHOLE + CUT)
    size = fsr.FRAME_SIZE
    master, slave = os.openpty()
    tty.setraw(slave)

    def send() -> None:
        for k in range(WHOLE):
            os.write(master, wire[k * size : (k + 1) * size])
            time.sleep(0.002)
        for k in range(WHOLE, WHOLE + CUT):  # each frame's second half comes after several polls
            os.write(master, wire[k * size : k * size + size // 3])
            time.sleep(0.03)
            os.write(master, wire[k * size + size // 3 : (k + 1) * size])

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    drv = TactileDriver(EncoderConfig(os.ttyname(slave), "fsr")).start()
    batches = []
    try:
        while sender.is_alive():
            batches += drv.read()
            time.sleep(0.005)
        time.sleep(0.2)
    finally:
        drv.close()  # lets out the newest frame, held for its successor's checks
        os.close(master)
        os.close(slave)
    batches += drv.read()
    raw = np.concatenate([b.raw for b in batches])
    first = int(np.flatnonzero((values == raw[0]).all(axis=1))[0])
    assert first < WHOLE  # reading began during the whole frames
    assert np.array_equal(raw, values[first:])  # then every frame, the cut ones too, exactly and in order
    assert drv.stats().resync_bytes == 0

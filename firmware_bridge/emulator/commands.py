"""The emulated v1 board's command channel: START, STOP, SET_RATE, SET_BATCH, GET_INFO, PING → ACK, INFO, PONG,
ERROR. Legacy boards ignore whatever the host sends."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from firmware_bridge import protocol
from firmware_bridge.protocol import MsgType
from firmware_bridge.vocab import Protocol

if TYPE_CHECKING:
    from firmware_bridge.emulator.device import Emulator

TARGET_FRAME_RATE = 500.0  # v1 batches samples to keep about this many frames per second


class CommandHandler:
    """Commands in (COBS chunks on the link), the device's state changed, replies queued on its wire."""

    def __init__(self, device: Emulator) -> None:
        self.device = device
        self.buffer = bytearray()

    def poll(self, now: float) -> None:
        """Read what the host sent; answer every complete command."""
        d = self.device
        data = self.device.link.read()
        if not data or d.cfg.protocol != Protocol.V1:
            return  # legacy boards ignore whatever the host sends
        self.buffer += data
        while True:
            end = self.buffer.find(0)
            if end < 0:
                break
            chunk = bytes(self.buffer[:end])
            del self.buffer[: end + 1]
            frame = protocol.decode_wire_chunk(chunk) if chunk else None
            if frame is not None:
                self._answer(frame, time.monotonic())

    def _answer(self, frame: protocol.Frame, now: float) -> None:
        d = self.device
        rx_us = int(d.clock.device_us(now))
        kind = frame.type
        status = protocol.AckStatus.OK
        if kind == MsgType.PING:
            token = protocol.PING.unpack(frame.payload)[0] if len(frame.payload) == 8 else 0
            d.reply(MsgType.PONG, protocol.pong_payload(frame.seq, token, rx_us))
            return
        if kind == MsgType.START:
            if not d.streaming:
                d.streaming = True
                d.next_sample_us = float(d.clock.device_us(now))
        elif kind == MsgType.STOP:
            d.streaming = False
        elif kind == MsgType.SET_RATE:
            rate = protocol.RATE.unpack(frame.payload)[0] / 1000 if len(frame.payload) == 4 else 0
            if 0 < rate <= 20000:
                d.period_us = 1e6 / rate
                d.cfg.rate_hz = rate
                if d.cfg.batch is None:
                    d.batch = max(1, math.ceil(rate / TARGET_FRAME_RATE))
            else:
                status = protocol.AckStatus.BAD_ARGUMENT
        elif kind == MsgType.SET_BATCH:
            n = protocol.BATCH.unpack(frame.payload)[0] if len(frame.payload) == 2 else 0
            if 1 <= n <= 64:
                d.batch = n
            else:
                status = protocol.AckStatus.BAD_ARGUMENT
        elif kind != MsgType.GET_INFO:
            status = protocol.AckStatus.UNSUPPORTED
        d.reply(MsgType.ACK, protocol.ack_payload(frame.seq, kind, status))
        if status == protocol.AckStatus.UNSUPPORTED:
            d.reply(MsgType.ERROR, protocol.error_payload(protocol.ErrorCode.BAD_COMMAND, kind, "unknown command"))
        if kind == MsgType.GET_INFO:
            info = protocol.DeviceInfo(
                d.cfg.device_id,
                "dexumi-sim",
                (0, 1, 0),
                d.cfg.channels,
                d.cfg.resolution_bits,
                3,
                64,
                d.cfg.rate_hz,
                20000.0,
            )
            d.reply(MsgType.INFO, protocol.info_payload(info))

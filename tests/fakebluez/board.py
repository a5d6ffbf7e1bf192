"""The protocol v1 encoder board behind the fake radio: commands in, frames out, fixed-rate samples."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from firmware_bridge import protocol
from firmware_bridge.protocol import AckStatus, MsgType

from .config import DeviceConfig

log = logging.getLogger(__name__)
MAX_RATE_HZ = 4000.0
MAX_BATCH = 64


def synthetic_values(index: np.ndarray, channels: int, width: int) -> np.ndarray:
    """Deterministic, full-range, sign-varying values for sample indices (exactly reproducible)."""
    k = np.asarray(index, np.int64)[:, None]
    ch = np.arange(channels, dtype=np.int64)[None, :]
    raw = (k * 40503 + ch * 2654435761 + k * ch * 97) % (1 << (8 * width))
    return (raw - (1 << (8 * width - 1))).astype(np.int32)


@dataclass
class PendingFrame:
    """A SAMPLES frame queued for the radio; logged as sent once its last byte left."""

    end: int  # stream offset one past its last byte
    first: int
    t_us: list[int]
    values: list[list[int]]
    seq: int


class Board:
    """Protocol v1 device: parses command frames, answers, and produces SAMPLES frames at a fixed rate."""

    def __init__(self, cfg: DeviceConfig, on_sent: Callable[[PendingFrame], None]) -> None:
        self.cfg = cfg
        self.rate_hz = cfg.rate_hz
        self.batch = cfg.samples_per_frame
        self.streaming = False
        self.seq = 0
        self.next_index = 0
        self._t0 = time.monotonic()
        self._stream_t0 = 0.0
        self._stream_first = 0
        self._rx = bytearray()
        self.tx = bytearray()  # bytes waiting for the radio
        self._tx_offset = 0  # stream offset of tx[0]
        self._pending: deque[PendingFrame] = deque()
        self._on_sent = on_sent
        self.commands: dict[str, int] = {}

    # ------------------------------------------------------------------ clock and output
    def now_us(self) -> int:
        return int((time.monotonic() - self._t0) * 1e6)

    def _emit(self, msg_type: int, payload: bytes) -> bytes:
        frame = protocol.encode_frame(msg_type, self.seq, self.now_us(), payload)
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        self.tx += frame
        return frame

    # ------------------------------------------------------------------ commands
    def receive(self, data: bytes) -> None:
        """Bytes written by the host; complete COBS frames are executed."""
        self._rx += data
        while (end := self._rx.find(0)) >= 0:
            chunk = bytes(self._rx[:end])
            del self._rx[: end + 1]
            if chunk:
                frame = protocol.decode_wire_chunk(chunk)
                if frame is None:
                    log.warning("rejected a host frame of %d bytes", len(chunk))
                    continue
                self._execute(frame)

    def _ack(self, frame: protocol.Frame, status: AckStatus = AckStatus.OK) -> None:
        self._emit(MsgType.ACK, protocol.ack_payload(frame.seq, frame.type, status))

    def _execute(self, frame: protocol.Frame) -> None:
        name = MsgType(frame.type).name if frame.type in MsgType._value2member_map_ else hex(frame.type)
        self.commands[name] = self.commands.get(name, 0) + 1
        if frame.type == MsgType.START:
            self._ack(frame)
            self.start()
        elif frame.type == MsgType.STOP:
            self.stop()
            self._ack(frame)
        elif frame.type == MsgType.GET_INFO:
            self._ack(frame)
            self._emit(MsgType.INFO, protocol.info_payload(self.info()))
        elif frame.type == MsgType.PING and len(frame.payload) == protocol.PING.size:
            rx = self.now_us()
            (token,) = protocol.PING.unpack(frame.payload)
            self._emit(MsgType.PONG, protocol.pong_payload(frame.seq, token, rx))
        elif frame.type == MsgType.SET_RATE and len(frame.payload) == protocol.RATE.size:
            (mhz,) = protocol.RATE.unpack(frame.payload)
            if not 0 < mhz <= MAX_RATE_HZ * 1000:
                self._ack(frame, AckStatus.BAD_ARGUMENT)
                return
            self.rate_hz = mhz / 1000
            self._restart_clock()
            self._ack(frame)
        elif frame.type == MsgType.SET_BATCH and len(frame.payload) == protocol.BATCH.size:
            (n,) = protocol.BATCH.unpack(frame.payload)
            if not 1 <= n <= MAX_BATCH:
                self._ack(frame, AckStatus.BAD_ARGUMENT)
                return
            self.batch = n
            self._ack(frame)
        else:
            self._ack(frame, AckStatus.UNSUPPORTED)

    def info(self) -> protocol.DeviceInfo:
        return protocol.DeviceInfo(
            self.cfg.device_id,
            self.cfg.model,
            (1, 0, 0),
            self.cfg.channels,
            24,
            self.cfg.width,
            MAX_BATCH,
            self.rate_hz,
            MAX_RATE_HZ,
        )

    # ------------------------------------------------------------------ sampling
    def start(self) -> None:
        if not self.streaming:
            self.streaming = True
            self._restart_clock()

    def stop(self) -> None:
        self.streaming = False

    def _restart_clock(self) -> None:
        self._stream_t0 = time.monotonic()
        self._stream_first = self.next_index

    def produce(self) -> None:
        """Queue every whole batch of samples that is due by now."""
        if not self.streaming:
            return
        due = self._stream_first + int((time.monotonic() - self._stream_t0) * self.rate_hz)
        period_us = 1e6 / self.rate_hz
        base_us = (self._stream_t0 - self._t0) * 1e6
        while due - self.next_index >= self.batch:
            idx = np.arange(self.next_index, self.next_index + self.batch, dtype=np.int64)
            t_us = (base_us + (idx - self._stream_first) * period_us).astype(np.int64) & 0xFFFFFFFF
            values = synthetic_values(idx, self.cfg.channels, self.cfg.width)
            seq = self.seq
            self._emit(MsgType.SAMPLES, protocol.samples_payload(self.next_index, t_us, values, self.cfg.width))
            self._pending.append(
                PendingFrame(self._tx_offset + len(self.tx), self.next_index, t_us.tolist(), values.tolist(), seq)
            )
            self.next_index += self.batch

    # ------------------------------------------------------------------ radio side
    def take(self, max_bytes: int) -> bytes:
        """Up to max_bytes of the outgoing stream (one notification's payload)."""
        chunk = bytes(self.tx[:max_bytes])
        del self.tx[: len(chunk)]
        self._tx_offset += len(chunk)
        while self._pending and self._pending[0].end <= self._tx_offset:
            self._on_sent(self._pending.popleft())
        return chunk

    def link_lost(self) -> None:
        """The connection dropped: unsent bytes are gone, sampling stops, partial commands are dropped."""
        self._tx_offset += len(self.tx)
        self.tx.clear()
        self._pending.clear()
        self._rx.clear()
        self.streaming = self.cfg.autostart

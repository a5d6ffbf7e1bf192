"""Incremental decoders for tactile boards, shaped like firmware_bridge.decoder's.

`feed` bytes as they arrive; frames come out as `SampleBlock`s (int32 values, device time in µs from the
unwrapped 16-bit ms counter). Each frame is accepted only if its check passes, the next header follows it,
and it is plausible against both neighbours (so the newest frame is held until the next one arrives);
every rejected candidate is counted in `stats.crc_errors`, every skipped byte in `stats.resync_bytes`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np

from firmware_bridge.decoder import DecodeOutput, DecoderStats, SampleBlock, Unwrapper
from firmware_bridge.tactile import fsr, xhand
from firmware_bridge.vocab import TactileProtocol

Neighbour = tuple[np.ndarray, int] | None


class FixedFrameDecoder:
    """Shared machinery of fixed-size, headed, checksummed frames with a 16-bit ms counter."""

    protocol = ""
    message = ""
    frame_size = 0
    channels = 0
    tick_us = 1000
    _valid: Callable[[np.ndarray, bool, bool], tuple[np.ndarray, np.ndarray]]
    _unpack: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
    _implausible: Callable[[np.ndarray, np.ndarray, Neighbour, Neighbour, float | None], np.ndarray]

    def __init__(self) -> None:
        self.stats = DecoderStats()
        self._buf = bytearray()
        self._fed = 0
        self._clock = Unwrapper(16)
        self._next_index = 0
        self._restarted = False
        self._prev: Neighbour = None
        self._anchored = False  # the buffer begins where an accepted frame ended
        self._held: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None  # newest frame: values, tick, end
        self._steps: deque[int] = deque(maxlen=64)

    def mark_reconnect(self) -> None:
        """No sequence numbers: every reconnect starts a new device-clock segment."""
        self._buf.clear()
        self._prev = None
        if self._held is not None:  # its successor will never come: call flush() first to keep it
            self.stats.resync_bytes += self.frame_size
        self._held = None
        self._anchored = False
        self._clock.reset()
        self._restarted = True

    def feed(self, data: bytes) -> DecodeOutput:
        self._buf += data
        self._fed += len(data)
        if len(self._buf) < self.frame_size:  # not a whole new frame yet
            return DecodeOutput()
        return self._decode(final=False)

    def flush(self) -> DecodeOutput:
        out = self._decode(final=True)
        self.stats.resync_bytes += len(self._buf)
        self._buf.clear()
        return out

    def _usual_step(self) -> float | None:
        if len(self._steps) < 16:
            return None
        return float(sorted(self._steps)[len(self._steps) // 2])

    def _decode(self, final: bool) -> DecodeOutput:
        out = DecodeOutput()
        size = self.frame_size
        b = np.frombuffer(bytes(self._buf), np.uint8)
        starts, rejected = type(self)._valid(b, final, self._anchored)
        if not final and self._prev is None and self._held is None and len(starts) < 3 and len(b) < 8 * size:
            return out  # the first frames are judged together: wait for three (within a bounded buffer)
        if len(starts):
            consumed = int(starts[-1]) + size
            self.stats.crc_errors += len(rejected) if final else int((rejected < consumed).sum())
            self.stats.resync_bytes += consumed - len(starts) * size
            values, ticks = type(self)._unpack(b, starts)
            ends = (self._fed - len(self._buf)) + starts + size
            del self._buf[:consumed]
            self._anchored = True
        else:
            self.stats.crc_errors += len(rejected)
            self._trim(size + 3)
            values, ticks, ends = (np.empty((0, self.channels), np.int32), np.empty(0, np.int64), np.empty(0, np.int64))
        if self._held is not None:  # the frame that waited for its successor
            hv, ht, he = self._held
            values, ticks, ends = np.concatenate([hv, values]), np.concatenate([ht, ticks]), np.concatenate([he, ends])
            self._held = None
        nxt = None
        if not final and len(values):
            # the newest frame waits for the next one, so that every frame is judged against both neighbours
            self._held = (values[-1:].copy(), ticks[-1:].copy(), ends[-1:].copy())
            nxt = (values[-1], int(ticks[-1]))
            values, ticks, ends = values[:-1], ticks[:-1], ends[:-1]
        if len(values) == 0:
            return out
        bad = self._judge(values, ticks, nxt)
        self._prev = (values[-1].copy(), int(ticks[-1]))
        if bad.any():
            self.stats.crc_errors += int(bad.sum())
            values, ticks, ends = values[~bad], ticks[~bad], ends[~bad]
        n = len(values)
        if n == 0:
            return out
        self._steps.extend(((ticks[1:] - ticks[:-1]) % 65536).tolist()[-64:])
        times = self._clock.unwrap_array(ticks) * self.tick_us
        index = self._next_index + np.arange(n, dtype=np.int64)
        self._next_index += n
        self.stats.frames += n
        self.stats.samples += n
        self.stats.messages[self.message] = self.stats.messages.get(self.message, 0) + n
        out.blocks.append(SampleBlock(index, times, values, ends))
        out.frame_time_us.extend(times.tolist())
        out.frame_end.extend(ends.tolist())
        if self._restarted:
            out.device_reset, self._restarted = True, False
            self.stats.device_resets += 1
        return out

    def _judge(self, values: np.ndarray, ticks: np.ndarray, nxt: Neighbour) -> np.ndarray:
        """Plausibility, repeated without the rows already rejected: a damaged frame must not serve as the
        neighbour that hides the damage of the frame next to it."""
        bad = np.zeros(len(values), bool)
        usual = self._usual_step()
        for _ in range(4):
            keep = np.flatnonzero(~bad)
            more = type(self)._implausible(values[keep], ticks[keep], self._prev, nxt, usual)
            if not more.any():
                break
            bad[keep[more]] = True
        return bad

    def _trim(self, keep: int) -> None:
        excess = len(self._buf) - keep
        if excess > 0:
            self.stats.resync_bytes += excess
            del self._buf[:excess]
            self._anchored = False


class FsrDecoder(FixedFrameDecoder):
    """DexUMI FSR board: 60-byte ``AA 55 00 00`` frames; values = 12 ADC words, fsr_low, fsr_high."""

    protocol = "fsr"
    message = "FSR"
    frame_size = fsr.FRAME_SIZE
    channels = fsr.CHANNELS
    _valid = staticmethod(fsr.valid_frames)
    _unpack = staticmethod(fsr.unpack)
    _implausible = staticmethod(fsr.implausible)


class XHandTactileDecoder(FixedFrameDecoder):
    """XHand tactile board: 728-byte ``55 AA`` frames; values = fx, fy, fz, then 3 × 120 map counts."""

    protocol = "xhand-tactile"
    message = "XHAND_TACTILE"
    frame_size = xhand.FRAME_SIZE
    channels = xhand.CHANNELS
    _valid = staticmethod(xhand.valid_frames)
    _unpack = staticmethod(xhand.unpack)
    _implausible = staticmethod(xhand.implausible)


TACTILE_DECODERS: dict[str, type[FixedFrameDecoder]] = {
    TactileProtocol.FSR: FsrDecoder,
    TactileProtocol.XHAND: XHandTactileDecoder,
}


def make_tactile_decoder(protocol_name: str) -> FixedFrameDecoder:
    try:
        return TACTILE_DECODERS[protocol_name]()
    except KeyError:
        raise ValueError(f"unknown tactile protocol {protocol_name!r} ({', '.join(TACTILE_DECODERS)})") from None

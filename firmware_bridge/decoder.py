"""Incremental decoders for protocol v1 and legacy DexUMI frames.

Both take bytes as they arrive (`feed`), resynchronise after garbage, never accept a frame that fails its
check, and count every anomaly in `DecoderStats`. Samples come out as numpy blocks, many frames at a time.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from cobs import cobs

from firmware_bridge import legacy, legacy_checks, protocol
from firmware_bridge.protocol import Frame, MsgType
from firmware_bridge.vocab import Protocol

_TYPE_NAMES = {int(t): t.name for t in MsgType}
U32 = 1 << 32
HALF_U32 = 1 << 31


@dataclass
class DecoderStats:
    """Counters of everything a decoder saw; all monotonic over a decoder's life."""

    frames: int = 0  # valid frames of any type
    samples: int = 0  # samples delivered
    crc_errors: int = 0  # stretches of bytes rejected by an integrity check (CRC, COBS, checksum, length)
    resync_bytes: int = 0  # bytes skipped while looking for a frame
    gaps: int = 0  # places where samples are missing (sequence jumps forward)
    missing_samples: int = 0  # samples lost in those gaps
    missing_frames: int = 0  # frames lost (v1 frame sequence jumps)
    duplicates: int = 0  # frames seen twice (dropped)
    out_of_order: int = 0  # frames older than the newest one seen (dropped)
    device_resets: int = 0  # the device restarted its counters
    implausible: int = 0  # legacy: frames that passed the checksum but cannot be what was sent (in crc_errors too)
    suspect: int = 0  # samples delivered that could not be checked against neighbours (e.g. a 2-frame stream)
    messages: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SampleBlock:
    """Consecutive samples of one layout: sequence numbers, device times (unwrapped) and raw counts."""

    index: np.ndarray  # int64 (n,)
    device_time_us: np.ndarray  # int64 (n,)
    values: np.ndarray  # int32 (n, channels)
    stream_end: np.ndarray  # int64 (n,) offset, in all bytes ever fed, just past the sample's frame

    def __len__(self) -> int:
        return len(self.index)

    @property
    def channels(self) -> int:
        return int(self.values.shape[1])


@dataclass
class DecodeOutput:
    """What one `feed` produced."""

    blocks: list[SampleBlock] = field(default_factory=list)
    frame_time_us: list[int] = field(default_factory=list)  # device send time of each sample frame
    frame_end: list[int] = field(default_factory=list)  # stream offset just past each of those frames
    messages: list[object] = field(default_factory=list)  # DeviceInfo, Ack, Pong, DeviceError
    device_reset: bool = False

    @property
    def samples(self) -> int:
        return sum(len(b) for b in self.blocks)


SMALL_UNWRAP = 64  # up to this many readings: unwrapped in plain Python (faster than numpy's set-up)


class Unwrapper:
    """Turns a wrapping counter (2**bits) into a monotonic int64; backward steps are reported."""

    def __init__(self, bits: int) -> None:
        self.modulus = 1 << bits
        self.half = self.modulus >> 1
        self.last_raw: int | None = None
        self.base = 0

    def reset(self) -> None:
        self.last_raw, self.base = None, 0

    def unwrap_list(self, raw: Sequence[int]) -> list[int]:
        """`unwrap_array` in plain ints: a live reader's few frames per decode cost less this way than a numpy
        pass (whose fixed set-up, ~20 µs a call, is most of the work for a handful of values)."""
        out: list[int] = []
        if not raw:
            return out
        m, half = self.modulus, self.half
        last, base = self.last_raw, self.base
        if last is None:
            last = base = int(raw[0])
        for r in raw:
            step = (int(r) - last) % m
            if step >= half:
                step -= m
            base += step
            last = int(r)
            out.append(base)
        self.last_raw, self.base = last, base
        return out

    def unwrap_array(self, raw: np.ndarray) -> np.ndarray:
        """Unwrap consecutive raw readings (steps of less than half the modulus count as forward)."""
        raw = np.asarray(raw, dtype=np.int64)
        if len(raw) == 0:
            return raw
        if len(raw) <= SMALL_UNWRAP:
            return np.array(self.unwrap_list(raw.tolist()), np.int64)
        if self.last_raw is None:
            steps = np.diff(raw, prepend=raw[0]) % self.modulus
            start = int(raw[0])
        else:
            steps = np.diff(raw, prepend=self.last_raw) % self.modulus
            start = self.base
        steps[steps >= self.half] -= self.modulus
        out = start + np.cumsum(steps)
        self.last_raw = int(raw[-1])
        self.base = int(out[-1])
        return out

    def unwrap(self, raw: int) -> int:
        return int(self.unwrap_array(np.asarray([raw]))[0])


class V1Decoder:
    """Protocol v1: COBS frames delimited by 0x00, CRC-32C checked."""

    protocol = "v1"

    def __init__(self) -> None:
        self.stats = DecoderStats()
        self._buf = bytearray()
        self._fed = 0  # bytes fed so far: buf[0] sits at stream offset _fed - len(buf)
        self._synced = False
        self._next_seq: int | None = None
        self._next_index: int | None = None
        self._frame_clock = Unwrapper(32)
        self._sample_clock = Unwrapper(32)
        self._index = Unwrapper(32)
        self._restart_expected = False

    def mark_reconnect(self) -> None:
        """The link was re-established: drop partial bytes; a device that rebooted meanwhile is expected."""
        self._buf.clear()
        self._synced = False
        self._restart_expected = True

    def restart_device(self) -> None:
        """The device restarted: its counters and clock begin anew."""
        self._next_seq = self._next_index = None
        self._frame_clock.reset()
        self._sample_clock.reset()
        self._index.reset()

    def feed(self, data: bytes) -> DecodeOutput:
        out = DecodeOutput()
        buf = self._buf
        buf += data
        self._fed += len(data)
        base = self._fed - len(buf)
        frames: list[Frame] = []
        ends: list[int] = []
        if not self._synced:
            first = buf.find(0)
            if first < 0:
                self._drop_overlong(buf)
                return out
            # We may have started mid-frame: a first piece that does not check out is skipped, not an error.
            frame = protocol.decode_wire_chunk(bytes(buf[:first])) if first else None
            if frame is not None:
                frames.append(frame)
                ends.append(base + first + 1)
            else:
                self.stats.resync_bytes += first
            del buf[: first + 1]
            base += first + 1
            self._synced = True
        last = buf.rfind(0)
        if last < 0:
            self._drop_overlong(buf)
            self._process(frames, ends, out)
            return out
        chunks = bytes(buf[:last]).split(b"\x00")
        del buf[: last + 1]
        end = base
        if not frames:
            taken, end = self._fast_samples(chunks, end, out)
            chunks = chunks[taken:] if taken else chunks
        for chunk in chunks:
            end += len(chunk) + 1
            if not chunk:
                continue
            frame = protocol.decode_wire_chunk(chunk)
            if frame is None:
                self.stats.crc_errors += 1
                frame = self._recover_tail(chunk)
                if frame is None:
                    continue
            frames.append(frame)
            ends.append(end)
        self._process(frames, ends, out)
        return out

    def drain(self) -> DecodeOutput:
        """Everything complete so far (v1 decodes on every feed: nothing is gathered)."""
        return DecodeOutput()

    def flush(self) -> DecodeOutput:
        """End of stream: bytes after the last delimiter are an unfinished frame."""
        if self._buf:
            self.stats.resync_bytes += len(self._buf)
            self._buf.clear()
        return DecodeOutput()

    def _drop_overlong(self, buf: bytearray) -> None:
        if len(buf) > protocol.MAX_WIRE_FRAME:
            self.stats.resync_bytes += len(buf)
            buf.clear()
            self._synced = False

    def _recover_tail(self, chunk: bytes) -> Frame | None:
        """A lost delimiter glues a damaged frame to an intact one: find the intact frame at the end."""
        for start in range(1, len(chunk) - protocol.MIN_BODY + 1):
            frame = protocol.decode_wire_chunk(chunk[start:])
            if frame is not None:
                self.stats.resync_bytes += start
                return frame
        self.stats.resync_bytes += len(chunk)
        return None

    def _accept_seq(self, seq: int, out: DecodeOutput) -> bool:
        """Track the frame sequence; False for a duplicate or a late frame."""
        if self._next_seq is None:
            self._next_seq = (seq + 1) % U32
            return True
        delta = (seq - self._next_seq) % U32
        if delta < HALF_U32:
            self._restart_expected = False
        if delta == 0:
            self._next_seq = (seq + 1) % U32
            return True
        if delta < HALF_U32:
            self.stats.missing_frames += delta
            self._next_seq = (seq + 1) % U32
            return True
        if self._restart_expected or (seq < 4 and self._next_seq > 1024):  # the device rebooted
            self.stats.device_resets += 1
            out.device_reset = True
            self.restart_device()
            self._restart_expected = False
            self._next_seq = (seq + 1) % U32
            return True
        if (seq + 1) % U32 == self._next_seq:
            self.stats.duplicates += 1
        else:
            self.stats.out_of_order += 1
        return False

    def _process(self, frames: list[Frame], ends: list[int], out: DecodeOutput) -> None:
        run: list[tuple[Frame, tuple[int, int, int, int], int]] = []
        for frame, end in zip(frames, ends):
            if not self._accept_seq(frame.seq, out):
                continue
            self.stats.frames += 1
            name = _TYPE_NAMES.get(frame.type) or f"0x{frame.type:02x}"
            self.stats.messages[name] = self.stats.messages.get(name, 0) + 1
            if frame.type == MsgType.SAMPLES:
                layout = protocol.samples_layout(frame.payload)
                if layout is None:
                    self.stats.crc_errors += 1
                    continue
                if run and run[-1][1][1:] != layout[1:]:
                    self._emit_run(run, out)
                    run = []
                run.append((frame, layout, end))
            else:
                msg = self._parse_message(frame)
                if msg is not None:
                    out.messages.append(msg)
        if run:
            self._emit_run(run, out)

    @staticmethod
    def _parse_message(frame: Frame) -> object | None:
        if frame.type == MsgType.INFO:
            return protocol.parse_info(frame.payload)
        if frame.type == MsgType.ACK:
            return protocol.parse_ack(frame.payload)
        if frame.type == MsgType.PONG:
            return protocol.parse_pong(frame)
        if frame.type == MsgType.ERROR:
            return protocol.parse_error(frame.payload)
        return None

    def _fast_samples(self, chunks: list[bytes], end: int, out: DecodeOutput) -> tuple[int, int]:
        """The live case without a per-frame object: SAMPLES frames in sequence, all of one layout, each
        checking out. Takes the longest such prefix of `chunks` and returns how many it took and the stream
        offset after them; the general path decides the rest (and anything unusual) frame by frame."""
        next_seq = self._next_seq
        if next_seq is None:
            return 0, end
        start, taken = end, 0
        layout: tuple[int, int, int] | None = None
        bodies: list[bytes] = []
        firsts: list[int] = []
        frame_times: list[int] = []
        frame_ends: list[int] = []
        for chunk in chunks:
            if chunk:
                try:
                    body = cobs.decode(chunk)
                except cobs.DecodeError:
                    break
                head = protocol.body_header(body)
                if head is None or head[0] != MsgType.SAMPLES or head[2] != next_seq:
                    break
                lay = protocol.samples_layout(body, protocol.HEADER_SIZE, head[1])
                if lay is None or (layout is not None and lay[1:] != layout):
                    break  # the first frame fixes the layout that the others must share
                layout = lay[1:]
                next_seq = (next_seq + 1) % U32
                bodies.append(body)
                firsts.append(lay[0])
                frame_times.append(head[3])
                frame_ends.append(end + len(chunk) + 1)
            taken += 1
            end += len(chunk) + 1
        if layout is None:
            return 0, start
        self._next_seq = next_seq
        self._restart_expected = False
        self.stats.frames += len(bodies)
        self.stats.messages["SAMPLES"] = self.stats.messages.get("SAMPLES", 0) + len(bodies)
        rows = np.frombuffer(b"".join(bodies), np.uint8).reshape(len(bodies), -1)
        self._emit_rows(rows, protocol.HEADER_SIZE, layout, firsts, frame_times, frame_ends, out)
        return taken, end

    def _emit_run(self, run: list[tuple[Frame, tuple[int, int, int, int], int]], out: DecodeOutput) -> None:
        """Decode frames of one layout together: one numpy pass for all of them."""
        _, count, channels, width = run[0][1]
        rows = np.frombuffer(b"".join(f.payload for f, _, _ in run), np.uint8).reshape(len(run), -1)
        firsts = [lay[0] for _, lay, _ in run]
        self._emit_rows(
            rows, 0, (count, channels, width), firsts, [f.time_us for f, _, _ in run], [e for _, _, e in run], out
        )

    def _emit_rows(
        self,
        rows: np.ndarray,
        payload_at: int,
        layout: tuple[int, int, int],
        firsts: list[int],
        frame_times: list[int],
        frame_ends: list[int],
        out: DecodeOutput,
    ) -> None:
        """One block from frames of one layout: `rows` holds one frame per row, its SAMPLES payload at
        column `payload_at`; `firsts`, `frame_times` and `frame_ends` are each frame's raw counters."""
        count, channels, width = layout
        off = payload_at + protocol.SAMPLES_HEADER.size
        voff = off + 4 * count
        n = len(firsts)
        raw_times = rows[:, off:voff].copy().view("<u4").reshape(-1)
        values = protocol.unpack_values(
            rows[:, voff : voff + count * channels * width].tobytes(), width, n * count, channels
        )
        # per-frame counters in plain ints (a live decode sees a handful of frames), per-sample ones in numpy
        first = self._index.unwrap_list(firsts)
        stream_end = np.repeat(np.array(frame_ends, np.int64), count)
        index = (np.array(first, np.int64)[:, None] + np.arange(count)).reshape(-1)
        times = self._sample_clock.unwrap_array(raw_times)
        out.frame_time_us.extend(self._frame_clock.unwrap_list(frame_times))
        out.frame_end.extend(frame_ends)
        keep = None
        expected = self._next_index
        for k, lo in enumerate(first):
            if expected is not None and lo != expected:
                if lo > expected:
                    self.stats.gaps += 1
                    self.stats.missing_samples += lo - expected
                else:  # overlap with samples already delivered
                    if keep is None:
                        keep = np.ones(len(index), bool)
                    dup = min(expected - lo, count)
                    keep[k * count : k * count + dup] = False
                    self.stats.duplicates += 1
            expected = max(lo + count, expected or 0)
        self._next_index = expected
        if keep is not None:
            index, times, values, stream_end = index[keep], times[keep], values[keep], stream_end[keep]
        self.stats.samples += len(index)
        out.blocks.append(SampleBlock(index, times, values, stream_end))


COALESCE_BYTES = 4096  # legacy: gather this much (or COALESCE_S) before a decode pass
COALESCE_S = 0.01
SIGN_LIMIT = 1 << 23  # channel words are sign-extended 24-bit values
FIRST_JUDGED = 8  # frames gathered before the first are judged (to learn the counter's usual step)
FIRST_WAIT_BYTES = 4096  # ...unless this much arrived without them (garbage): then judge what there is


class LegacyDecoder:
    """DexUMI frames: ``AA 55 00 00``, channel words, checksum + 16-bit ms counter."""

    protocol = "legacy"

    def __init__(self, channels: int | None = None, coalesce_bytes: int = COALESCE_BYTES) -> None:
        if channels is not None and not 1 <= channels <= legacy.MAX_CHANNELS:
            raise ValueError(f"legacy channel count must be 1..{legacy.MAX_CHANNELS}")
        self.channels = channels
        self.coalesce_bytes = coalesce_bytes  # 0: decode on every feed
        self._pending_since: float | None = None
        self.stats = DecoderStats()
        self._buf = bytearray()
        self._fed = 0
        self._clock = Unwrapper(16)
        self._next_index = 0

        self._restarted = False
        self._prev: tuple[np.ndarray, int] | None = None  # the last accepted frame: context for the next
        self._steps: deque[int] = deque(maxlen=256)  # recent ms-counter steps between accepted frames
        self._range = (0, -1)  # the usual step range the fast path trusts (none until the general path sets it)

    def mark_reconnect(self) -> None:
        """Legacy frames carry no sequence: every reconnect starts a new device-clock segment."""
        self._buf.clear()
        self._prev = None
        self._clock.reset()
        self._restarted = True

    def feed(self, data: bytes) -> DecodeOutput:
        """Take bytes; decode once `coalesce_bytes` have gathered or the oldest undecoded ones are
        COALESCE_S old (checked at each feed), so that a numpy pass covers enough frames to pay off."""
        self._buf += data
        self._fed += len(data)
        if self.coalesce_bytes and len(self._buf) < self.coalesce_bytes and self._prev is not None:
            now = time.monotonic()
            if self._pending_since is None:
                self._pending_since = now
            if now - self._pending_since < COALESCE_S:
                return DecodeOutput()
        self._pending_since = None
        return self._decode(final=False)

    def drain(self) -> DecodeOutput:
        """Decode what has gathered now (the link is about to drop its bytes), the newest frame still held."""
        self._pending_since = None
        return self._decode(final=False)

    def flush(self) -> DecodeOutput:
        out = self._decode(final=True)
        self.stats.resync_bytes += len(self._buf)
        self._buf.clear()
        return out

    def _decode(self, final: bool) -> DecodeOutput:
        if not final and self._prev is not None:
            fast = self._decode_chain()
            if fast is not None:
                return fast
        out = DecodeOutput()
        if self.channels is None:
            self.channels = legacy.guess_channels(self._buf)
            if self.channels is None:
                self._trim(4 * (legacy.MAX_CHANNELS + 2) * 4)
                return out
        size = legacy.frame_size(self.channels)
        b = np.frombuffer(bytes(self._buf), np.uint8)
        starts, rejected = legacy.valid_frames(b, self.channels, final=final)
        # the newest frame waits for the next one, so that every frame is checked against both neighbours;
        # the very first frames wait until there are enough of them to learn the counter's usual step
        if not final and self._prev is None and len(starts) < FIRST_JUDGED and len(b) < FIRST_WAIT_BYTES:
            return out
        held = None
        if not final and len(starts):
            held, starts = int(starts[-1]), starts[:-1]
        if len(starts) == 0:
            if held is None:
                self.stats.crc_errors += len(rejected)
                self._trim(size + 3)
            return out
        consumed = int(starts[-1]) + size
        stream_end = (self._fed - len(self._buf)) + starts + size
        self.stats.crc_errors += int((rejected < consumed).sum())
        self.stats.resync_bytes += consumed - len(starts) * size
        values, ms = legacy.unpack_frames(b, np.append(starts, held) if held is not None else starts, self.channels)
        del self._buf[:consumed]
        bad, unjudged = self._judge(values, ms.astype(np.int64), held is not None)
        if held is not None:
            values, ms = values[:-1], ms[:-1]
        if bad.any():
            self.stats.crc_errors += int(bad.sum())
            self.stats.implausible += int(bad.sum())
            values, ms, stream_end, unjudged = values[~bad], ms[~bad], stream_end[~bad], unjudged[~bad]
        n = len(values)
        if n == 0:
            return out
        self.stats.suspect += int(unjudged.sum())
        prev_ms = [self._prev[1]] if self._prev is not None else []
        self._steps.extend(legacy_checks.signed_steps(np.concatenate([prev_ms, ms]).astype(np.int64)).tolist())
        self._prev = (values[-1].copy(), int(ms[-1]))
        times = self._clock.unwrap_array(ms.astype(np.int64)) * 1000
        index = self._next_index + np.arange(n, dtype=np.int64)
        self._next_index += n
        self.stats.frames += n
        self.stats.samples += n
        self.stats.messages["LEGACY"] = self.stats.messages.get("LEGACY", 0) + n
        out.blocks.append(SampleBlock(index, times, values, stream_end))
        out.frame_time_us.extend(times.tolist())
        out.frame_end.extend(stream_end.tolist())
        if self._restarted:
            out.device_reset, self._restarted = True, False
            self.stats.device_resets += 1
        return out

    def _decode_chain(self) -> DecodeOutput | None:
        """The live case in few numpy passes: the buffer starts with back-to-back frames that all pass every
        check (header, checksum, sign extension, no value jump >= 2^15, every counter step usual); the last
        one is held back. None when anything is unusual: then the general path decides, frame by frame."""
        buf, size = self._buf, legacy.frame_size(self.channels)  # type: ignore[arg-type]
        n = len(buf) // size
        if n < 2 or not buf.startswith(legacy.HEADER_BYTES):
            return None if n >= 2 else DecodeOutput()
        lo, hi = self._range
        prev_v, prev_ms = self._prev  # type: ignore[misc]
        w = np.frombuffer(bytes(memoryview(buf)[: n * size]), "<u4").reshape(n, size // 4)
        chi = w[:, 1:-1].view("<i4")
        trailer = w[:, -1]
        head = w[:, 0]
        if not (
            head.min() == head.max() == legacy.HEADER_WORD
            and chi.min() >= -SIGN_LIMIT
            and chi.max() < SIGN_LIMIT
            and not ((chi.sum(axis=1) - (trailer >> 16)) & 0xFFFF).any()
        ):
            return None
        if (
            np.abs(np.diff(chi, axis=0)).max() >= legacy_checks.SPIKE_COUNTS
            or np.abs(chi[0] - prev_v).max() >= legacy_checks.SPIKE_COUNTS
        ):
            return None
        ms = (trailer & 0xFFFF).astype(np.int64)
        step0 = (int(ms[0]) - prev_ms) & 0xFFFF
        steps = (ms[1:] - ms[:-1]) & 0xFFFF  # a backward step reads as >= 2^15: beyond `hi`
        if not lo <= step0 <= hi or steps.min() < lo or steps.max() > hi:
            return None
        k = n - 1  # delivered; frame n - 1 waits for its successor
        values = chi[:k].copy()
        clock = self._clock
        if k * hi >= legacy_checks.HALF:
            return None  # offsets within the batch could wrap more than once
        times = ((ms[:k] - ms[0]) & 0xFFFF) + (clock.base + step0)
        clock.last_raw, clock.base = int(ms[k - 1]), int(times[-1])
        times = times * 1000
        start = self._fed - len(buf)
        stream_end = np.arange(start + size, start + k * size + 1, size, dtype=np.int64)
        del buf[: k * size]
        self._prev = (values[-1], int(ms[k - 1]))
        self._steps.append(step0)
        self._steps.extend(steps[: k - 1].tolist())
        index = np.arange(self._next_index, self._next_index + k, dtype=np.int64)
        self._next_index += k
        st = self.stats
        st.frames += k
        st.samples += k
        st.messages["LEGACY"] = st.messages.get("LEGACY", 0) + k
        out = DecodeOutput([SampleBlock(index, times, values, stream_end)], times.tolist(), stream_end.tolist())
        return out

    def _judge(self, values: np.ndarray, ms: np.ndarray, has_next: bool) -> tuple[np.ndarray, np.ndarray]:
        """(bad, unjudged) for the frames to deliver (all rows but a held-back last one when `has_next`),
        judged with the last accepted frame before them and the held one after them as neighbours."""
        rows, t = values, ms
        first = 0
        if self._prev is not None:
            rows = np.concatenate([self._prev[0][None, :], rows])
            t = np.concatenate([[self._prev[1]], t])
            first = 1
        last = len(rows) - 1 if has_next else len(rows)
        steps = legacy_checks.signed_steps(t)
        lo, hi = legacy_checks.step_range(np.concatenate([np.fromiter(self._steps, np.int64, len(self._steps)), steps]))
        self._range = (lo, hi) if len(self._steps) >= 64 else (0, -1)
        n = last - first
        if len(rows) < 3:  # nothing to compare with: delivered, but counted
            return np.zeros(n, bool), np.ones(n, bool)
        return legacy_checks.judge(rows, t, first, last, lo, hi), np.zeros(n, bool)

    def _trim(self, keep: int) -> None:
        """Drop bytes that can no longer start a frame, keeping a possible partial one."""
        excess = len(self._buf) - keep
        if excess > 0:
            self.stats.resync_bytes += excess
            del self._buf[:excess]


Decoder = V1Decoder | LegacyDecoder


def make_decoder(protocol_name: str, channels: int | None = None) -> Decoder:
    if protocol_name == Protocol.V1:
        return V1Decoder()
    if protocol_name == Protocol.LEGACY:
        return LegacyDecoder(channels)
    raise ValueError(f"unknown protocol {protocol_name!r} (v1 or legacy)")


def detect_protocol(data: bytes) -> str | None:
    """'v1' or 'legacy' if `data` holds at least two valid frames of one of them, else None."""
    v1 = V1Decoder()
    v1.feed(data)
    if v1.stats.frames >= 1 and v1.stats.crc_errors <= v1.stats.frames:
        return "v1"
    if legacy.guess_channels(data) is not None:
        return "legacy"
    return None

"""The exoskeleton encoder driver: a reader thread turning bytes into timestamped sample batches.

Lossless by design: batches go into a bounded buffer that the consumer drains; if the consumer falls so far
behind that the buffer is full, the overflow is counted, logged and shown — never silently dropped.
The link reconnects by itself after an unplug; each gap is recorded. The thread, buffer and reconnect loop
are `StreamWorker`'s (shared with the camera grabber); what differs per protocol is an `EncoderLink`.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace

from typing import Any

import numpy as np

from dexumi.clock import ClockEstimate, ClockFit
from dexumi.devices.encoder_links import LINKS, EncoderLink
from dexumi.devices.stream_worker import Backoff, StreamWorker
from dexumi.errors import DexumiError
from dexumi.types import EncoderBatch, EncoderCalibration, StreamStats
from firmware_bridge import protocol
from firmware_bridge.decoder import Decoder, DecodeOutput, detect_protocol
from firmware_bridge.errors import BridgeError, ProtocolMismatch
from firmware_bridge.protocol import MsgType
from firmware_bridge.transports import Transport, TransportLost, make_transport
from firmware_bridge.vocab import Protocol

log = logging.getLogger(__name__)
READ_CHUNK = 1 << 16
# Reads are stamped one by one as they arrive, and decoded together later: by the consumer's own read() (so
# a consumer polling every 50 ms, as a session does, gets everything read so far, decoded in one pass), and
# by the reader thread at most this often while a consumer waits in read(timeout) ...
DECODE_INTERVAL_S = 0.01
IDLE_DECODE_INTERVAL_S = 0.1  # ... or, with nobody waiting, this often (memory, stats and clock stay current)
MAX_READS_KEPT = 4096
# legacy boards send one 40-64 byte frame at a time (~1700/s): after a read, let bytes gather this long
# (DexUMI's own reader polls every 1 ms). Not for v1, whose frames are batched by the board: bytes unread
# when a cable is pulled are lost with the tty, and v1 promises everything sent before an unplug.
READ_COALESCE_S = 0.002


@dataclass
class EncoderConfig:
    port: str
    protocol: str = "auto"  # v1 | legacy | auto
    channels: int | None = None  # legacy boards: 8 or 14 (auto-detected when None)
    rate_hz: float | None = None  # v1: ask the device for this rate
    calibration: EncoderCalibration | None = None
    buffer_samples: int = 2_000_000  # ~17 min at 2 kHz: the consumer is far behind long before this
    detect_timeout_s: float = 3.0
    reconnect: bool = True
    reconnect_backoff_s: tuple[float, float] = (0.05, 0.25)
    name: str = "encoder"


@dataclass
class _Segment:
    fit: ClockFit = field(default_factory=ClockFit)


class _Reads:
    """Reads not decoded yet: their bytes, each one's end offset in the stream, and its host receive time."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.ends: list[int] = []
        self.times: list[float] = []
        self.fed = 0  # bytes since the decoder was made (the offsets count from there)

    def add(self, data: bytes, t: float) -> None:
        self.chunks.append(data)
        self.fed += len(data)
        self.ends.append(self.fed)
        self.times.append(t)

    def take(self) -> tuple[list[bytes], list[int], list[float]]:
        out = self.chunks, self.ends, self.times
        self.chunks, self.ends, self.times = [], [], []
        return out


class EncoderDriver(StreamWorker[EncoderBatch]):
    """Open with `start()`, drain with `read()`, watch with `stats()`, end with `close()`."""

    def __init__(self, config: EncoderConfig) -> None:
        if config.protocol not in tuple(Protocol):
            raise DexumiError(f"unknown protocol {config.protocol!r}: use v1, legacy or auto")
        super().__init__(
            config.name,
            StreamStats(config.name),
            config.buffer_samples,
            unit="samples",
            reconnect=config.reconnect,
            backoff=Backoff(*config.reconnect_backoff_s),
        )
        self.config = config
        self.transport: Transport = make_transport(config.port, config.protocol, config.channels, config.rate_hz)
        self.protocol = config.protocol
        self.link: EncoderLink | None = LINKS[config.protocol](self) if config.protocol in LINKS else None
        self.decoder: Decoder | None = None
        self.info: protocol.DeviceInfo | None = None
        self.segments: list[_Segment] = [_Segment()]
        self._cmd_seq = 0
        self._connected = False
        self._acks: dict[int, protocol.Ack] = {}
        self._read_ends: list[int] = []  # stream offset just past each read not yet fully decoded
        self._read_times: list[float] = []  # and its host receive time
        self._pending = _Reads()  # reads stamped, not yet given to the decoder
        self._last_decode = 0.0
        self._decode_lock = threading.Lock()  # the decoder, the pending reads and the clock fits
        self._waiting = 0  # consumers blocked in read(timeout)
        self._pongs: deque[tuple[protocol.Pong, float]] = deque(maxlen=64)
        self.device_errors: deque[protocol.DeviceError] = deque(maxlen=100)

    # ------------------------------------------------------------------------------------------ life
    def start(self) -> EncoderDriver:
        """Open the port, find out what the device speaks, start it and the reader thread."""
        self.transport.open()
        try:
            pending = self._handshake()
        except BaseException:
            self.transport.release()
            raise
        self._set_connected(True)
        self._start_thread(self._run, pending, suffix="reader")
        return self

    def close(self) -> None:
        self._stop_thread()
        if self._connected and self.link is not None:
            try:
                self.link.end()
            except BridgeError:
                pass
        self.transport.release()
        self._connected = False

    def _set_connected(self, connected: bool) -> None:
        self._connected = connected
        self._stats.connected = connected

    def __enter__(self) -> EncoderDriver:
        return self if self._thread is not None else self.start()  # `with open_encoder(...)`: already started

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------------- handshake
    def _send(self, command: MsgType, **kwargs: Any) -> int:
        seq = self._cmd_seq
        self._cmd_seq += 1
        self.transport.write(protocol.command_frame(command, seq, **kwargs))
        return seq

    def _handshake(self) -> bytes:
        """Detect the protocol (unless told), start a v1 device, wait for its INFO; returns unread bytes."""
        deadline = time.monotonic() + self.config.detect_timeout_s
        next_query = 0.0
        seen = bytearray()
        while (now := time.monotonic()) < deadline:
            if (self.link is None or self.link.queries_info) and now >= next_query:
                # a legacy board ignores this; a v1 device answers ACK + INFO (asked again if a reply is lost)
                self._send(MsgType.GET_INFO)
                next_query = now + 0.25
            seen += self.transport.read(READ_CHUNK, 0.05)
            if self.link is None and len(seen) >= 16:
                found = detect_protocol(bytes(seen))
                if found:
                    self.protocol = found
                    self.link = LINKS[found](self)
            if self.link is not None and self.link.found(bytes(seen)):
                break
        else:
            self._no_device(seen)
        self._check_calibration()
        assert self.link is not None
        self.decoder, pending = self.link.begin(bytes(seen))
        self._stats.nominal_rate_hz = self.link.nominal_rate_hz()
        return pending

    def _no_device(self, seen: bytearray) -> None:
        port = self.config.port
        if not seen:
            raise ProtocolMismatch(
                f"no data from {port} within {self.config.detect_timeout_s:g} s: is the board "
                f"powered and is this its port? (`dexumi devices` lists ports)"
            )
        what = self.link.expects if self.link is not None else "dexumi v1 or legacy DexUMI frames"
        raise ProtocolMismatch(
            f"the device on {port} does not speak {what}: got {len(seen)} bytes starting {bytes(seen[:8]).hex(' ')}"
        )

    @property
    def channels(self) -> int:
        return self.link.channels() if self.link is not None else int(self.config.channels or 0)

    @property
    def joints(self) -> int:
        return self.link.joints() if self.link is not None else self.channels

    def _check_calibration(self) -> None:
        cal = self.config.calibration
        if cal is not None and cal.channels != self.joints:
            raise DexumiError(
                f"calibration profile has {cal.channels} channels but the device on "
                f"{self.config.port} has {self.joints} joint channels; pick the profile made for "
                f"this exoskeleton (or recalibrate)"
            )

    # ---------------------------------------------------------------------------------- reader thread
    def _run(self, pending: bytes) -> None:
        """Stamp every read with the host clock as it arrives; decode what came in when someone needs it.

        Decoding each read alone would cost a numpy pass per frame; decoding them together keeps the CPU
        share low, and each frame still gets the receive time of the read that completed it.
        """
        self._last_decode = time.monotonic()
        if pending:
            self._pending.add(pending, self._last_decode)
        while not self._stop.is_set():
            try:
                data = self.transport.read(READ_CHUNK, 0.05)
            except TransportLost as exc:
                self._decode_before_reconnect()
                self._on_lost(str(exc))
                continue
            now = time.monotonic()
            if data:
                with self._decode_lock:
                    self._pending.add(data, now)
            interval = DECODE_INTERVAL_S if self._waiting else IDLE_DECODE_INTERVAL_S
            if not data or now - self._last_decode >= interval:
                self._decode_pending()  # also on an idle line: lets out the bytes the decoder gathered
            if data and self.link is not None and self.link.coalesce_reads and len(data) < READ_CHUNK // 2:
                # a trickle (a 40-byte legacy frame per read at 1.7 kHz): wait, then take all that gathered,
                # never past the next decode (no added latency). Each frame keeps the stamp of the read that
                # brought it; the clock fit's lower envelope rests on the newest frame of each read.
                wait = min(READ_COALESCE_S, self._last_decode + interval - time.monotonic())
                if wait > 0.0005:
                    self._stop.wait(wait)
        with self._decode_lock:
            if self._pending.chunks:
                self._ingest(*self._pending.take())
            if self.decoder is not None:
                self._deliver_stamped(self.decoder.flush())

    def _decode_pending(self, drain: bool = False) -> None:
        """Decode the reads stamped so far and deliver their samples (from the reader or a consumer thread).

        `drain` also lets out what the decoder holds back to decode in larger passes (a legacy decoder
        gathers up to 10 ms): a consumer asking now gets every complete frame."""
        with self._decode_lock:
            self._last_decode = time.monotonic()
            if self.decoder is None:
                return
            if self._pending.chunks:
                self._ingest(*self._pending.take())
            elif not drain:
                self._deliver_stamped(self.decoder.feed(b""))
            if drain:
                self._deliver_stamped(self.decoder.drain())

    def _decode_before_reconnect(self) -> None:
        """Everything received, before the link drops its bytes: also a frame the decoder holds back."""
        self._decode_pending(drain=True)
        with self._decode_lock:
            self._deliver_stamped(self._held_frames())

    def _held_frames(self) -> DecodeOutput:
        """What the decoder still holds once drained (v1 and legacy decoders hold nothing back)."""
        return DecodeOutput()

    def _ingest(self, chunks: list[bytes], read_ends: list[int], read_times: list[float]) -> None:
        assert self.decoder is not None
        self._read_ends.extend(read_ends)
        self._read_times.extend(read_times)
        self._deliver_stamped(self.decoder.feed(b"".join(chunks) if len(chunks) > 1 else chunks[0]))

    def _deliver_stamped(self, out: DecodeOutput) -> None:
        """Deliver with the receive times of the reads that brought each frame. The decoder may hold bytes
        over several ingests (it gathers a few KB before a numpy pass), so reads are kept until every
        frame they completed has come out."""
        ends, times = self._read_ends, self._read_times
        self._deliver(out, np.asarray(ends, np.int64), np.asarray(times))
        if out.frame_end:
            k = bisect.bisect_left(ends, out.frame_end[-1])
            del ends[:k], times[:k]
        if len(ends) > MAX_READS_KEPT:  # nothing decodes (a line of garbage): keep memory bounded
            del ends[:-MAX_READS_KEPT], times[:-MAX_READS_KEPT]

    def _rx_times(self, stream_end: np.ndarray, read_ends: np.ndarray, read_times: np.ndarray) -> np.ndarray:
        """Host receive time of the read that brought in each frame's last byte."""
        if len(read_times) == 0:
            return np.full(len(stream_end), time.monotonic())
        # both count every byte fed to the decoder since it was made
        k = np.searchsorted(read_ends, np.asarray(stream_end), side="left")
        return read_times[np.minimum(k, len(read_times) - 1)]

    def _deliver(self, out: DecodeOutput, read_ends: np.ndarray, read_times: np.ndarray) -> None:
        rx_now = float(read_times[-1]) if len(read_times) else time.monotonic()
        for msg in out.messages:
            self._on_message(msg, rx_now)
        if out.device_reset:
            self.segments.append(_Segment())
            self._stats.device_resets += 1
            log.info("%s: device restarted; new clock segment %d", self.config.name, len(self.segments) - 1)
        if not out.blocks:
            return
        seg = self.segments[-1]
        seg.fit.add(
            np.asarray(out.frame_time_us, dtype=np.int64),
            self._rx_times(np.asarray(out.frame_end, np.int64), read_ends, read_times),
        )
        est = seg.fit.estimate()
        for block in out.blocks:
            rx = self._rx_times(block.stream_end, read_ends, read_times)
            self._push_batch(self._make_batch(block, rx, est))

    def _make_batch(self, block, rx: np.ndarray, est: ClockEstimate | None) -> EncoderBatch:
        mapped = est.to_host(block.device_time_us) if est else rx
        return EncoderBatch(
            block.index,
            block.device_time_us,
            rx,
            np.asarray(mapped, np.float64),
            block.values,
            self.to_angles(block.values),
            len(self.segments) - 1,
        )

    def to_angles(self, counts: np.ndarray) -> np.ndarray:
        """Raw counts → radians: the calibration if given, else the board's nominal conversion."""
        link = self.link if self.link is not None else LINKS["v1"](self)
        return link.to_angles(counts, self.config.calibration)

    def _push_batch(self, batch: EncoderBatch) -> None:
        self._push(batch, len(batch), f"{len(batch)} samples", float(batch.host_time[0]))

    def _on_message(self, msg: object, rx_time: float) -> None:
        if isinstance(msg, protocol.DeviceInfo):
            self.info = msg
        elif isinstance(msg, protocol.Ack):
            self._acks[msg.command_seq] = msg
            if msg.status != protocol.AckStatus.OK:
                log.warning("%s: device refused command %s: %s", self.config.name, msg.command, msg.status.name)
        elif isinstance(msg, protocol.Pong):
            self._pongs.append((msg, rx_time))
        elif isinstance(msg, protocol.DeviceError):
            self.device_errors.append(msg)
            self._stats.device_errors += 1
            log.error("%s: device error %d (%d): %s", self.config.name, msg.code, msg.detail, msg.text)

    def _on_lost(self, why: str) -> None:
        """The link dropped: record the gap, reconnect with back-off until it is back or we are stopped."""
        if not self._reconnect(
            why, close=self.transport.close, reopen=self.transport.open, errors=(BridgeError,), resume=self._resume
        ):
            self._stop.set()

    def _resume(self) -> bool:
        assert self.decoder is not None and self.link is not None
        with self._decode_lock:
            self.decoder.mark_reconnect()
        try:
            self.link.resume()
        except TransportLost:
            return False  # lost again at once: the next read says so
        return True

    # ----------------------------------------------------------------------------------- consumer API
    def read(self, timeout: float = 0.0) -> list[EncoderBatch]:
        """Everything received so far, decoded (waiting up to `timeout` for the first batch)."""
        if timeout <= 0:
            self._decode_pending(drain=True)
            return self._take(0.0)
        with self._ready:
            self._waiting += 1  # before decoding: a read arriving meanwhile is then decoded promptly
        try:
            self._decode_pending(drain=True)
            return self._take(timeout)
        finally:
            with self._ready:
                self._waiting -= 1

    def clock(self, segment: int | None = None) -> ClockEstimate | None:
        with self._decode_lock:
            return self.segments[-1 if segment is None else segment].fit.estimate()

    def ping(self, token: int | None = None) -> int:
        """Send a clock probe (answered by PONG); returns the command's sequence number."""
        return self._send(MsgType.PING, token=token if token is not None else time.monotonic_ns())

    def stats(self) -> StreamStats:
        """A consistent snapshot of counters, rate and clock state (of everything received so far)."""
        self._decode_pending()
        s = replace(self._stats, gap_events=list(self._stats.gap_events))
        s.protocol = self.protocol
        d = self.decoder.stats if self.decoder is not None else None
        if d is not None:
            s.frames, s.samples, s.crc_errors = d.frames, d.samples, d.crc_errors
            s.resync_bytes, s.gaps, s.missing_samples = d.resync_bytes, d.gaps, d.missing_samples
            s.duplicates, s.out_of_order = d.duplicates, d.out_of_order
        self._health(s, s.samples)
        est = self.clock()
        if est is not None:
            s.drift_ppm, s.residual_ms = est.drift_ppm, est.residual_ms
        return s

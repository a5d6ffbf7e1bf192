"""Wire protocol v1 of the dexumi encoder board (specified byte by byte in docs/protocol.md).

A frame on the wire is ``COBS(body) 0x00``; the body is a 12-byte header, the payload and a CRC-32C::

    u8 version | u8 type | u16 payload_len | u32 seq | u32 time_us | payload | u32 crc32c(header+payload)

All integers are little-endian. ``seq`` counts the sender's frames (wraps at 2**32); ``time_us`` is the
sender's microsecond clock when the frame was built (wraps at 2**32, about 71.6 minutes).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from cobs import cobs
from crc32c import crc32c

PROTOCOL_VERSION = 1
DELIMITER = b"\x00"
HEADER = struct.Struct("<BBHII")
HEADER_SIZE = HEADER.size  # 12
CRC = struct.Struct("<I")
CRC_SIZE = CRC.size
MAX_PAYLOAD = 4096
MIN_BODY = HEADER_SIZE + CRC_SIZE
CRC32C_RESIDUE = 0x48674BC7  # crc32c(data + crc32c(data) as 4 little-endian bytes), for any data
# COBS adds one byte per 254 plus one; the delimiter adds one more.
MAX_WIRE_FRAME = HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE + (HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE) // 254 + 2

SAMPLES_HEADER = struct.Struct("<IHBB")  # first_index, count, channels, width
INFO_FIXED = struct.Struct("<BBBBBBHII")  # fw major/minor/patch, channels, bits, width, max_batch, rate, max rate
ACK = struct.Struct("<IBB")  # command seq, command type, status
PONG = struct.Struct("<IQI")  # command seq, host token, device receive time
ERROR_FIXED = struct.Struct("<HI")  # code, detail
RATE = struct.Struct("<I")  # millihertz
BATCH = struct.Struct("<H")
PING = struct.Struct("<Q")
SAMPLE_WIDTHS = (2, 3, 4)


class MsgType(enum.IntEnum):
    """Message types; device→host below 0x10, host→device from 0x10."""

    SAMPLES = 0x01
    INFO = 0x02
    ACK = 0x03
    PONG = 0x04
    ERROR = 0x05
    START = 0x10
    STOP = 0x11
    SET_RATE = 0x12
    GET_INFO = 0x13
    PING = 0x14
    SET_BATCH = 0x15


COMMAND_TYPES = frozenset(t for t in MsgType if t >= 0x10)


class AckStatus(enum.IntEnum):
    OK = 0
    BAD_ARGUMENT = 1
    UNSUPPORTED = 2
    BUSY = 3


class ErrorCode(enum.IntEnum):
    BUFFER_OVERFLOW = 1  # detail: samples the device's ring buffer lost
    ADC_FAULT = 2  # detail: ADC index
    BAD_COMMAND = 3  # detail: command type
    RATE_UNSUPPORTED = 4  # detail: requested millihertz
    FRAME_ERROR = 5  # detail: host frames the device rejected so far


class Frame(NamedTuple):
    """One decoded, CRC-checked frame (a tuple: the decoder makes tens of thousands a second)."""

    type: int
    seq: int
    time_us: int
    payload: bytes
    version: int = PROTOCOL_VERSION


class ChannelKind(enum.IntEnum):
    """What a channel measures (INFO's channel declaration)."""

    UNSPECIFIED = 0
    ANGLE = 1
    FORCE = 2
    PRESSURE = 3
    TEMPERATURE = 4
    REFERENCE = 5  # e.g. the ratiometric reference voltage of the angle sensors
    VOLTAGE = 6


class ChannelUnit(enum.IntEnum):
    COUNTS = 0  # raw ADC counts, no physical unit declared
    RADIAN = 1
    DEGREE = 2
    NEWTON = 3
    PASCAL = 4
    CELSIUS = 5
    VOLT = 6


SCALE_NONLINEAR = 127  # scale_exp10 meaning "counts are not a power of ten of the unit"
CHANNEL_DECL = struct.Struct("<BBb")  # kind, unit, scale_exp10


@dataclass(frozen=True)
class ChannelSpec:
    """One channel's declared kind and unit; value in `unit` = counts × 10**scale_exp10 (if linear)."""

    kind: int = ChannelKind.UNSPECIFIED
    unit: int = ChannelUnit.COUNTS
    scale_exp10: int = SCALE_NONLINEAR

    @property
    def scale(self) -> float | None:
        """Units per count, or None when the conversion is not a power of ten (e.g. ratiometric angles)."""
        return None if self.scale_exp10 == SCALE_NONLINEAR else 10.0**self.scale_exp10

    @property
    def kind_name(self) -> str:
        try:
            return ChannelKind(self.kind).name.lower()
        except ValueError:
            return f"kind{self.kind}"

    @property
    def unit_name(self) -> str:
        try:
            return ChannelUnit(self.unit).name.lower()
        except ValueError:
            return f"unit{self.unit}"


@dataclass(frozen=True)
class DeviceInfo:
    """What a device says about itself in answer to GET_INFO."""

    device_id: str
    model: str
    firmware: tuple[int, int, int]
    channels: int
    resolution_bits: int
    sample_width: int
    max_batch: int
    rate_hz: float
    max_rate_hz: float
    protocol: str = "v1"
    channel_specs: tuple[ChannelSpec, ...] = ()  # empty: the firmware declares none (older firmware)


@dataclass(frozen=True)
class Ack:
    command_seq: int
    command: int
    status: AckStatus


@dataclass(frozen=True)
class Pong:
    command_seq: int
    token: int
    device_rx_us: int
    device_tx_us: int


@dataclass(frozen=True)
class DeviceError:
    code: int
    detail: int
    text: str


@dataclass
class SampleFrame:
    """The SAMPLES payload of one frame, values still as raw ADC counts."""

    first_index: int
    time_us: np.ndarray  # uint32, one per sample (device clock, wrapping)
    values: np.ndarray  # int32, (count, channels)
    frame_seq: int = 0
    frame_time_us: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------- encoding


def encode_body(msg_type: int, seq: int, time_us: int, payload: bytes = b"") -> bytes:
    """Header + payload + CRC, before COBS."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    head = HEADER.pack(PROTOCOL_VERSION, msg_type, len(payload), seq & 0xFFFFFFFF, time_us & 0xFFFFFFFF)
    body = head + payload
    return body + CRC.pack(crc32c(body))


def encode_frame(msg_type: int, seq: int, time_us: int, payload: bytes = b"") -> bytes:
    """A complete wire frame: COBS-encoded body followed by the 0x00 delimiter."""
    stuffed: bytes = cobs.encode(encode_body(msg_type, seq, time_us, payload))  # cobs ships no types
    return stuffed + DELIMITER


def pack_values(values: np.ndarray, width: int) -> bytes:
    """Signed little-endian integers of `width` bytes (2, 3 or 4), row-major."""
    v = np.ascontiguousarray(values, dtype="<i4")
    if width == 4:
        return v.tobytes()
    if width == 2:
        return v.astype("<i2").tobytes()
    if width == 3:
        return v.view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    raise ValueError(f"sample width must be one of {SAMPLE_WIDTHS}, not {width}")


def unpack_values(raw: bytes | memoryview, width: int, count: int, channels: int) -> np.ndarray:
    """Inverse of `pack_values`: an int32 array of shape (count, channels)."""
    if width == 4:
        return np.frombuffer(raw, "<i4", count * channels).reshape(count, channels).astype(np.int32)
    if width == 2:
        return np.frombuffer(raw, "<i2", count * channels).reshape(count, channels).astype(np.int32)
    if width == 3:
        # read 4 bytes at every 3-byte step (one spare byte at the end), drop the 4th, sign-extend
        n = count * channels
        padded = bytes(memoryview(raw)[: 3 * n]) + b"\x00"
        words = np.ndarray((n,), "<u4", padded, 0, (3,))
        return ((words << 8).view("<i4") >> 8).reshape(count, channels)
    raise ValueError(f"sample width must be one of {SAMPLE_WIDTHS}, not {width}")


def samples_payload(first_index: int, time_us: np.ndarray, values: np.ndarray, width: int = 4) -> bytes:
    """SAMPLES payload: header, one u32 timestamp per sample, then the values."""
    values = np.atleast_2d(values)
    count, channels = values.shape
    if len(time_us) != count:
        raise ValueError("one timestamp per sample")
    head = SAMPLES_HEADER.pack(first_index & 0xFFFFFFFF, count, channels, width)
    times = (np.asarray(time_us, dtype=np.int64) & 0xFFFFFFFF).astype("<u4").tobytes()
    return head + times + pack_values(values, width)


def info_payload(info: DeviceInfo) -> bytes:
    ident = info.device_id.encode()[:255]
    model = info.model.encode()[:255]
    fixed = INFO_FIXED.pack(
        *info.firmware,
        info.channels,
        info.resolution_bits,
        info.sample_width,
        info.max_batch,
        round(info.rate_hz * 1000),
        round(info.max_rate_hz * 1000),
    )
    out = fixed + bytes([len(ident)]) + ident + bytes([len(model)]) + model
    if info.channel_specs:
        if len(info.channel_specs) != info.channels:
            raise ValueError(f"{len(info.channel_specs)} channel specs for {info.channels} channels")
        out += bytes([info.channels]) + b"".join(
            CHANNEL_DECL.pack(c.kind, c.unit, c.scale_exp10) for c in info.channel_specs
        )
    return out


def ack_payload(command_seq: int, command: int, status: int = AckStatus.OK) -> bytes:
    return ACK.pack(command_seq & 0xFFFFFFFF, command, status)


def pong_payload(command_seq: int, token: int, device_rx_us: int) -> bytes:
    return PONG.pack(command_seq & 0xFFFFFFFF, token & 0xFFFFFFFFFFFFFFFF, device_rx_us & 0xFFFFFFFF)


def error_payload(code: int, detail: int = 0, text: str = "") -> bytes:
    t = text.encode()[:255]
    return ERROR_FIXED.pack(code, detail & 0xFFFFFFFF) + bytes([len(t)]) + t


def command_frame(
    command: MsgType,
    seq: int,
    *,
    rate_hz: float | None = None,
    batch: int | None = None,
    token: int | None = None,
    time_us: int = 0,
) -> bytes:
    """A host→device command frame."""
    payload = b""
    if command is MsgType.SET_RATE:
        payload = RATE.pack(round((rate_hz or 0) * 1000))
    elif command is MsgType.SET_BATCH:
        payload = BATCH.pack(batch or 1)
    elif command is MsgType.PING:
        payload = PING.pack((token or 0) & 0xFFFFFFFFFFFFFFFF)
    return encode_frame(command, seq, time_us, payload)


# ----------------------------------------------------------------------------------------------- decoding


def body_header(body: bytes) -> tuple[int, int, int, int] | None:
    """(msg_type, payload_len, seq, time_us) of one COBS-decoded body whose version, declared length and CRC
    check out; None if it is not a valid frame."""
    if len(body) < MIN_BODY:
        return None
    version, msg_type, length, seq, time_us = HEADER.unpack_from(body)
    if version != PROTOCOL_VERSION or length != len(body) - MIN_BODY or length > MAX_PAYLOAD:
        return None
    if crc32c(body) != CRC32C_RESIDUE:  # the CRC over the body with its own CRC appended
        return None
    return msg_type, length, seq, time_us


def parse_body(body: bytes) -> Frame | None:
    """Check one COBS-decoded body (CRC, version, declared length); None if it is not a valid frame."""
    head = body_header(body)
    if head is None:
        return None
    msg_type, _, seq, time_us = head
    return Frame(msg_type, seq, time_us, bytes(body[HEADER_SIZE:-CRC_SIZE]), PROTOCOL_VERSION)


def decode_wire_chunk(chunk: bytes) -> Frame | None:
    """COBS-decode the bytes between two delimiters and check them; None if invalid."""
    try:
        body = cobs.decode(chunk)
    except cobs.DecodeError:
        return None
    return parse_body(body)


def parse_samples(frame: Frame) -> SampleFrame | None:
    """The SAMPLES payload, or None if its sizes disagree with its length."""
    p = frame.payload
    if len(p) < SAMPLES_HEADER.size:
        return None
    first, count, channels, width = SAMPLES_HEADER.unpack_from(p)
    if width not in SAMPLE_WIDTHS or channels == 0 or count == 0:
        return None
    off = SAMPLES_HEADER.size
    if len(p) != off + 4 * count + count * channels * width:
        return None
    times = np.frombuffer(p, "<u4", count, off)
    values = unpack_values(memoryview(p)[off + 4 * count :], width, count, channels)
    return SampleFrame(first, times, values, frame.seq, frame.time_us)


def samples_layout(payload: bytes, offset: int = 0, length: int | None = None) -> tuple[int, int, int, int] | None:
    """(first_index, count, channels, width) of a SAMPLES payload whose size is consistent, else None; the
    payload may sit inside a larger buffer, `length` bytes from `offset`."""
    size = len(payload) - offset if length is None else length
    if size < SAMPLES_HEADER.size:
        return None
    first, count, channels, width = SAMPLES_HEADER.unpack_from(payload, offset)
    if width not in SAMPLE_WIDTHS or channels == 0 or count == 0:
        return None
    if size != SAMPLES_HEADER.size + 4 * count + count * channels * width:
        return None
    return first, count, channels, width


def parse_info(payload: bytes) -> DeviceInfo | None:
    try:
        fw0, fw1, fw2, channels, bits, width, max_batch, rate, max_rate = INFO_FIXED.unpack_from(payload)
        off = INFO_FIXED.size
        n = payload[off]
        ident = payload[off + 1 : off + 1 + n].decode()
        off += 1 + n
        m = payload[off]
        model = payload[off + 1 : off + 1 + m].decode()
        off += 1 + m
        specs: tuple[ChannelSpec, ...] = ()
        if len(payload) != off:  # the channel declaration (firmware before it ends here)
            n = payload[off]
            if n != channels or len(payload) != off + 1 + CHANNEL_DECL.size * n:
                return None
            specs = tuple(
                ChannelSpec(*CHANNEL_DECL.unpack_from(payload, off + 1 + CHANNEL_DECL.size * k)) for k in range(n)
            )
    except (struct.error, IndexError, UnicodeDecodeError):
        return None
    return DeviceInfo(
        ident,
        model,
        (fw0, fw1, fw2),
        channels,
        bits,
        width,
        max_batch,
        rate / 1000,
        max_rate / 1000,
        channel_specs=specs,
    )


def parse_ack(payload: bytes) -> Ack | None:
    if len(payload) != ACK.size:
        return None
    seq, command, status = ACK.unpack(payload)
    try:
        return Ack(seq, command, AckStatus(status))
    except ValueError:
        return None


def parse_pong(frame: Frame) -> Pong | None:
    if len(frame.payload) != PONG.size:
        return None
    seq, token, rx = PONG.unpack(frame.payload)
    return Pong(seq, token, rx, frame.time_us)


def parse_error(payload: bytes) -> DeviceError | None:
    try:
        code, detail = ERROR_FIXED.unpack_from(payload)
        n = payload[ERROR_FIXED.size]
        text = payload[ERROR_FIXED.size + 1 : ERROR_FIXED.size + 1 + n].decode(errors="replace")
    except (struct.error, IndexError):
        return None
    return DeviceError(code, detail, text)

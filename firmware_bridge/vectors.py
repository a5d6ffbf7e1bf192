"""Golden test vectors of protocol v1, shared by the Python and C test suites.

`python -m firmware_bridge.vectors` rewrites `protocol_vectors.json`; the tests check that the file, the
Python encoder and the C encoder all agree byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from cobs import cobs

from firmware_bridge import protocol as p
from firmware_bridge.protocol import MsgType

VECTORS_PATH = Path(__file__).with_name("protocol_vectors.json")


def _vector(name: str, msg_type: int, seq: int, time_us: int, payload: bytes, **inputs: Any) -> dict[str, Any]:
    body = p.encode_body(msg_type, seq, time_us, payload)
    return {
        "name": name,
        "type": int(msg_type),
        "seq": seq,
        "time_us": time_us,
        "inputs": inputs,
        "payload_hex": payload.hex(),
        "crc32c": int.from_bytes(body[-4:], "little"),
        "body_hex": body.hex(),
        "wire_hex": p.encode_frame(msg_type, seq, time_us, payload).hex(),
    }


def build_vectors() -> list[dict[str, Any]]:
    """The vectors: every message type, every sample width, wrap-around values, zeros to stuff."""
    vectors = []
    for width in p.SAMPLE_WIDTHS:
        lim = 1 << (8 * width - 1)
        values = np.array([[0, 1, -1, lim - 1], [-lim, 255, -256, 0x1234 % lim]], dtype=np.int64)
        times = [0xFFFFFF00, 0x00000010]  # the device clock wraps between the two samples
        payload = p.samples_payload(0xFFFFFFFF, np.array(times), values, width)
        vectors.append(
            _vector(
                f"samples_width{width}",
                MsgType.SAMPLES,
                7,
                0x00000020,
                payload,
                first_index=0xFFFFFFFF,
                sample_time_us=times,
                values=values.tolist(),
                width=width,
            )
        )
    zeros = np.zeros((3, 16), dtype=np.int64)
    vectors.append(
        _vector(
            "samples_all_zero_16ch",
            MsgType.SAMPLES,
            0,
            0,
            p.samples_payload(0, np.array([0, 500, 1000]), zeros, 3),
            first_index=0,
            sample_time_us=[0, 500, 1000],
            values=zeros.tolist(),
            width=3,
        )
    )
    long_values = (np.arange(20 * 16, dtype=np.int64).reshape(20, 16) * 4099) % (1 << 23) - (1 << 22)
    long_times = list(range(1000, 1000 + 20 * 500, 500))
    vectors.append(
        _vector(
            "samples_20x16_longer_than_254",
            MsgType.SAMPLES,
            123456,
            11000,
            p.samples_payload(400, np.array(long_times), long_values, 4),
            first_index=400,
            sample_time_us=long_times,
            values=long_values.tolist(),
            width=4,
        )
    )
    info = p.DeviceInfo("DXG-0001", "dexumi-glove-16", (1, 2, 3), 16, 24, 3, 32, 1000.0, 4000.0)
    vectors.append(
        _vector(
            "info",
            MsgType.INFO,
            1,
            5000,
            p.info_payload(info),
            device_id=info.device_id,
            model=info.model,
            firmware=list(info.firmware),
            channels=16,
            resolution_bits=24,
            sample_width=3,
            max_batch=32,
            rate_mhz=1000000,
            max_rate_mhz=4000000,
        )
    )
    vectors.append(
        _vector(
            "ack_start_ok",
            MsgType.ACK,
            2,
            5100,
            p.ack_payload(9, MsgType.START, p.AckStatus.OK),
            command_seq=9,
            command=int(MsgType.START),
            status=0,
        )
    )
    vectors.append(
        _vector(
            "ack_rate_bad",
            MsgType.ACK,
            3,
            5200,
            p.ack_payload(10, MsgType.SET_RATE, p.AckStatus.BAD_ARGUMENT),
            command_seq=10,
            command=int(MsgType.SET_RATE),
            status=1,
        )
    )
    vectors.append(
        _vector(
            "pong",
            MsgType.PONG,
            4,
            5300,
            p.pong_payload(11, 0x0123456789ABCDEF, 5290),
            command_seq=11,
            token=0x0123456789ABCDEF,
            device_rx_us=5290,
        )
    )
    vectors.append(
        _vector(
            "error_overflow",
            MsgType.ERROR,
            5,
            5400,
            p.error_payload(p.ErrorCode.BUFFER_OVERFLOW, 12, "ring full"),
            code=int(p.ErrorCode.BUFFER_OVERFLOW),
            detail=12,
            text="ring full",
        )
    )
    # a board carrying joints and touch: 10 angle channels, a reference, 4 fingertip forces (0.01 N), a
    # temperature (0.1 °C)
    specs = (
        (p.ChannelSpec(p.ChannelKind.ANGLE, p.ChannelUnit.RADIAN),) * 10
        + (p.ChannelSpec(p.ChannelKind.REFERENCE, p.ChannelUnit.COUNTS),)
        + (p.ChannelSpec(p.ChannelKind.FORCE, p.ChannelUnit.NEWTON, -2),) * 4
        + (p.ChannelSpec(p.ChannelKind.TEMPERATURE, p.ChannelUnit.CELSIUS, -1),)
    )
    touch = p.DeviceInfo("DXT-0002", "dexumi-touch-16", (1, 3, 0), 16, 24, 3, 32, 1000.0, 4000.0, channel_specs=specs)
    vectors.append(
        _vector(
            "info_channels",
            MsgType.INFO,
            6,
            5500,
            p.info_payload(touch),
            device_id=touch.device_id,
            model=touch.model,
            firmware=list(touch.firmware),
            channels=16,
            resolution_bits=24,
            sample_width=3,
            max_batch=32,
            rate_mhz=1000000,
            max_rate_mhz=4000000,
            channel_decl=[[s.kind, s.unit, s.scale_exp10] for s in specs],
        )
    )
    commands: list[tuple[MsgType, dict[str, Any], dict[str, Any]]] = [
        (MsgType.START, {}, {}),
        (MsgType.STOP, {}, {}),
        (MsgType.GET_INFO, {}, {}),
        (MsgType.SET_RATE, {"rate_hz": 2000.0}, {"rate_mhz": 2000000}),
        (MsgType.SET_BATCH, {"batch": 8}, {"batch": 8}),
        (MsgType.PING, {"token": 0xFEDCBA9876543210}, {"token": 0xFEDCBA9876543210}),
    ]
    for command, kwargs, extra in commands:
        wire = p.command_frame(command, 42, **kwargs)
        body = cobs.decode(wire[:-1])
        vectors.append(
            {
                "name": f"command_{command.name.lower()}",
                "type": int(command),
                "seq": 42,
                "time_us": 0,
                "inputs": extra,
                "payload_hex": body[p.HEADER_SIZE : -p.CRC_SIZE].hex(),
                "crc32c": int.from_bytes(body[-4:], "little"),
                "body_hex": body.hex(),
                "wire_hex": wire.hex(),
            }
        )
    return vectors


def load_vectors() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads(VECTORS_PATH.read_text())["vectors"]
    return vectors


def write_vectors() -> None:
    doc = {
        "protocol": "dexumi v1",
        "crc": "CRC-32C (Castagnoli), reflected, init 0xFFFFFFFF, xorout 0xFFFFFFFF",
        "crc_check_123456789": 0xE3069283,
        "vectors": build_vectors(),
    }
    VECTORS_PATH.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    write_vectors()

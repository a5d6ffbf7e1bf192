"""The C protocol core against the golden vectors of protocol v1 (firmware_bridge/protocol_vectors.json)
and against the Python encoder: byte-identical frames, COBS, CRC-32C, the device's command receiver."""

from __future__ import annotations

import random
import struct
import subprocess

import numpy as np
import pytest
from cobs import cobs
from crc32c import crc32c

from firmware_bridge import protocol as p
from firmware_bridge.firmware.testing import built, missing_tools
from firmware_bridge.vectors import load_vectors

pytestmark = pytest.mark.skipif(missing_tools("cc") is not None, reason=str(missing_tools("cc")))


def _hex(b: bytes) -> str:
    return b.hex() or "-"


def vector_lines() -> list[str]:
    """One C test case per golden vector, built from the vector's inputs (not from its payload)."""
    lines = []
    for v in load_vectors():
        i, name, head = v["inputs"], v["name"], f"{v['seq']} {v['time_us']}"
        wire = v["wire_hex"]
        if v["type"] == p.MsgType.SAMPLES:
            values = [x for row in i["values"] for x in row]
            count, channels = len(i["values"]), len(i["values"][0])
            lines.append(
                f"samples {name} {head} {i['first_index']} {i['width']} {count} {channels} "
                f"{' '.join(map(str, i['sample_time_us']))} {' '.join(map(str, values))} {wire}"
            )
        elif v["type"] == p.MsgType.INFO:
            lines.append(
                f"info {name} {head} {' '.join(map(str, i['firmware']))} {i['channels']} "
                f"{i['resolution_bits']} {i['sample_width']} {i['max_batch']} {i['rate_mhz']} "
                f"{i['max_rate_mhz']} {_hex(i['device_id'].encode())} {_hex(i['model'].encode())} "
                f"{_hex(bytes(b & 0xFF for c in i.get('channel_decl', []) for b in c))} {wire}"
            )
        elif v["type"] == p.MsgType.ACK:
            lines.append(f"ack {name} {head} {i['command_seq']} {i['command']} {i['status']} {wire}")
        elif v["type"] == p.MsgType.PONG:
            token = i["token"].to_bytes(8, "little")
            lines.append(f"pong {name} {head} {i['command_seq']} {token.hex()} {i['device_rx_us']} {wire}")
        elif v["type"] == p.MsgType.ERROR:
            lines.append(f"error {name} {head} {i['code']} {i['detail']} {_hex(i['text'].encode())} {wire}")
        else:
            payload = {
                p.MsgType.SET_RATE: lambda i=i: p.RATE.pack(i["rate_mhz"]),
                p.MsgType.SET_BATCH: lambda i=i: p.BATCH.pack(i["batch"]),
                p.MsgType.PING: lambda i=i: p.PING.pack(i["token"]),
            }.get(p.MsgType(v["type"]), lambda: b"")()
            lines.append(f"command {name} {v['type']} {head} {_hex(payload)} {wire}")
    return lines


def run_c(lines: list[str]) -> dict[str, str]:
    r = subprocess.run(
        [str(built("vectors"))], input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=30
    )
    results = {}
    for line in r.stdout.splitlines():
        if line.startswith("ok "):
            results[line[3:]] = "ok"
        elif line.startswith("FAIL "):
            name, why = line[5:].split(": ", 1)
            results[name] = why
    assert r.stderr == ""
    return results


def test_firmware_c_encoder_matches_every_golden_vector() -> None:
    vectors = load_vectors()
    lines = vector_lines()
    assert len(lines) == len(vectors) == 17
    results = run_c(lines)
    assert results == {v["name"]: "ok" for v in vectors}


def test_firmware_c_frames_match_python_encoder_on_random_inputs() -> None:
    """Random SAMPLES frames (every width, 1-32 samples x 1-16 channels, wrapping counters) and ERRORs."""
    rng = random.Random(1234)
    lines, names = [], []
    for k in range(60):
        width = rng.choice(p.SAMPLE_WIDTHS)
        count, channels = rng.randint(1, 32), rng.randint(1, 16)
        lim = 1 << (8 * width - 1)
        values = [rng.randint(-lim, lim - 1) for _ in range(count * channels)]
        times = [rng.getrandbits(32) for _ in range(count)]
        first, seq, t = rng.getrandbits(32), rng.getrandbits(32), rng.getrandbits(32)
        payload = p.samples_payload(first, np.array(times), np.array(values).reshape(count, channels), width)
        wire = p.encode_frame(p.MsgType.SAMPLES, seq, t, payload)
        names.append(f"random_samples_{k}")
        lines.append(
            f"samples {names[-1]} {seq} {t} {first} {width} {count} {channels} "
            f"{' '.join(map(str, times))} {' '.join(map(str, values))} {wire.hex()}"
        )
    for k, text in enumerate(["", "x", "ring full", "é" * 100]):
        wire = p.encode_frame(p.MsgType.ERROR, k, 99, p.error_payload(3, 0xFFFFFFFF, text))
        names.append(f"random_error_{k}")
        lines.append(f"error {names[-1]} {k} 99 3 {0xFFFFFFFF} {_hex(text.encode())} {wire.hex()}")
    assert run_c(lines) == {n: "ok" for n in names}


def test_firmware_c_cobs_and_crc_match_python() -> None:
    rng = random.Random(99)
    raws = [
        b"",
        b"\x00",
        b"\x00\x00",
        b"\x01",
        b"\x01" * 253,
        b"\x01" * 254,
        b"\x01" * 255,
        b"\x01" * 254 + b"\x00",
        b"\x00" + b"\x02" * 508,
        b"\x03" * 1000,
    ]
    raws += [bytes(rng.choice([0, 0, 1, 2, 255]) for _ in range(rng.randint(1, 700))) for _ in range(40)]
    lines = [f"cobs cobs_{k} {_hex(r)} {_hex(cobs.encode(r))}" for k, r in enumerate(raws)]
    lines.append(f"crc crc_check {b'123456789'.hex()} {0xE3069283}")
    lines += [f"crc crc_{k} {_hex(r)} {crc32c(r)}" for k, r in enumerate(raws)]
    results = run_c(lines)
    assert len(results) == 2 * len(raws) + 1
    assert set(results.values()) == {"ok"}


def test_firmware_c_receiver_rejects_damaged_commands() -> None:
    body = cobs.decode(p.command_frame(p.MsgType.SET_RATE, 7, rate_hz=500.0)[:-1])
    bad_crc = body[:-1] + bytes([body[-1] ^ 0x01])
    bad_version = bytes([2]) + body[1:-4] + p.CRC.pack(crc32c(bytes([2]) + body[1:-4]))
    short_len = body[:2] + struct.pack("<H", 3) + body[4:-4]
    short_len += p.CRC.pack(crc32c(short_len))
    cases = {
        "bad_crc": cobs.encode(bad_crc) + b"\x00",
        "bad_version": cobs.encode(bad_version) + b"\x00",
        "length_mismatch": cobs.encode(short_len) + b"\x00",
        "bad_cobs": b"\x09\x01\x02\x00",
        "too_short": cobs.encode(body[:10]) + b"\x00",
        "overlong": b"\x01" * 100 + b"\x00",
    }
    results = run_c([f"reject {k} {w.hex()}" for k, w in cases.items()])
    assert results == {k: "ok" for k in cases}

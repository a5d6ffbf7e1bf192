"""Golden vectors of the tactile frames, built with `struct` straight from the layouts in docs/protocol.md.

`python -m firmware_bridge.tactile.vectors` rewrites `tactile_vectors.json`; tests check that the file,
this builder, the numpy encoders and the decoders agree byte for byte and value for value.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

VECTORS_PATH = Path(__file__).with_name("tactile_vectors.json")


def fsr_frame(adc: list[int], fsr_low: int, fsr_high: int, ms: int) -> bytes:
    """``AA 55 00 00``, 12 × i32, u32 (low | high << 16), u32 (checksum << 16 | ms)."""
    packed = fsr_low | (fsr_high << 16)
    checksum = (sum(a & 0xFFFFFFFF for a in adc) + packed) & 0xFFFF
    return struct.pack("<I12iII", 0x000055AA, *adc, packed, (checksum << 16) | ms)


def xhand_frame(fx: int, fy: int, fz: int, maps: list[list[int]], timestamp: int) -> bytes:
    """``55 AA``, i8 fx, i8 fy, u8 fz, 3 × 120 u16 (x, y, z maps, row-major 10 × 12), u16 ts, u8 sum."""
    body = struct.pack("<bbB360HH", fx, fy, fz, *(v for m in maps for v in m), timestamp)
    return b"\x55\xaa" + body + bytes([sum(body) & 0xFF])


def build_vectors() -> list[dict[str, Any]]:
    out = []
    for name, adc, lo, hi, ms in [
        (
            "fsr_basic",
            [1, -1, 1000, -1000, 0x0055AA, 2_000_000, -2_000_000, 0, 7, 65535, 65536, 4_000_000],
            1234,
            4095,
            65535,
        ),
        ("fsr_extremes", [(1 << 23) - 1, -(1 << 23)] * 6, 0xFFFF, 0xFFFF, 0),
    ]:
        out.append(
            {
                "name": name,
                "format": "fsr",
                "inputs": {"adc": adc, "fsr": [lo, hi], "ms": ms},
                "frame_hex": fsr_frame(adc, lo, hi, ms).hex(),
            }
        )
    ramp = [[(m * 1000 + 37 * k) % 65536 for k in range(120)] for m in range(3)]
    zeros = [[0] * 120 for _ in range(3)]
    for name, fx, fy, fz, maps, ts in [("xhand_ramp", -128, 127, 255, ramp, 65535), ("xhand_zero", 0, 0, 0, zeros, 0)]:
        out.append(
            {
                "name": name,
                "format": "xhand-tactile",
                "inputs": {"fx": fx, "fy": fy, "fz": fz, "maps": maps, "timestamp": ts},
                "frame_hex": xhand_frame(fx, fy, fz, maps, ts).hex(),
            }
        )
    return out


def load_vectors() -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads(VECTORS_PATH.read_text())["vectors"]
    return vectors


def write_vectors() -> None:
    VECTORS_PATH.write_text(
        json.dumps({"formats": "DexUMI FSR (60 B), XHand tactile (728 B)", "vectors": build_vectors()}, indent=1) + "\n"
    )


if __name__ == "__main__":
    write_vectors()

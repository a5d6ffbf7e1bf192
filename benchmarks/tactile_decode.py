"""Tactile decode throughput: XHand tactile and DexUMI FSR frames, against a per-frame struct reader.

    python benchmarks/tactile_decode.py [--quick]

The baseline is the reader one writes from the layout (DexUMI's own unpacks only 6 bytes of the frame and
cannot work as written): find the header, check the 8-bit sum, `struct.unpack` one frame at a time.
Both get the same bytes in the same 64 KiB chunks. Prints one JSON object as its last line:
tactile_frames_per_s (XHand, ours), baseline_tactile_frames_per_s, tactile_speedup, fsr_frames_per_s,
tactile_board_cpu_pct (ours, one XHand board at 100 Hz: decode time / stream time).
"""

from __future__ import annotations

import argparse
import json
import statistics
import struct
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from firmware_bridge.tactile import fsr, xhand
from firmware_bridge.tactile.decoder import FsrDecoder, XHandTactileDecoder

CHUNK = 65536
_XHAND = struct.Struct("<bbB360HH")


class StructXHandReader:
    """Baseline: one frame at a time, header search and checksum in Python, struct for the fields."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.frames = 0

    def feed(self, data: bytes) -> list[tuple]:
        self.buf += data
        out, i, buf = [], 0, self.buf
        while True:
            j = buf.find(b"\x55\xaa", i)
            if j < 0 or j + xhand.FRAME_SIZE > len(buf):
                break
            frame = bytes(buf[j : j + xhand.FRAME_SIZE])
            if sum(frame[2:-1]) & 0xFF == frame[-1]:
                out.append(_XHAND.unpack_from(frame, 2))
                i = j + xhand.FRAME_SIZE
            else:
                i = j + 1
        del buf[:i]
        self.frames += len(out)
        return out


def xhand_stream(n: int) -> bytes:
    rng = np.random.default_rng(0)
    press = np.clip(np.sin(2 * np.pi * np.arange(n) / 300.0), 0, None)
    maps = np.round(
        press[:, None, None, None] * 2500 * rng.uniform(0, 1, (3, 10, 12)) + rng.uniform(0, 20, (n, 3, 10, 12))
    ).astype(np.int64)
    res = np.stack([np.zeros(n), np.zeros(n), np.round(250 * press)], 1).astype(np.int64)
    return xhand.encode_frames(res, maps, np.arange(n) * 10)


def fsr_stream(n: int) -> bytes:
    t = np.arange(n)[:, None]
    adc = (2_000_000 + 1_000_000 * np.sin(2 * np.pi * 1e-4 * t * np.arange(1, 13))).astype(np.int64)
    f = np.clip(200 + 3000 * np.sin(2 * np.pi * t / 800.0), 0, None).astype(np.int64).repeat(2, axis=1)
    return fsr.encode_frames(adc, f, np.arange(n))


def rate(make, data: bytes, count, rounds: int) -> float:
    """Median frames/s over `rounds` full passes."""
    out = []
    for _ in range(rounds):
        d = make()
        t0 = time.perf_counter()
        for i in range(0, len(data), CHUNK):
            d.feed(data[i : i + CHUNK])
        if hasattr(d, "flush"):
            d.flush()
        out.append(count(d) / (time.perf_counter() - t0))
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer frames and rounds (< 1 minute)")
    args = ap.parse_args()
    n, rounds = (5_000, 3) if args.quick else (30_000, 5)
    xd, fd = xhand_stream(n), fsr_stream(10 * n)
    ours = rate(XHandTactileDecoder, xd, lambda d: d.stats.frames, rounds)
    base = rate(StructXHandReader, xd, lambda d: d.frames, rounds)
    fsr_rate = rate(FsrDecoder, fd, lambda d: d.stats.frames, rounds)
    # one board at 100 Hz read in 10 ms pieces (one frame per read), as a reader thread would see it
    d, t0 = XHandTactileDecoder(), time.process_time()
    for i in range(0, min(len(xd), 2000 * xhand.FRAME_SIZE), xhand.FRAME_SIZE):
        d.feed(xd[i : i + xhand.FRAME_SIZE])
    frames = min(n, 2000)
    cpu_pct = 100 * (time.process_time() - t0) / (frames / 100.0)
    print(
        json.dumps(
            {
                "tactile_frames_per_s": round(ours),
                "baseline_tactile_frames_per_s": round(base),
                "tactile_speedup": round(ours / base, 2),
                "fsr_frames_per_s": round(fsr_rate),
                "tactile_board_cpu_pct": round(cpu_pct, 3),
                "frames": n,
                "rounds": rounds,
            }
        )
    )


if __name__ == "__main__":
    main()

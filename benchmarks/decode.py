"""Decoder throughput against a DexUMI-style reader on the same bytes, and the reader's CPU share.

    python benchmarks/decode.py [--quick]

Prints one JSON object as its last line: samples_per_s (protocol v1, batched frames), legacy_samples_per_s,
baseline_samples_per_s (DexUMI-style reader on the same legacy stream), speedup (legacy, same stream),
speedup_v1 (v1 vs the baseline's legacy figure), reader_cpu_pct (16 ch at 2 kHz through a real pty).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from queue import Full, Queue

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from firmware_bridge import legacy, protocol  # noqa: E402
from firmware_bridge.decoder import LegacyDecoder, V1Decoder  # noqa: E402

log = logging.getLogger("bench.decode")
V1_BATCH = 32  # samples per v1 frame (the firmware's default maximum batch)
CHUNK = 65536  # bytes handed to each decoder per call, the same for both (the driver reads up to 64 KiB)


def smooth_counts(n: int, channels: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    v = 2_000_000 + 1_500_000 * np.sin(2 * np.pi * rng.uniform(2e-4, 1e-3, channels) * t)
    v = np.round(v + rng.normal(0, 3, v.shape)).astype(np.int64)
    v[:, -2] = 5_536_000
    return v


def legacy_stream(frames: int, channels: int = 8) -> bytes:
    return legacy.encode_frames(smooth_counts(frames, channels), np.arange(frames) // 2)


def v1_stream(frames: int, batch: int = 32, channels: int = 16) -> bytes:
    values = smooth_counts(frames * batch, channels)
    out = []
    for k in range(frames):
        t = (np.arange(k * batch, (k + 1) * batch) * 500) & 0xFFFFFFFF
        payload = protocol.samples_payload(k * batch, t, values[k * batch:(k + 1) * batch], 3)
        out.append(protocol.encode_frame(protocol.MsgType.SAMPLES, k, int(t[-1]), payload))
    return b"".join(out)


@dataclass
class JointFrame:
    """What DexUMI's reader builds per frame."""

    capture_time: float
    receive_time: float
    joint_angles: list
    raw_voltage: list


def baseline_decode(stream: bytes, channels: int = 8, chunk: int = CHUNK) -> int:
    """A reader written the way DexUMI's JointEncoder works (process_buffer + process_block): a frame is
    the bytes between two headers; it is sliced out of the bytearray and struct.unpack'ed; voltages and
    ratiometric angles are computed in Python lists; the checksum is computed and never compared; the
    frame is stamped with host time and put into a drop-oldest Queue(20); the buffer is re-sliced.
    Returns frames decoded."""
    header = legacy.HEADER_BYTES
    size = legacy.frame_size(channels)
    layout = struct.Struct(f"<{channels}iI")
    queue: Queue = Queue(maxsize=20)
    buffer = bytearray()
    decoded = 0
    for i in range(0, len(stream), chunk):
        buffer += stream[i:i + chunk]
        while len(buffer) >= size:
            start = buffer.find(header)
            if start < 0:
                buffer = buffer[-size:]
                break
            if start > 0:
                buffer = buffer[start:]
                continue
            nxt = buffer.find(header, len(header))
            if nxt < 0:
                break
            if nxt != size:
                buffer = buffer[nxt:]
                continue
            words = layout.unpack(buffer[4:nxt])
            counts, trailer = words[:-1], words[-1]
            volts = [float(c) * 5.0 / 0x7FFFFF for c in counts]
            _checksum, _ms = (trailer >> 16) & 0xFFFF, trailer & 0xFFFF
            now = time.monotonic()
            _expected = sum(counts) & 0xFFFF  # noqa: F841 - computed, never compared
            ref = volts[-2]
            angles = [v / ref * 360 for v in volts if ref != 0][:-2]
            item = JointFrame(now, now, angles, volts)
            try:
                queue.put_nowait(item)
            except Full:
                queue.get_nowait()  # drop the oldest
                queue.put_nowait(item)
            buffer = buffer[nxt:]
            decoded += 1
    return decoded


def ours(decoder, stream: bytes) -> int:
    """Our decoder on the same chunks, including the conversion to angles the driver does."""
    n = 0
    to_angles = legacy.ratiometric_angles if isinstance(decoder, LegacyDecoder) else (lambda c: c * (np.pi / 2**23))
    for i in range(0, len(stream), CHUNK):
        for block in decoder.feed(stream[i:i + CHUNK]).blocks:
            to_angles(block.values)
            n += len(block)
    return n + decoder.flush().samples


def timed(fn, *args) -> tuple[float, int]:
    t = time.perf_counter()
    n = fn(*args)
    return time.perf_counter() - t, n


def reader_cpu(seconds: float) -> float:
    """CPU share (% of one core) of this process while the driver streams 16 ch at 2 kHz from the emulator."""
    from dexumi.devices.encoder import EncoderConfig, EncoderDriver
    from dexumi.devices.sim import SimDeviceProcess

    with SimDeviceProcess("--channels", 16, "--rate", 2000, "--seed", 1) as dev:
        driver = EncoderDriver(EncoderConfig(dev.port)).start()
        try:
            time.sleep(0.5)
            driver.read()
            c0, w0 = time.process_time(), time.perf_counter()
            samples = 0
            while time.perf_counter() - w0 < seconds:
                samples += sum(len(b) for b in driver.read(timeout=0.1))
            cpu = (time.process_time() - c0) / (time.perf_counter() - w0) * 100
        finally:
            driver.close()
    if samples < seconds * 2000 * 0.95:
        raise RuntimeError(f"the reader got {samples} samples in {seconds} s: not keeping up")
    return cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a run of well under a minute")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    frames = 60_000 if args.quick else 300_000
    rounds = 3 if args.quick else 5
    leg = legacy_stream(frames)
    v1 = v1_stream(frames // V1_BATCH)
    base_rates, leg_rates, v1_rates = [], [], []
    for r in range(rounds):  # interleaved, so that machine noise hits both alike
        dt, n = timed(baseline_decode, leg)
        assert n == frames - 1, n  # it needs the next header to close a frame: the last one stays open
        base_rates.append(n / dt)
        dt, n = timed(ours, LegacyDecoder(8), leg)
        assert n == frames, n
        leg_rates.append(n / dt)
        dt, n = timed(ours, V1Decoder(), v1)
        assert n == frames // V1_BATCH * V1_BATCH, n
        v1_rates.append(n / dt)
        log.info("round %d: baseline %.0f/s, legacy %.0f/s, v1 %.0f/s", r, base_rates[-1], leg_rates[-1], v1_rates[-1])
    ratios = [a / b for a, b in zip(leg_rates, base_rates)]
    cpu = reader_cpu(5.0 if args.quick else 20.0)
    result = {
        "samples_per_s": round(statistics.median(v1_rates)),
        "legacy_samples_per_s": round(statistics.median(leg_rates)),
        "baseline_samples_per_s": round(statistics.median(base_rates)),
        "speedup": round(statistics.median(ratios), 2),
        "speedup_v1": round(statistics.median(v1_rates) / statistics.median(base_rates), 2),
        "reader_cpu_pct": round(cpu, 2),
        "legacy_frames": frames, "v1_batch": V1_BATCH, "v1_channels": 16, "chunk_bytes": CHUNK, "rounds": rounds,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

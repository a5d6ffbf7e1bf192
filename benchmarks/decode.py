"""Decoder throughput against a DexUMI-style reader on the same bytes, and the live readers' CPU share.

    python benchmarks/decode.py [--quick]

Prints one JSON object as its last line: speedup_by_chunk (legacy stream handed over in 160 B, 1 KB, 4 KB,
16 KB and 64 KB pieces: ours / the DexUMI-style baseline, interleaved; 160 B-1 KB is what a live reader
decodes; the decoder gathers up to 4 KB or 10 ms per pass), speedup_by_chunk_every_call (the same with
gathering off: one decode pass per call), samples_per_s (protocol v1, batched frames), legacy_samples_per_s, baseline_samples_per_s,
speedup (legacy, 64 KB pieces), speedup_v1 (v1 vs the baseline's legacy figure), reader_cpu_pct (16 ch at
2 kHz v1 through a real pty, drained every reader_poll_s as a recording session does; reader_cpu_pct_waiting:
a consumer blocked in read(timeout) for each batch), and the live legacy readers side by side on the same emulated board
(8 ch, 1700 frames/s): legacy_reader_cpu_pct / legacy_reads_per_s (ours) against dexumi_reader_cpu_pct
(DexUMI's own UARTReader + JointEncoder: its source when DEXUMI_SRC names a DexUMI checkout, else a
line-for-line re-implementation of its poll loop; `dexumi_reader_source` says which), and serial_read_us /
pyserial_read_us / serial_read_ratio: CPU per read of one frame through a pty, the transport's read against
pyserial's own read calls, interleaved.
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

from firmware_bridge import legacy, protocol
from firmware_bridge.decoder import LegacyDecoder, V1Decoder

log = logging.getLogger("bench.decode")
V1_BATCH = 32  # samples per v1 frame (the firmware's default maximum batch)
CHUNK = 65536  # bytes handed to each decoder per call, the same for both (the driver reads up to 64 KiB)
CHUNKS = (160, 1024, 4096, 16384, 65536)  # the live reader decodes ~700 B per 10 ms at 1.7 kHz x 40 B
LIVE_RATE = 1700  # frames/s of a legacy board (8 channels, 40-byte frames)


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
        payload = protocol.samples_payload(k * batch, t, values[k * batch : (k + 1) * batch], 3)
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
        buffer += stream[i : i + chunk]
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
            _expected = sum(counts) & 0xFFFF
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


def ours(decoder, stream: bytes, chunk: int = CHUNK) -> int:
    """Our decoder on the same chunks, including the conversion to angles the driver does."""
    n = 0
    to_angles = legacy.ratiometric_angles if isinstance(decoder, LegacyDecoder) else (lambda c: c * (np.pi / 2**23))
    for i in range(0, len(stream), chunk):
        for block in decoder.feed(stream[i : i + chunk]).blocks:
            to_angles(block.values)
            n += len(block)
    return n + decoder.flush().samples


def timed(fn, *args) -> tuple[float, int]:
    t = time.perf_counter()
    n = fn(*args)
    return time.perf_counter() - t, n


def reader_cpu(seconds: float, poll_s: float | None) -> float:
    """CPU share (% of one core) of this process while the driver streams 16 ch at 2 kHz from the emulator.

    The consumer drains the driver as a recording session does (`read()` every `poll_s`), or, with
    `poll_s=None`, waits in `read(timeout)` for every batch (a consumer that wants each one at once)."""
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
                if poll_s is None:
                    samples += sum(len(b) for b in driver.read(timeout=0.1))
                else:
                    time.sleep(poll_s)
                    samples += sum(len(b) for b in driver.read())
            cpu = (time.process_time() - c0) / (time.perf_counter() - w0) * 100
        finally:
            driver.close()
    if samples < seconds * 2000 * 0.95:
        raise RuntimeError(f"the reader got {samples} samples in {seconds} s: not keeping up")
    return cpu


def by_chunk(frames: int, rounds: int) -> tuple[dict[str, float], dict[str, float]]:
    """ours / baseline per chunk size on one legacy stream (median of interleaved rounds): as shipped (the
    decoder gathers up to 4 KB or 10 ms per numpy pass) and decoding every call (coalesce_bytes=0)."""
    stream = legacy_stream(frames)
    out, per_call = {}, {}
    for chunk in CHUNKS:
        ratios, ratios_each = [], []
        for _ in range(rounds):
            tb, nb = timed(baseline_decode, stream, 8, chunk)
            to, no = timed(ours, LegacyDecoder(8), stream, chunk)
            te, ne = timed(ours, LegacyDecoder(8, coalesce_bytes=0), stream, chunk)
            assert no == ne == frames and nb == frames - 1, (no, ne, nb)
            ratios.append((no / to) / (nb / tb))
            ratios_each.append((ne / te) / (nb / tb))
        out[str(chunk)] = round(statistics.median(ratios), 2)
        per_call[str(chunk)] = round(statistics.median(ratios_each), 2)
        log.info(
            "chunk %6d B: ours/baseline %.2f (decoding every call: %.2f)", chunk, out[str(chunk)], per_call[str(chunk)]
        )
    return out, per_call


LIVE_SCRIPT = r"""
import json, os, resource, sys, threading, time
which, port, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
cpu = lambda: sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
if which == "ours":
    from dexumi.devices.encoder import EncoderConfig, EncoderDriver
    drv = EncoderDriver(EncoderConfig(port, protocol="legacy", channels=8)).start()
    reads = [0]
    inner = drv.transport.read
    def counted(n, t):
        data = inner(n, t)
        reads[0] += bool(data)
        return data
    drv.transport.read = counted
    time.sleep(0.5); drv.read()
    c0, w0, r0, frames = cpu(), time.perf_counter(), reads[0], 0
    while time.perf_counter() - w0 < seconds:
        frames += sum(len(b) for b in drv.read(timeout=0.01))
        time.sleep(0.01)
    wall = time.perf_counter() - w0
    res = {"cpu_pct": (cpu() - c0) / wall * 100, "frames_per_s": frames / wall, "reads_per_s": (reads[0] - r0) / wall}
    drv.close()
else:
    src = os.environ.get("DEXUMI_SRC")
    if src:
        sys.path.insert(0, src)
        from dexumi.encoder.encoder import InspireEncoder
        source = "DexUMI source at " + src
    else:
        import struct, serial
        from dataclasses import dataclass
        from queue import Empty, Full, Queue
        source = "re-implementation of DexUMI's UARTReader poll loop"
        @dataclass
        class JointFrame:
            capture_time: float = None
            receive_time: float = None
            joint_angles: list = None
            raw_voltage: list = None
        class InspireEncoder:  # UARTReader.read_from_uart + JointEncoder.process_buffer/process_block
            def __init__(self, uart_port, verbose=False, block_size=40, header=bytes([0xAA, 0x55, 0, 0])):
                self.block_size, self.header, self.buffer, self.running = block_size, header, bytearray(), True
                self.serial_port = serial.Serial(uart_port, 921600, timeout=1)
                self.frame_queue = Queue(maxsize=20)
            def read_from_uart(self):
                while self.running:
                    if self.serial_port.in_waiting:
                        self.buffer.extend(self.serial_port.read(self.serial_port.in_waiting))
                        self.process_buffer()
                    else:
                        time.sleep(0.001)
            def process_buffer(self):
                while len(self.buffer) >= self.block_size:
                    start = self.buffer.find(self.header)
                    if start == -1:
                        if len(self.buffer) > self.block_size:
                            self.buffer = self.buffer[-self.block_size:]
                        break
                    elif start == 0:
                        nxt = self.buffer.find(self.header, len(self.header))
                        if nxt == -1:
                            break
                        elif nxt != self.block_size:
                            self.buffer = self.buffer[nxt:]
                        else:
                            self.process_block(self.buffer[:nxt])
                            self.buffer = self.buffer[nxt:]
                    else:
                        self.buffer = self.buffer[start:]
            def process_block(self, block):
                data = struct.unpack("<8iI", block[4:])
                values, crc = data[:-1], data[-1]
                volts = [float(v) * 5.0 / 0x7FFFFF for v in values]
                receive_time = time.monotonic()
                _ = sum(values) & 0xFFFF
                ref = volts[-2]
                angles = [v / ref * 360 for v in volts if ref != 0][:-2]
                self.put_frame(JointFrame(receive_time, receive_time, angles, volts))
            def put_frame(self, f):
                if self.frame_queue.full():
                    try:
                        self.frame_queue.get_nowait()
                    except Empty:
                        pass
                try:
                    self.frame_queue.put_nowait(f)
                except Full:
                    pass
            def start_streaming(self):
                self.thread = threading.Thread(target=self.read_from_uart); self.thread.start()
            def stop_streaming(self):
                self.running = False; self.thread.join(); self.serial_port.close()
            def get_numeric_frame(self):
                with self.frame_queue.mutex:
                    return self.frame_queue.queue[-1] if self.frame_queue.queue else None
    enc = InspireEncoder(uart_port=port, verbose=False)
    count = [0]
    put = enc.put_frame
    def counted(f):
        count[0] += 1
        put(f)
    enc.put_frame = counted
    enc.start_streaming()
    time.sleep(0.5)
    c0, w0, n0 = cpu(), time.perf_counter(), count[0]
    while time.perf_counter() - w0 < seconds:
        enc.get_numeric_frame()
        time.sleep(0.01)
    wall = time.perf_counter() - w0
    res = {"cpu_pct": (cpu() - c0) / wall * 100, "frames_per_s": (count[0] - n0) / wall, "source": source}
    enc.running = False; enc.thread.join(); enc.serial_port.close()
print(json.dumps(res))
"""


def live_legacy(seconds: float, rounds: int) -> dict:
    """Our legacy reader and DexUMI's, each in its own process, on the same emulated board, interleaved."""
    import subprocess

    from dexumi.devices.sim import SimDeviceProcess

    ours_cpu, dex_cpu, reads, sources = [], [], [], set()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    for r in range(rounds):
        for which in ("ours", "dexumi"):
            with SimDeviceProcess("--protocol", "legacy", "--channels", 8, "--rate", LIVE_RATE, "--seed", r) as dev:
                p = subprocess.run(
                    [sys.executable, "-c", LIVE_SCRIPT, which, dev.port, str(seconds)],
                    capture_output=True,
                    text=True,
                    timeout=seconds + 60,
                    env=env,
                )
            if p.returncode != 0:
                raise RuntimeError(f"{which} live reader failed: {p.stderr.strip()[-300:]}")
            res = json.loads(p.stdout.strip().splitlines()[-1])
            if res["frames_per_s"] < LIVE_RATE * 0.9:
                raise RuntimeError(f"{which} reader got {res['frames_per_s']:.0f} frames/s of {LIVE_RATE}")
            if which == "ours":
                ours_cpu.append(res["cpu_pct"])
                reads.append(res["reads_per_s"])
            else:
                dex_cpu.append(res["cpu_pct"])
                sources.add(res["source"])
            log.info("live round %d %s: %.1f %% of a core", r, which, res["cpu_pct"])
    return {
        "legacy_reader_cpu_pct": round(statistics.median(ours_cpu), 2),
        "dexumi_reader_cpu_pct": round(statistics.median(dex_cpu), 2),
        "legacy_reader_cpu_ratio": round(statistics.median([a / b for a, b in zip(ours_cpu, dex_cpu)]), 2),
        "legacy_reads_per_s": round(statistics.median(reads)),
        "legacy_live_rate": LIVE_RATE,
        "dexumi_reader_source": "; ".join(sorted(sources)),
    }


def read_cost(reads: int, rounds: int) -> dict:
    """CPU per read of a 40-byte frame through a real pty: the transport's select + os.read against pyserial's
    read(1) + in_waiting + read(n) (what it did before), the same port, interleaved in blocks."""
    import pty

    from firmware_bridge.transports.serial_port import SerialTransport

    master, slave = pty.openpty()
    t = SerialTransport(os.ttyname(slave))
    t.open()
    frame = legacy_stream(1)
    ser = t._ser
    assert ser is not None
    ours, pyserial = [], []
    try:
        for _ in range(rounds):
            for fn, out in ((lambda: t.read(1024, 0.05), ours), (lambda: t._read_portable(ser, 1024, 0.05), pyserial)):
                c0 = time.process_time()
                for _ in range(reads):
                    os.write(master, frame)
                    if len(fn()) != len(frame):
                        raise RuntimeError("a read returned part of a frame")
                out.append((time.process_time() - c0) / reads * 1e6)
    finally:
        t.close()
        os.close(master)
        os.close(slave)
    o, b = statistics.median(ours), statistics.median(pyserial)
    return {"serial_read_us": round(o, 1), "pyserial_read_us": round(b, 1), "serial_read_ratio": round(o / b, 2)}


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
    chunks, chunks_per_call = by_chunk(20_000 if args.quick else 60_000, rounds)
    reads = read_cost(2000 if args.quick else 10_000, rounds)
    from dexumi.session import SessionConfig

    poll_s = SessionConfig(out_dir=Path(".")).poll_interval_s
    cpu = [reader_cpu(5.0 if args.quick else 10.0, poll_s) for _ in range(1 if args.quick else 2)]
    cpu_waiting = reader_cpu(5.0 if args.quick else 10.0, None)
    live = live_legacy(4.0 if args.quick else 15.0, 2 if args.quick else 3)
    result = {
        "speedup_by_chunk": chunks,
        "speedup_by_chunk_every_call": chunks_per_call,
        "samples_per_s": round(statistics.median(v1_rates)),
        "legacy_samples_per_s": round(statistics.median(leg_rates)),
        "baseline_samples_per_s": round(statistics.median(base_rates)),
        "speedup": round(statistics.median(ratios), 2),
        "speedup_v1": round(statistics.median(v1_rates) / statistics.median(base_rates), 2),
        "reader_cpu_pct": round(statistics.median(cpu), 2),
        "reader_cpu_pct_waiting": round(cpu_waiting, 2),
        "reader_poll_s": poll_s,
        **reads,
        **live,
        "legacy_frames": frames,
        "v1_batch": V1_BATCH,
        "v1_channels": 16,
        "chunk_bytes": CHUNK,
        "rounds": rounds,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

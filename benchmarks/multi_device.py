#!/usr/bin/env python3
"""Several devices read at once (issue 17): two exoskeleton boards (v1, 16 channels, 2 kHz) and one XHand
tactile board (100 Hz), each emulated in its own process on its own pty, read by one process.

    python benchmarks/multi_device.py [--quick]

The last stdout line is one JSON object:
- `multi_reader_cpu_pct`: CPU of this process (share of one core) for the three reader threads (read, stamp,
  decode, online clock fit, buffer) and a consumer draining them every 50 ms; the emulators are not counted.
- `single_reader_cpu_pct`: the same for one 16 ch × 2 kHz board alone, run beside it as the baseline;
  `multi_vs_single` their ratio (≈ 2 means each device costs what it costs alone).
- `cross_device_sync_ms`: the worst pairwise RMS, over the run, of the devices' time errors (final clock fit of
  each device's samples − the true sample time from the emulators' truth logs).
- `tactile_frames_per_s`: XHand frames decoded per second of CPU (the decoder alone, 64 KiB chunks);
  `tactile_live_frames_per_s`: the rate the tactile board was received at during the run.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dexumi.devices.coalesce import coalesce
from dexumi.devices.encoder import EncoderConfig, EncoderDriver
from dexumi.devices.sim import SimDeviceProcess
from dexumi.devices.tactile import TactileDriver
from dexumi.episode.aligned import refit_encoder_times
from firmware_bridge.emulator.truth import Fate, read_truth
from firmware_bridge.tactile import xhand
from firmware_bridge.tactile.decoder import XHandTactileDecoder

log = logging.getLogger("benchmarks.multi_device")


def _consume(drivers: dict[str, EncoderDriver], seconds: float) -> tuple[dict[str, list], float, float]:
    """Drain every driver every 50 ms for `seconds`; (batches per device, wall s, CPU s of this process)."""
    got: dict[str, list] = {k: [] for k in drivers}
    for d in drivers.values():
        d.read()  # what queued during start-up is not part of the measurement
    w0, c0 = time.perf_counter(), time.process_time()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.05)
        for k, d in drivers.items():
            got[k] += d.read()
    return got, time.perf_counter() - w0, time.process_time() - c0


def _errors(batches: list, truth_path: Path, tactile: bool) -> tuple[np.ndarray, np.ndarray]:
    """(true times, final-fit time − true time) of every received sample."""
    _, rec = read_truth(truth_path)
    rec = rec[rec["fate"] == Fate.SENT]
    dev = np.concatenate([b.device_time_us for b in batches])
    host = np.concatenate([b.host_time for b in batches])
    seg = np.concatenate([np.full(len(b), b.segment, np.int32) for b in batches])
    t = refit_encoder_times(dev, host, seg).time
    if tactile:
        key = {int(x) // 1000 % 65536: k for k, x in enumerate(rec["device_time_us"])}
        rows = np.array([key.get(int(x) // 1000 % 65536, -1) for x in dev])
    else:
        idx = np.concatenate([b.index for b in batches])
        key = {int(i): k for k, i in enumerate(rec["index"])}
        rows = np.array([key.get(int(i), -1) for i in idx])
    ok = rows >= 0
    true = rec["true_time"][rows[ok]]
    return true, t[ok] - true


def _sync_ms(errors: dict[str, tuple[np.ndarray, np.ndarray]]) -> float:
    lo = max(t[0] for t, _ in errors.values())
    hi = min(t[-1] for t, _ in errors.values())
    grid = np.linspace(lo, hi, 4000)
    e = {k: np.interp(grid, t, x) for k, (t, x) in errors.items()}
    names = list(e)
    return max(float(np.sqrt(np.mean((e[a] - e[b]) ** 2)) * 1e3) for i, a in enumerate(names) for b in names[i + 1 :])


def _decode_rate(n: int = 3000) -> float:
    rng = np.random.default_rng(0)  # a press and release (smooth: every frame passes the plausibility rules)
    press = np.clip(np.sin(2 * np.pi * np.arange(n) / 300.0), 0, None)
    maps = np.round(
        press[:, None, None, None] * 2500 * rng.uniform(0, 1, (3, xhand.ROWS, xhand.COLS))
        + rng.uniform(0, 20, (n, 3, xhand.ROWS, xhand.COLS))
    ).astype(np.int64)
    res = np.stack([np.zeros(n), np.zeros(n), np.round(250 * press)], 1).astype(np.int64)
    data = xhand.encode_frames(res, maps, np.arange(n) * 10)
    best = 0.0
    for _ in range(3):
        d = XHandTactileDecoder()
        c0 = time.process_time()
        frames = 0
        for k in range(0, len(data), 65536):
            frames += sum(len(b) for b in d.feed(data[k : k + 65536]).blocks)
        frames += sum(len(b) for b in d.flush().blocks)
        assert frames == n, (frames, n)
        best = max(best, frames / max(time.process_time() - c0, 1e-9))
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short runs (under a minute)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    seconds = 10.0 if args.quick else 40.0
    tmp = Path(tempfile.mkdtemp(prefix="dexumi-multi-bench-"))
    procs = {
        "exo_right": SimDeviceProcess(
            "--channels", 16, "--rate", 2000, "--seed", 1, "--drift-ppm", 30, truth=tmp / "right.bin"
        ),
        "exo_left": SimDeviceProcess(
            "--channels", 16, "--rate", 2000, "--seed", 2, "--drift-ppm", -20, truth=tmp / "left.bin"
        ),
        "tactile_right": SimDeviceProcess(
            "--protocol", "xhand-tactile", "--rate", 100, "--seed", 3, "--drift-ppm", 45, truth=tmp / "tactile.bin"
        ),
    }
    drivers: dict[str, EncoderDriver] = {}
    try:
        # as a multi-device session holds them: every reader with coalesced reads (dexumi/devices/coalesce.py)
        right = EncoderDriver(EncoderConfig(procs["exo_right"].port, "v1", rate_hz=2000, name="exo_right"))
        left = EncoderDriver(EncoderConfig(procs["exo_left"].port, "v1", rate_hz=2000, name="exo_left"))
        tactile = TactileDriver(EncoderConfig(procs["tactile_right"].port, "xhand-tactile", name="tactile_right"))
        for d in (right, left, tactile):
            coalesce(d)
        drivers.update(exo_right=right.start(), exo_left=left.start(), tactile_right=tactile.start())
        time.sleep(1.0)
        got, wall, cpu = _consume(drivers, seconds)
        multi_pct = 100.0 * cpu / wall
        for d in drivers.values():
            d.close()
        for p in procs.values():
            p.stop()
        errors = {k: _errors(got[k], procs[k].truth, k.startswith("tactile")) for k in got}
        sync = _sync_ms(errors)
        live = sum(len(b) for b in got["tactile_right"]) / wall
        samples = {k: int(sum(len(b) for b in v)) for k, v in got.items()}
        # the baseline, side by side: one board alone
        single = SimDeviceProcess("--channels", 16, "--rate", 2000, "--seed", 4)
        procs["single"] = single
        one = EncoderDriver(EncoderConfig(single.port, "v1", rate_hz=2000, name="single")).start()  # as it reads alone
        drivers = {"single": one}
        time.sleep(1.0)
        _, wall1, cpu1 = _consume(drivers, seconds / 2)
        single_pct = 100.0 * cpu1 / wall1
    finally:
        for d in drivers.values():
            d.close()
        for p in procs.values():
            p.stop()
    decode = _decode_rate(1000 if args.quick else 3000)
    print(
        json.dumps(
            {
                "multi_reader_cpu_pct": round(multi_pct, 2),
                "single_reader_cpu_pct": round(single_pct, 2),
                "multi_vs_single": round(multi_pct / single_pct, 2) if single_pct > 0 else None,
                "cross_device_sync_ms": round(sync, 4),
                "tactile_frames_per_s": round(decode),
                "tactile_live_frames_per_s": round(live, 1),
                "samples": samples,
                "seconds": round(wall, 2),
                "quick": bool(args.quick),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A simulated LSL device on its own clock, for tests and demos of `lsl:NAME` streams.

    python -m dexumi.devices.lsl_sim --name EMG --offset 0.37 --drift-ppm 50 --rate 250 --duration 20

Pushes `--rate` samples per second of `--channels` channels. Channel 0 carries the truth: the host monotonic
time (LSL's `local_clock()`) at which the sample was taken; the others a few sines. Each sample's LSL
timestamp is on the device's own clock, `offset + t · (1 + drift_ppm·1e-6)`, as a vendor app stamping with its
device clock would — what dexumi's clock fit must undo. Prints `ready NAME` once the outlet exists.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dexumi.devices.lsl_sim", description=__doc__.splitlines()[0])
    ap.add_argument("--name", default="dexumi-sim-lsl")
    ap.add_argument("--type", default="EMG")
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--rate", type=float, default=250.0)
    ap.add_argument("--offset", type=float, default=0.0, help="device clock − host clock, seconds")
    ap.add_argument("--drift-ppm", type=float, default=0.0, help="device clock rate error (+: runs fast)")
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--chunk", type=int, default=5, help="samples per push")
    args = ap.parse_args(argv)
    from dexumi.devices.lsl import _lsl

    lsl = _lsl()
    info = lsl.StreamInfo(args.name, args.type, args.channels, args.rate, "float64", f"sim-{args.name}")
    outlet = lsl.StreamOutlet(info)
    print(f"ready {args.name}", flush=True)
    k = 0
    t0 = time.monotonic()
    end = t0 + args.duration
    scale = 1.0 + args.drift_ppm * 1e-6
    while True:
        now = time.monotonic()
        if now >= end:
            break
        due = int((now - t0) * args.rate) + 1
        if due - k < args.chunk:
            time.sleep(max(0.0, (k + args.chunk - (now - t0) * args.rate) / args.rate))
            continue
        n = due - k
        true = t0 + (k + np.arange(n)) / args.rate  # when each sample was taken (host clock)
        x = np.empty((n, args.channels))
        for c in range(1, args.channels):
            x[:, c] = np.sin(2 * np.pi * (0.5 + c) * true)
        true[-1] = time.monotonic()  # the newest is taken right now
        x[:, 0] = true
        outlet.push_chunk(x, args.offset + true * scale)
        k = due
    time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())

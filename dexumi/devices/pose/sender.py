"""A stand-in phone: sends the simulated wrist pose as `pose:udp` datagrams (docs/pose.md).

    python -m dexumi.devices.pose.sender --port 9870 --rate 200 --seconds 5 --offset 12345 --drift 50
    python -m dexumi.devices.pose.sender --lsl MocapWrist --rate 200 --seconds 5    # an LSL outlet instead

The LSL outlet has 8 labelled channels x, y, z, qx, qy, qz, qw, seq (what `pose:lsl:NAME` reads); it prints
`ready NAME` once it exists and waits up to 10 s for a consumer before sending.

Its device clock is `offset + (1 + drift·1e-6) · (host monotonic − start)`; `--truth FILE.npy` saves each
sample's (seq, host monotonic send time) so a test or benchmark can measure the receiver's time mapping.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from collections.abc import Callable

import numpy as np


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dexumi.devices.pose.sender", description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=None, help="UDP port (or --lsl)")
    p.add_argument("--lsl", default=None, metavar="NAME", help="publish as an LSL outlet of this name instead")
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--offset", type=float, default=12345.0, help="device clock at start (s)")
    p.add_argument("--drift", type=float, default=50.0, help="device clock drift (ppm, + fast)")
    p.add_argument("--script", default="pick")
    p.add_argument("--truth", default=None, help="save (seq, send time) as .npy")
    a = p.parse_args(argv)
    if (a.port is None) == (a.lsl is None):
        print("sender: give --port PORT or --lsl NAME", file=sys.stderr)
        return 2
    if not (0 < a.rate <= 2000 and 0 < a.seconds <= 3600 and (a.lsl or 0 < a.port <= 65535)):
        print("sender: rate must be in (0, 2000], seconds in (0, 3600], port in 1..65535", file=sys.stderr)
        return 2
    from dexumi.devices.pose.sim import FastTrajectory
    from dexumi.devices.pose.udp import encode_message
    from dexumi.sim.scene import SceneConfig
    from dexumi.sim.trajectory import make_trajectory

    traj = FastTrajectory(make_trajectory(a.script, SceneConfig()))
    n = int(a.seconds * a.rate)
    pos, quat = traj(np.arange(n) / a.rate)
    if a.lsl:
        return _send_lsl(a, n, pos, quat)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent = _paced(n, a, lambda k, stamp: sock.sendto(encode_message(k, stamp, pos[k], quat[k]), (a.host, a.port)))
    sock.close()
    if a.truth:
        np.save(a.truth, sent)
    return 0


def _paced(n: int, a: argparse.Namespace, send: Callable[[int, float], object]) -> np.ndarray:
    """Sample k sent at k / rate on the host clock, stamped with the sender's own clock (offset, drift);
    returns (k, host send time) rows, the truth."""
    sent = np.zeros((n, 2))
    t0 = time.monotonic()
    for k in range(n):
        wait = t0 + k / a.rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        now = time.monotonic()
        send(k, a.offset + (now - t0) * (1 + a.drift * 1e-6))
        sent[k] = (k, now)
    return sent


def _send_lsl(a: argparse.Namespace, n: int, pos: np.ndarray, quat: np.ndarray) -> int:
    from dexumi.devices.lsl import _lsl

    lsl = _lsl()
    info = lsl.StreamInfo(a.lsl, "MoCap", 8, a.rate, "float64", f"dexumi-pose-sender-{a.lsl}")
    info.set_channel_names(["x", "y", "z", "qx", "qy", "qz", "qw", "seq"])
    outlet = lsl.StreamOutlet(info)
    print(f"ready {a.lsl}", flush=True)
    outlet.wait_for_consumers(10.0)
    time.sleep(0.5)  # the consumer's inlet opens its stream
    push = outlet.push_sample
    sent = _paced(n, a, lambda k, stamp: push(np.r_[pos[k], quat[k], k].astype(np.float64), stamp))
    push = None  # the bound method holds the outlet: released with it below
    time.sleep(0.3)
    del outlet
    if a.truth:
        np.save(a.truth, sent)
    return 0


if __name__ == "__main__":
    sys.exit(main())

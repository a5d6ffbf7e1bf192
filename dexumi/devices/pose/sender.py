"""A stand-in phone: sends the simulated wrist pose as `pose:udp` datagrams (docs/pose.md).

    python -m dexumi.devices.pose.sender --port 9870 --rate 200 --seconds 5 --offset 12345 --drift 50

Its device clock is `offset + (1 + drift·1e-6) · (host monotonic − start)`; `--truth FILE.npy` saves each
sample's (seq, host monotonic send time) so a test or benchmark can measure the receiver's time mapping.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dexumi.devices.pose.sender", description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--offset", type=float, default=12345.0, help="device clock at start (s)")
    p.add_argument("--drift", type=float, default=50.0, help="device clock drift (ppm, + fast)")
    p.add_argument("--script", default="pick")
    p.add_argument("--truth", default=None, help="save (seq, send time) as .npy")
    a = p.parse_args(argv)
    if not (0 < a.rate <= 2000 and 0 < a.seconds <= 3600 and 0 < a.port <= 65535):
        print("sender: rate must be in (0, 2000], seconds in (0, 3600], port in 1..65535", file=sys.stderr)
        return 2
    from dexumi.devices.pose.sim import FastTrajectory
    from dexumi.devices.pose.udp import encode_message
    from dexumi.sim.scene import SceneConfig
    from dexumi.sim.trajectory import make_trajectory

    traj = FastTrajectory(make_trajectory(a.script, SceneConfig()))
    n = int(a.seconds * a.rate)
    pos, quat = traj(np.arange(n) / a.rate)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent = np.zeros((n, 2))
    t0 = time.monotonic()
    for k in range(n):
        due = t0 + k / a.rate
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        now = time.monotonic()
        sock.sendto(encode_message(k, a.offset + (now - t0) * (1 + a.drift * 1e-6), pos[k], quat[k]),
                    (a.host, a.port))
        sent[k] = (k, now)
    sock.close()
    if a.truth:
        np.save(a.truth, sent)
    return 0


if __name__ == "__main__":
    sys.exit(main())

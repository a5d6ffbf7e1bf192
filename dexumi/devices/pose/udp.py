"""`pose:udp:PORT` — poses as JSON over UDP, one object per datagram (phone apps, custom trackers).

Message (docs/pose.md, "UDP message format"), UTF-8 JSON, at most 64 KiB:

    {"seq": 42, "t": 1234.567891, "p": [0.1, 0.2, 0.3], "q": [0, 0, 0, 1], "state": "tracking", "quality": 0.9}

- `t` (required): the sender's time of the pose in seconds, on any clock that runs steadily (the phone's
  uptime, ARKit's `ARFrame.timestamp`); its offset and drift against the host are fitted.
- `p`: position in metres; `q`: unit quaternion x, y, z, w (scalar last) — both required unless lost.
- `seq` (optional but recommended): increases by one per pose, so drops are counted exactly.
- `state` (optional): "tracking" (default), "limited" or "lost"; `quality` (optional): 0..1.

Bad datagrams (not JSON, missing or malformed fields) are counted in `bad` and skipped, never fatal.
"""

from __future__ import annotations

import collections
import json
import logging
import math
import socket
import struct
import sys
import time

from typing import TypeGuard

import numpy as np

from dexumi.devices.pose.base import LOST, STATE_CODES, TRACKING, PoseSample, PoseSource
from dexumi.devices.pose.clock import PoseClock
from dexumi.errors import DexumiError

log = logging.getLogger(__name__)

MAX_DATAGRAM = 65536
BATCH_S = 0.025  # under the session's 50 ms poll: gathering costs the recording nothing
_SO_TIMESTAMPNS = 35  # Linux: a kernel receive timestamp (CLOCK_REALTIME, struct timespec) per datagram
_TIMESPEC = struct.Struct("@qq")


def parse_message(data: bytes) -> tuple[int, float, np.ndarray, np.ndarray, int, float]:
    """(seq, t, p, q, state, quality) of one datagram; ValueError with the reason if it is not valid."""
    try:
        msg = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not UTF-8 JSON ({exc.__class__.__name__})") from None
    if not isinstance(msg, dict):
        raise ValueError("not a JSON object")
    t = msg.get("t")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
        raise ValueError("'t' must be a finite number of seconds")
    state_name = msg.get("state", "tracking")
    if state_name not in STATE_CODES:
        raise ValueError(f"'state' must be one of {', '.join(STATE_CODES)}")
    state = STATE_CODES[state_name]
    seq = msg.get("seq", -1)
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise ValueError("'seq' must be an integer")
    quality = msg.get("quality", 1.0 if state == TRACKING else 0.5 if state != LOST else 0.0)
    if isinstance(quality, bool) or not isinstance(quality, (int, float)) or not 0 <= quality <= 1:
        raise ValueError("'quality' must be a number in [0, 1]")
    if state == LOST:
        return seq, float(t), np.full(3, np.nan), np.full(4, np.nan), state, float(quality)
    p, q = msg.get("p"), msg.get("q")
    if not (_numbers(p, 3) and _numbers(q, 4)):
        raise ValueError("'p' must be 3 finite numbers [x, y, z] and 'q' 4 [x, y, z, w]")
    n = math.sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3])
    if not 0.9 < n < 1.1:
        raise ValueError(f"'q' is not a unit quaternion (norm {n:.3g})")
    return (
        seq,
        float(t),
        np.array(p, np.float64),
        np.array((q[0] / n, q[1] / n, q[2] / n, q[3] / n)),
        state,
        float(quality),
    )


_NUMBER_TYPES = frozenset((int, float))  # exactly: a bool is an int to isinstance, not a number here


def _numbers(v: object, n: int) -> TypeGuard[list[float]]:
    return type(v) is list and len(v) == n and all(type(x) in _NUMBER_TYPES for x in v) and all(map(math.isfinite, v))


def encode_message(seq: int, t: float, p, q, state: str = "tracking", quality: float | None = None) -> bytes:
    """One datagram in the documented format (for senders, tests and the benchmark)."""
    msg: dict = {"seq": int(seq), "t": float(t), "state": state}
    if state != "lost":
        msg["p"] = [float(x) for x in p]
        msg["q"] = [float(x) for x in q]
    if quality is not None:
        msg["quality"] = float(quality)
    return json.dumps(msg, separators=(",", ":")).encode()


class UdpPose(PoseSource):
    """Listens on `host:port` (default all interfaces); `port=0` picks a free port (see `port` after open).

    On Linux each datagram's host time is the kernel's receive timestamp (SO_TIMESTAMPNS), so the reader
    may drain the socket in batches: `batch_s` (default 25 ms, half a session poll) is how long `read()`
    lets datagrams gather before it drains them all at once — a fifth of the wake-ups of reading each one as
    it comes at 200 Hz, at no cost in timing. Elsewhere (no kernel timestamps) every datagram is read when it arrives.
    """

    def __init__(
        self,
        port: int,
        name: str | None = None,
        host: str = "0.0.0.0",
        spec: str | None = None,
        batch_s: float = BATCH_S,
    ) -> None:
        if not 0 <= port <= 65535:
            raise DexumiError(f"pose:udp: port must be 0..65535, got {port}")
        super().__init__(name or f"udp{port}", spec or f"pose:udp:{port}")
        self.host, self.port = host, port
        self.sock: socket.socket | None = None
        self.clock = PoseClock()
        self.bad = 0  # datagrams skipped as malformed
        self.last_error = ""
        self.batch_s = batch_s
        self.kernel_timestamps = False
        self._pending: collections.deque[tuple[bytes, float]] = collections.deque()
        self._drained = 0.0

    def open(self) -> UdpPose:
        if self.opened:
            return self
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            s.bind((self.host, self.port))
            if sys.platform.startswith("linux"):
                try:
                    s.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
                    self.kernel_timestamps = True
                except OSError:
                    self.kernel_timestamps = False
        except OSError as exc:
            s.close()
            raise DexumiError(f"pose:udp: cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from None
        self.sock = s
        self._timeout: float | None = -1.0  # the socket's current timeout (-1: not set yet)
        self.port = s.getsockname()[1]
        self.clock = PoseClock()
        self.opened = True
        return self

    def _recv(self, blocking_timeout: float | None) -> bool:
        """Queue one datagram (waiting up to `blocking_timeout`; 0: only if one is there). False: none."""
        sock = self.sock
        assert sock is not None
        if blocking_timeout != self._timeout:
            sock.settimeout(blocking_timeout)
            self._timeout = blocking_timeout
        try:
            data, anc, _flags, _addr = sock.recvmsg(MAX_DATAGRAM, 64)
        except (TimeoutError, BlockingIOError):
            return False
        except OSError as exc:
            raise DexumiError(f"pose:udp: receive failed: {exc.strerror or exc}") from None
        host = time.monotonic()
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(payload) >= _TIMESPEC.size:
                sec, nsec = _TIMESPEC.unpack_from(payload)
                host = sec + nsec * 1e-9 - (time.time() - time.monotonic())
        self._pending.append((data, host))
        return True

    def _fill(self, timeout: float | None) -> None:
        """Wait for at least one datagram (up to `timeout`), then take everything already queued."""
        if self.kernel_timestamps and self.batch_s > 0:
            wait = self._drained + self.batch_s - time.monotonic()
            if wait > 0 and (timeout is None or wait < timeout):
                time.sleep(wait)
                timeout = None if timeout is None else timeout - wait
            while self._recv(0.0):
                pass
        if not self._pending and self._recv(timeout):
            while self.kernel_timestamps and self._recv(0.0):
                pass
        self._drained = time.monotonic()

    def read(self, timeout: float | None = 1.0) -> PoseSample | None:
        if not self.opened or self.sock is None:
            raise DexumiError(f"pose source {self.spec!r} is not open")
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if not self._pending:
                remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
                self._fill(remaining)
                if not self._pending:
                    return None
            data, host = self._pending.popleft()
            try:
                seq, t, p, q, state, quality = parse_message(data)
            except ValueError as exc:
                self.bad += 1
                if self.bad == 1 or self.last_error != str(exc):
                    log.warning("pose %s: skipped a bad datagram: %s", self.name, exc)
                self.last_error = str(exc)
                continue
            mapped = self.clock.add(t, host)
            return PoseSample(seq, t, host, p, q, state, quality, mapped)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self._pending.clear()
        self.opened = False

"""Fewer, larger reads for a session's further devices (issue 17): a transport wrapper that lets bytes gather.

A board sending ~500 frames/s wakes its reader ~500 times a second if every read returns as soon as one frame
is there; the reads, not the decoding, are then most of the reader's CPU. After a read that brought only a
trickle, the next read starts `wait_s` later (never more: the decode every 10 ms is not delayed). Every read
is still stamped when it returns, so the newest frame of each read — the one the clock fit's lower envelope
rests on — keeps a prompt receive time. Bytes that wait on the port when a cable is pulled (≤ `wait_s`) are
lost with the tty, as the emulator's truth log records (`NOT_SENT`).
"""

from __future__ import annotations

import time

from firmware_bridge.transports import Transport

WAIT_S = 0.008  # under the readers' 10 ms decode interval: ~125 reads/s instead of one per frame
TRICKLE_BYTES = 16384


class CoalescingTransport:
    """Wraps a `Transport`; everything but `read` is the wrapped one's."""

    def __init__(self, inner: Transport, wait_s: float = WAIT_S, trickle_bytes: int = TRICKLE_BYTES) -> None:
        self.inner = inner
        self.wait_s = wait_s
        self.trickle_bytes = trickle_bytes
        self._trickle_at: float | None = None

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def read(self, max_bytes: int, timeout: float) -> bytes:
        if self._trickle_at is not None:
            pause = self._trickle_at + self.wait_s - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        data = self.inner.read(max_bytes, timeout)
        self._trickle_at = time.monotonic() if data and len(data) < self.trickle_bytes else None
        return data

    def close(self) -> None:
        self._trickle_at = None
        self.inner.close()


def coalesce(driver) -> None:
    """Give an encoder/tactile driver the coalescing reads (also a running one: its reader thread picks the
    wrapper up at its next read; the wrapped transport is the same open port)."""
    if not isinstance(driver.transport, CoalescingTransport):
        driver.transport = CoalescingTransport(driver.transport)

"""The emulated board's wire: frames leave in order at their time, with the configured faults, and each
frame's fate (sent, corrupted, dropped, not sent) goes to the truth log once it is known."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from firmware_bridge.emulator.link import PtyLink
from firmware_bridge.emulator.truth import Fate, TruthLog

if TYPE_CHECKING:
    from firmware_bridge.emulator.device import EmulatorConfig


@dataclass
class PendingFrame:
    wire: bytes
    write_at: float
    records: np.ndarray
    fate: Fate


class FaultyWire:
    """Drops, corrupts and delays frames as configured; knows the truth of every one (`stats`, the log)."""

    def __init__(
        self,
        cfg: EmulatorConfig,
        link: PtyLink,
        truth: TruthLog | None,
        fault_rng: np.random.Generator,
        stall_timeout: float = 0.5,
    ) -> None:
        self.cfg = cfg
        # how long a write waits for a host that is not reading; 0 for a free-running tactile board (before the
        # port is opened, or stalled for longer than the tty's ~19 KB of buffers): what does not fit is lost
        self.stall_timeout = stall_timeout
        self.link = link
        self.truth = truth
        self.fault_rng = fault_rng
        self.pending: deque[PendingFrame] = deque()
        self.in_flight: deque[tuple[PendingFrame, int]] = deque()  # written, not yet known to be read
        self.stats = {"frames": 0, "samples": 0, "corrupted_frames": 0, "dropped_frames": 0, "not_sent": 0}

    def next_write_at(self) -> float | None:
        return self.pending[0].write_at if self.pending else None

    def queue(self, wire: bytes, build_t: float, records: np.ndarray) -> None:
        """Apply the link's faults and delay; frames stay in order (a serial link cannot reorder)."""
        cfg = self.cfg
        fate = Fate.SENT
        if cfg.drop and self.fault_rng.random() < cfg.drop:
            fate = Fate.DROPPED
        elif cfg.corrupt:
            hits = np.flatnonzero(self.fault_rng.random(len(wire)) < cfg.corrupt)
            if len(hits):
                buf = bytearray(wire)
                for i in hits:
                    buf[i] ^= int(self.fault_rng.integers(1, 256))
                wire = bytes(buf)
                fate = Fate.CORRUPTED
        delay = self.fault_rng.uniform(0, cfg.jitter_ms * 1e-3) if cfg.jitter_ms else 0.0
        write_at = build_t + delay
        if self.pending:
            write_at = max(write_at, self.pending[-1].write_at)
        self.pending.append(PendingFrame(wire, write_at, records, fate))

    def send_due(self, now: float) -> None:
        while self.pending and self.pending[0].write_at <= now:
            self._send(self.pending.popleft())

    def flush_all_pending(self) -> None:
        while self.pending:
            frame = self.pending.popleft()
            frame.fate = Fate.NOT_SENT
            self._log(frame, float("nan"))

    def _send(self, frame: PendingFrame) -> None:
        sent_at = time.monotonic()
        written = 0
        if frame.fate != Fate.DROPPED:
            written = self.link.write(frame.wire, stall_timeout=self.stall_timeout) if self.link.plugged else 0
            if written < len(frame.wire):
                frame.fate = Fate.NOT_SENT if written == 0 else Fate.CORRUPTED
        frame.records["send_time"] = sent_at
        # logged once the host has read past it: bytes still unread when the cable goes are lost with it
        self.in_flight.append((frame, written))
        self.settle()

    def settle(self) -> None:
        """Log the frames the host has certainly read (everything older than the unread bytes)."""
        unread = self.link.unread() if self.link.plugged else 0
        pending = sum(n for _, n in self.in_flight)
        while self.in_flight and pending - self.in_flight[0][1] >= unread:
            frame, n = self.in_flight.popleft()
            pending -= n
            self._log(frame, float(frame.records["send_time"][0]) if len(frame.records) else time.monotonic())

    def lose_unread(self) -> None:
        """The cable is going: frames whose bytes the host has not read never arrive."""
        time.sleep(0.005)  # let the tty layer hand over what it is still moving
        self.settle()
        unread = self.link.unread()
        for frame, n in reversed(self.in_flight):
            if unread <= 0:
                break
            if n:
                frame.fate = Fate.NOT_SENT
                unread -= n
        while self.in_flight:
            frame, _ = self.in_flight.popleft()
            self._log(frame, float(frame.records["send_time"][0]) if len(frame.records) else time.monotonic())

    def _log(self, frame: PendingFrame, sent_at: float) -> None:
        frame.records["fate"] = frame.fate
        frame.records["send_time"] = sent_at
        key = {
            Fate.SENT: "frames",
            Fate.CORRUPTED: "corrupted_frames",
            Fate.DROPPED: "dropped_frames",
            Fate.NOT_SENT: "not_sent",
        }[frame.fate]
        self.stats[key] += 1
        self.stats["samples"] += len(frame.records)
        if self.truth:
            self.truth.write(frame.records)

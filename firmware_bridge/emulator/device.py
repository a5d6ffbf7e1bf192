"""The emulated encoder board: sample scheduler, sensor model, framing and the cable, in its main loop.

Runs in its own process (`dexumi sim-device`), in real time, writing to a pty through `PtyLink`. Its clock
(`clock.DeviceClock`), its fault-injecting wire with the truth (`wire.FaultyWire`) and its command channel
(`commands.CommandHandler`) are their own modules.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from firmware_bridge import legacy, protocol
from firmware_bridge.emulator.clock import DeviceClock
from firmware_bridge.emulator.commands import TARGET_FRAME_RATE, CommandHandler
from firmware_bridge.emulator.link import PtyLink
from firmware_bridge.emulator.motion import make_motion
from firmware_bridge.emulator.tactile import TactileBoard
from firmware_bridge.emulator.truth import TruthLog, record_dtype
from firmware_bridge.emulator.wire import FaultyWire
from firmware_bridge.protocol import MsgType
from firmware_bridge.vocab import Protocol, TactileProtocol

log = logging.getLogger(__name__)
LEGACY_REF_VOLTS = 3.3
TACTILE_CHANNELS: dict[str, int] = {
    TactileProtocol.FSR: 14,
    TactileProtocol.XHAND: 363,
}  # decoded columns of the tactile frames
TACTILE_GRASP_JOINTS = 12
PREPARE_AHEAD_S = 0.01


@dataclass
class EmulatorConfig:
    """Everything `dexumi sim-device` can be told."""

    protocol: str = "v1"
    channels: int = 16
    rate_hz: float = 1000.0
    batch: int | None = None
    seed: int = 0
    drift_ppm: float = 0.0
    jitter_ms: float = 0.0
    corrupt: float = 0.0  # probability that any one byte on the wire is corrupted
    drop: float = 0.0  # probability that a whole frame is lost
    disconnect_after: float | None = None
    reconnect_after: float | None = None
    duration: float | None = None
    motion: str = "grasp"
    truth_path: Path | None = None
    link_path: Path | None = None
    reset_on_reconnect: bool = True
    autostart: bool = False
    resolution_bits: int = 24
    clock_start_us: int | None = None
    noise_counts: float = 2.0
    sensor_offset_rad: list[float] = field(default_factory=list)
    sensor_sign: list[int] = field(default_factory=list)
    sensor_gain: list[float] = field(default_factory=list)
    device_id: str = "SIM-0001"
    motion_epoch: float | None = None  # host monotonic time at which the motion starts (shared with sim cameras)

    def validate(self) -> None:
        if self.protocol in TACTILE_CHANNELS:  # a tactile board: its frame fixes the channels
            self.channels = TACTILE_CHANNELS[self.protocol]
            if not 0 < self.rate_hz <= 5000:
                raise ValueError("--rate must be in (0, 5000] Hz for a tactile board")
            return
        if self.protocol not in (Protocol.V1, Protocol.LEGACY):
            raise ValueError(f"--protocol must be v1, legacy, {' or '.join(TACTILE_CHANNELS)}, not {self.protocol!r}")
        low = 3 if self.protocol == Protocol.LEGACY else 1
        if not low <= self.channels <= 64:
            raise ValueError(f"--channels must be {low}..64 for {self.protocol}")
        if not 0 < self.rate_hz <= 20000:
            raise ValueError("--rate must be in (0, 20000] Hz")
        for name in ("corrupt", "drop"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"--{name} is a probability in [0, 1)")
        if self.jitter_ms < 0:
            raise ValueError("--jitter-ms must be >= 0")
        for name in ("sensor_offset_rad", "sensor_sign", "sensor_gain"):
            values = getattr(self, name)
            if values and len(values) != self.joints:
                raise ValueError(f"{name.replace('_', '-')}: {len(values)} values for {self.joints} joints")

    @property
    def joints(self) -> int:
        if self.protocol in TACTILE_CHANNELS:
            return TACTILE_GRASP_JOINTS  # the hand whose grasp the contact model follows
        return self.channels - 2 if self.protocol == Protocol.LEGACY else self.channels

    @property
    def samples_per_frame(self) -> int:
        if self.protocol != Protocol.V1:
            return 1
        return self.batch or max(1, math.ceil(self.rate_hz / TARGET_FRAME_RATE))


class SensorModel:
    """Joint angles → raw counts, with the per-channel offset, sign and gain a calibration must find."""

    def __init__(self, cfg: EmulatorConfig, rng: np.random.Generator) -> None:
        j = cfg.joints
        self.cfg = cfg
        self.rng = rng
        self.offset = np.asarray(cfg.sensor_offset_rad or [0.0] * j, dtype=np.float64)
        self.sign = np.asarray(cfg.sensor_sign or [1] * j, dtype=np.float64)
        self.gain = np.asarray(cfg.sensor_gain or [1.0] * j, dtype=np.float64)
        self.full_scale = float(1 << (cfg.resolution_bits - 1))

    def sensor_angles(self, angles: np.ndarray) -> np.ndarray:
        sensed: np.ndarray = (self.sign * angles + self.offset) * self.gain
        return sensed

    def counts(self, angles: np.ndarray) -> np.ndarray:
        noise = self.rng.normal(0, self.cfg.noise_counts, angles.shape) if self.cfg.noise_counts else 0
        theta = self.sensor_angles(angles)
        if self.cfg.protocol == Protocol.V1:
            # nominal conversion (before calibration): full scale = ±π
            raw = np.round(theta / np.pi * self.full_scale + noise)
            return np.clip(raw, -self.full_scale, self.full_scale - 1).astype(np.int32)
        ref = LEGACY_REF_VOLTS / legacy.FULL_SCALE_VOLTS * legacy.FULL_SCALE_COUNTS
        joint = np.round((theta % (2 * np.pi)) / (2 * np.pi) * ref + noise)
        n = len(angles)
        ref_col = np.round(ref + self.rng.normal(0, self.cfg.noise_counts or 0, n))[:, None]
        spare = np.round(self.rng.normal(0, 50, n))[:, None]
        return np.concatenate([joint, ref_col, spare], axis=1).astype(np.int32)


class Emulator:
    """The device's main loop: commands in, samples made, frames out on the faulty wire."""

    def __init__(self, cfg: EmulatorConfig) -> None:
        cfg.validate()
        self.cfg = cfg
        self.rng = np.random.default_rng(cfg.seed)
        self.motion = make_motion(cfg.motion, cfg.joints, cfg.seed)
        self.tactile = TactileBoard(cfg.protocol, self.motion, cfg.seed) if cfg.protocol in TACTILE_CHANNELS else None
        self.sensor = SensorModel(cfg, np.random.default_rng(cfg.seed + 7))
        self._own_dir: Path | None = None
        if cfg.link_path is None:
            self._own_dir = Path(tempfile.mkdtemp(prefix="dexumi-sim-"))
            cfg.link_path = self._own_dir / "ttySIM0"
        self.link = PtyLink(cfg.link_path)
        self.t0 = time.monotonic()
        self.motion_epoch = cfg.motion_epoch if cfg.motion_epoch is not None else self.t0
        self.truth = TruthLog(cfg.truth_path, cfg.channels, self._meta()) if cfg.truth_path else None
        self.dtype = record_dtype(cfg.channels)
        # a free-running tactile board does not wait for a host that is not reading (FaultyWire.stall_timeout)
        self.wire = FaultyWire(
            cfg,
            self.link,
            self.truth,
            np.random.default_rng(cfg.seed + 1_000_003),
            stall_timeout=0.0 if self.tactile is not None else 0.5,
        )
        self.commands = CommandHandler(self)
        self.clock = DeviceClock(cfg.drift_ppm)
        self.running = True
        self.period_us = 1e6 / cfg.rate_hz
        self.batch = cfg.samples_per_frame
        self.segment = 0
        self._boot(self.t0, cfg.clock_start_us)
        self.stats = self.wire.stats

    def _meta(self) -> dict[str, Any]:
        c = self.cfg
        return {
            "protocol": c.protocol,
            "channels": c.channels,
            "rate_hz": c.rate_hz,
            "seed": c.seed,
            "drift_ppm": c.drift_ppm,
            "jitter_ms": c.jitter_ms,
            "motion": c.motion,
            "t0": self.t0,
            "motion_epoch": self.motion_epoch,
        }

    # ------------------------------------------------------------------------------------------ the clock
    def _boot(self, now: float, clock_start_us: int | None = None) -> None:
        """Power-on: counters from zero, clock from an arbitrary value, idle (v1) or free-running (legacy)."""
        self.clock.boot(now, int(clock_start_us if clock_start_us is not None else self.rng.integers(0, 50_000_000)))
        self.seq = 0
        self.sample_index = 0
        self.streaming = self.cfg.protocol != Protocol.V1 or self.cfg.autostart
        self.next_sample_us = float(self.clock.device_us(now))

    # --------------------------------------------------------------------------------------- main loop
    def run(self) -> None:
        cfg = self.cfg
        self.link.plug()
        print(str(cfg.link_path), flush=True)
        unplug_at = self.t0 + cfg.disconnect_after if cfg.disconnect_after is not None else None
        replug_at: float | None = None
        end_at = self.t0 + cfg.duration if cfg.duration else None
        last_flush = self.t0
        while self.running:
            now = time.monotonic()
            self.wire.send_due(now)  # first, so that frames leave on time whatever else this turn does
            if end_at is not None and now >= end_at:
                break
            if unplug_at is not None and now >= unplug_at:
                self._unplug(now)
                unplug_at = None
                replug_at = now + cfg.reconnect_after if cfg.reconnect_after is not None else None
            if replug_at is not None and now >= replug_at:
                replug_at = None
                self._replug(now)
            if self.link.plugged:
                self.commands.poll(now)
            if self.streaming:
                self._produce(now)
            self.wire.send_due(time.monotonic())
            if self.wire.in_flight:
                self.wire.settle()
            if self.truth and now - last_flush > 0.1:
                self.truth.flush()
                last_flush = now
            self._sleep()
        self.close()

    def _sleep(self) -> None:
        now = time.monotonic()
        wake = now + 0.005
        if self.streaming:
            wake = min(
                wake,
                float(self.clock.host_time(self.next_sample_us + (self.batch - 1) * self.period_us)) - PREPARE_AHEAD_S,
            )
        write_at = self.wire.next_write_at()
        if write_at is not None:
            wake = min(wake, write_at)
        if wake > now:
            time.sleep(wake - now)

    def close(self) -> None:
        if self.link.plugged:
            self.wire.lose_unread()
        self.wire.flush_all_pending()
        self.link.unplug()
        if self.truth:
            self.truth.close()
        if self._own_dir is not None:
            try:
                self._own_dir.rmdir()
            except OSError:
                pass

    def stop(self, *_: object) -> None:
        self.running = False

    # ------------------------------------------------------------------------------------------ samples
    def _produce(self, now: float) -> None:
        """Prepare every frame due within the next few ms, in frames of `batch`.

        Frames are computed ahead and written at their time, so what reaches the wire is late only by the
        sleep's wake-up error, not by the emulator's own Python work (a real device's DMA does the same).
        """
        if self.tactile is not None:  # one frame per sample: compute every due frame at once (1 kHz boards)
            due: list[float] = []
            while float(self.clock.host_time(self.next_sample_us)) <= now + PREPARE_AHEAD_S and len(due) < 1000:
                due.append(self.next_sample_us)
                self.next_sample_us += self.period_us
            if due:
                self._emit_tactile(np.round(np.asarray(due)).astype(np.int64))
            return
        while True:
            times_us = self.next_sample_us + np.arange(self.batch) * self.period_us
            last_t = float(self.clock.host_time(times_us[-1]))
            if last_t > now + PREPARE_AHEAD_S:
                return
            self.next_sample_us = float(times_us[-1] + self.period_us)
            self._emit(np.round(times_us).astype(np.int64), last_t)

    def _emit(self, times_us: np.ndarray, build_t: float) -> None:
        true_t = self.clock.host_time(times_us)
        if self.tactile is not None:  # truth "angles": the fingertip forces in N
            values, angles, wire = self.tactile.frame(true_t - self.motion_epoch, times_us)
        else:
            angles = self.motion.angles(true_t - self.motion_epoch)
            values = self.sensor.counts(angles)
        n = len(times_us)
        index = self.sample_index + np.arange(n)
        self.sample_index += n
        if self.cfg.protocol == Protocol.V1:
            payload = protocol.samples_payload(int(index[0]), times_us, values, width=3)
            wire = protocol.encode_frame(MsgType.SAMPLES, self.seq, int(times_us[-1]), payload)
        elif self.tactile is None:
            wire = legacy.encode_frame(values[0], int(times_us[0] // 1000))
        rec = np.zeros(n, self.dtype)
        rec["index"], rec["segment"], rec["frame_seq"] = index, self.segment, self.seq
        rec["device_time_us"], rec["true_time"] = times_us, true_t
        rec["values"] = values
        angle_cols = np.zeros((n, self.cfg.channels))
        angle_cols[:, : angles.shape[1]] = angles
        rec["angles"] = angle_cols
        self.seq += 1
        self.wire.queue(wire, build_t, rec)

    def reply(self, msg_type: int, payload: bytes) -> None:
        """Queue a reply frame (ACK, INFO, PONG, ERROR) stamped with the device clock now."""
        t = time.monotonic()
        wire = protocol.encode_frame(msg_type, self.seq, int(self.clock.device_us(t)), payload)
        self.seq += 1
        self.wire.queue(wire, t, np.zeros(0, self.dtype))

    def _emit_tactile(self, times_us: np.ndarray) -> None:
        """Frames of a tactile board for several samples in one numpy pass, each queued at its own time."""
        assert self.tactile is not None
        true_t = np.asarray(self.clock.host_time(times_us), np.float64)
        values, angles, wire = self.tactile.frame(true_t - self.motion_epoch, times_us)
        n = len(times_us)
        size = len(wire) // n
        rec = np.zeros(n, self.dtype)
        rec["index"], rec["segment"] = self.sample_index + np.arange(n), self.segment
        rec["frame_seq"] = self.seq + np.arange(n)
        rec["device_time_us"], rec["true_time"], rec["values"] = times_us, true_t, values
        rec["angles"][:, : angles.shape[1]] = angles
        self.sample_index += n
        self.seq += n
        for k in range(n):
            self.wire.queue(wire[k * size : (k + 1) * size], float(true_t[k]), rec[k : k + 1].copy())

    # ----------------------------------------------------------------------------------------- cable
    def _unplug(self, now: float) -> None:
        self.wire.send_due(now)
        self.wire.lose_unread()  # before the unsent ones, so that the log stays in order
        self.wire.flush_all_pending()
        self.link.unplug()
        self.streaming = False

    def _replug(self, now: float) -> None:
        self.segment += 1
        if self.cfg.reset_on_reconnect:
            self._boot(now)
        else:
            self.streaming = self.cfg.protocol != Protocol.V1 or self.cfg.autostart
            self.next_sample_us = float(self.clock.device_us(now))
        self.commands.buffer.clear()
        self.link.plug()


def _tighten_timer_slack() -> None:
    """Linux delays sleeping threads' wake-ups by up to 50 µs to save power; a device keeps time better."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(29, 1, 0, 0, 0)  # PR_SET_TIMERSLACK = 29, in nanoseconds
    except (OSError, AttributeError):
        pass


def run_emulator(cfg: EmulatorConfig) -> dict[str, Any]:
    """Run until SIGTERM/SIGINT or the configured duration; returns the emulator's counters."""
    _tighten_timer_slack()
    emulator = Emulator(cfg)
    signal.signal(signal.SIGTERM, emulator.stop)
    signal.signal(signal.SIGINT, emulator.stop)
    signal.signal(signal.SIGHUP, emulator.stop)
    try:
        emulator.run()
    finally:
        emulator.close()
    log.info("emulator finished: %s (pid %d)", emulator.stats, os.getpid())
    return emulator.stats

"""`pose:sim` — the simulated rig's wrist pose as a tracker delivers it (docs/pose.md).

Sample k is *true* at capture time `t_k = start + k / rate` (host monotonic): the wrist pose of the MuJoCo
world's script (`dexumi.sim.trajectory`, the pose `World.set_time(t_k - epoch).wrist_pose()` gives) plus
optional position noise. The device stamps it on its own clock, `offset + (t_k - start) * (1 + drift)`, and
it arrives `latency + jitter` later (jitter: exponential delays, mean `jitter`; arrivals keep their order),
stamped with that arrival time (like a kernel receive timestamp) and handed over in 10 ms batches.
With probability `drop` a sample is never delivered (its index still advances); with probability `loss` per
sample a tracking loss of `loss_s` starts: its samples arrive with state LOST and NaN pose. A thread of its
own produces the samples; `truth()` records every one, delivered or not.
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
from dataclasses import dataclass

import numpy as np

from dexumi.devices.pose.base import LOST, TRACKING, PoseSample, PoseSource
from dexumi.devices.pose.clock import PoseClock
from dexumi.errors import DexumiError

log = logging.getLogger(__name__)

#: `truth()` record: every generated sample. state: 0 tracking, 2 lost; dropped: never delivered.
TRUTH_DTYPE = np.dtype(
    [
        ("index", "<i8"),
        ("capture_time", "<f8"),
        ("device_time", "<f8"),
        ("deliver_time", "<f8"),
        ("state", "u1"),
        ("dropped", "u1"),
    ]
)


@dataclass
class SimPoseConfig:
    name: str = "sim"
    rate: float = 100.0  # Hz
    latency_s: float = 0.0
    jitter_s: float = 0.0  # mean of the exponential extra delay
    drift_ppm: float = 0.0  # device clock runs fast by this much
    offset_s: float = 1000.0  # device clock at start
    drop: float = 0.0
    loss: float = 0.0  # probability per sample that a tracking loss starts
    loss_s: float = 0.1
    noise_m: float = 0.0  # position noise (std dev, metres)
    seed: int = 0
    epoch: float | None = None  # host monotonic time at which the world's script starts (default: open)
    script: str = "pick"
    samples: int | None = None  # end after this many samples (None: run until closed)

    def validate(self) -> None:
        from dexumi.sim.trajectory import SCRIPTS

        if not 0 < self.rate <= 2000:
            raise DexumiError(f"pose:sim: rate must be in (0, 2000] Hz, got {self.rate:g}")
        for key in ("drop", "loss"):
            if not 0 <= getattr(self, key) < 1:
                raise DexumiError(f"pose:sim: {key} must be in [0, 1), got {getattr(self, key):g}")
        for key in ("latency_s", "jitter_s", "loss_s", "noise_m"):
            if getattr(self, key) < 0:
                raise DexumiError(f"pose:sim: {key.rsplit('_', 1)[0]} must be >= 0, got {getattr(self, key):g}")
        if abs(self.drift_ppm) > 1e4:
            raise DexumiError(f"pose:sim: drift must be within ±10000 ppm, got {self.drift_ppm:g}")
        if self.script not in SCRIPTS:
            raise DexumiError(f"pose:sim: script={self.script!r} is not one of {', '.join(SCRIPTS)}")
        if self.samples is not None and self.samples < 1:
            raise DexumiError(f"pose:sim: samples must be >= 1, got {self.samples}")


class FastTrajectory:
    """`Trajectory.pose` vectorised: (positions, quaternions x, y, z, w) at many times in a few scipy calls
    (the per-call `Trajectory.pose` costs ~1 ms, too much for a 200 Hz tracker on a shared core)."""

    def __init__(self, trajectory) -> None:
        keys = trajectory.keys
        self.period = trajectory.period
        self.leave = np.asarray(trajectory.leave, np.float64)
        self.move = np.array([k.move_s for k in keys], np.float64)
        self.pos = np.array([k.pos for k in keys], np.float64)
        self.quat = np.array([k.rot.as_quat() for k in keys], np.float64)

    def __call__(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from dexumi.sim.trajectory import _smooth

        tm = np.atleast_1d(np.asarray(t, np.float64)) % self.period
        i = np.minimum(np.searchsorted(self.leave, tm, side="right"), len(self.move) - 1)
        start = np.where(i > 0, self.leave[i - 1], 0.0)
        move = self.move[i]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.where(move <= 0, 1.0, np.clip((tm - start) / np.where(move > 0, move, 1.0), 0.0, 1.0))
        s = np.clip(_smooth(u), 0.0, 1.0)
        a = i - 1  # key -1 is the last: the loop closes on itself
        pos = (1 - s)[:, None] * self.pos[a] + s[:, None] * self.pos[i]
        from scipy.spatial.transform import Rotation  # here: scipy.spatial costs ~1 s of every session's start

        ra = Rotation.from_quat(self.quat[a])
        step = Rotation.from_rotvec((ra.inv() * Rotation.from_quat(self.quat[i])).as_rotvec() * s[:, None])
        return pos, (ra * step).as_quat()


class SimPose(PoseSource):
    """The simulated wrist tracker; `pose_at(times)` is the world's true wrist pose (4×4) at host times."""

    def __init__(self, config: SimPoseConfig | None = None, spec: str = "pose:sim") -> None:
        from dexumi.sim.scene import SceneConfig
        from dexumi.sim.trajectory import make_trajectory

        config = config or SimPoseConfig()
        config.validate()
        super().__init__(config.name, spec)
        self.config = config
        self.rate_hz = config.rate
        self.trajectory = make_trajectory(config.script, SceneConfig())
        self.fast = FastTrajectory(self.trajectory)
        self.start_time = 0.0
        self.epoch = 0.0
        self.clock = PoseClock()
        self.ended = False
        self._queue: queue.Queue[list[PoseSample] | None] = queue.Queue()
        self._ready: collections.deque[PoseSample] = collections.deque()
        self._truth: list[tuple] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------------- truth
    def pose_at(self, times: np.ndarray) -> np.ndarray:
        """(n, 4, 4) true wrist poses at host monotonic `times`."""
        pos, quat = self.fast(np.atleast_1d(np.asarray(times, np.float64)) - self.epoch)
        from scipy.spatial.transform import Rotation

        T = np.tile(np.eye(4), (len(pos), 1, 1))
        T[:, :3, :3] = Rotation.from_quat(quat).as_matrix()
        T[:, :3, 3] = pos
        return T

    def truth(self) -> np.ndarray:
        return np.array(self._truth, TRUTH_DTYPE)

    def device_to_capture(self, device_time: np.ndarray) -> np.ndarray:
        """Exact inverse of the device clock: the host capture time of a device stamp."""
        c = self.config
        return self.start_time + (np.asarray(device_time, np.float64) - c.offset_s) / (1 + c.drift_ppm * 1e-6)

    # --------------------------------------------------------------------------------- lifecycle
    def open(self, start_time: float | None = None) -> SimPose:
        if self.opened:
            return self
        c = self.config
        self.start_time = time.monotonic() if start_time is None else float(start_time)
        self.epoch = c.epoch if c.epoch is not None else self.start_time
        self.clock = PoseClock()
        self.ended = False
        self._truth = []
        self._queue = queue.Queue()
        self._ready = collections.deque()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"pose-sim-{c.name}", daemon=True)
        self.opened = True
        self._thread.start()
        return self

    def read(self, timeout: float | None = 1.0) -> PoseSample | None:
        if not self.opened:
            raise DexumiError(f"pose source {self.spec!r} is not open")
        while not self._ready:
            if self.ended:
                return None
            try:
                batch = self._queue.get(timeout=timeout)
            except queue.Empty:
                return None
            if batch is None:
                self.ended = True
                return None
            self._ready.extend(batch)
        return self._ready.popleft()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        self.opened = False

    # ------------------------------------------------------------------------------------ thread
    def _run(self) -> None:
        """Generate samples 0.1 s at a time (vectorised poses); hand over every 10 ms all that have arrived,
        each stamped with its arrival time (as a kernel receive timestamp would)."""
        c = self.config
        rng = np.random.default_rng(c.seed)
        period = 1.0 / c.rate
        block = max(1, int(round(0.1 * c.rate)))
        tick = 0.01
        last_deliver = -np.inf
        loss_until = -np.inf
        last_put = -np.inf
        k = 0
        while not self._stop.is_set() and (c.samples is None or k < c.samples):
            m = block if c.samples is None else min(block, c.samples - k)
            ks = k + np.arange(m)
            t_cap = self.start_time + ks * period
            dev = c.offset_s + (t_cap - self.start_time) * (1 + c.drift_ppm * 1e-6)
            pos, quat = self.fast(t_cap - self.epoch)
            if c.noise_m > 0:
                pos = pos + rng.normal(0.0, c.noise_m, pos.shape)
            extra = rng.exponential(c.jitter_s, m) if c.jitter_s > 0 else np.zeros(m)
            drop = rng.random(m) < c.drop if c.drop > 0 else np.zeros(m, bool)
            start_loss = rng.random(m) < c.loss if c.loss > 0 else np.zeros(m, bool)
            batch: list[PoseSample] = []
            for j in range(m):
                if t_cap[j] >= loss_until and start_loss[j]:
                    loss_until = t_cap[j] + c.loss_s
                state = LOST if t_cap[j] < loss_until else TRACKING
                deliver = max(t_cap[j] + c.latency_s + extra[j], last_deliver)
                self._truth.append((int(ks[j]), float(t_cap[j]), float(dev[j]), deliver, state, int(drop[j])))
                if drop[j]:
                    continue
                last_deliver = deliver
                now = time.monotonic()
                if deliver > now:  # not arrived yet: hand over what has, then wait (at least a tick)
                    if batch:
                        self._queue.put(batch)
                        batch, last_put = [], now
                    time.sleep(max(deliver, last_put + tick) - now)
                    if self._stop.is_set():
                        return self._queue.put(None)
                if state == LOST:
                    p, q = np.full(3, np.nan), np.full(4, np.nan)
                else:
                    p, q = pos[j].copy(), quat[j].copy()
                mapped = self.clock.add(float(dev[j]), deliver)
                batch.append(
                    PoseSample(int(ks[j]), float(dev[j]), deliver, p, q, state, 0.0 if state == LOST else 1.0, mapped)
                )
            if batch:
                self._queue.put(batch)
                last_put = time.monotonic()
            k += m
        self._queue.put(None)

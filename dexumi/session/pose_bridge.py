"""The session's wrist-pose side: `--pose SPEC` sources read by their own threads, recorded as `/raw/pose/<name>`.

Each source gets a reader thread that blocks on `read()` so every sample keeps the arrival time its source
stamped; the poll thread collects what arrived as `PoseBatch`es (column arrays per clock segment). A
`PoseLost` reconnects the source (backing off) and starts a new clock segment, as does a device clock
jumping back by more than a second (the tracker app restarted).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from dexumi.devices.pose import LOST, PoseLost, PoseSample, PoseSource, make_pose, samples_to_arrays
from dexumi.devices.pose.board import BoardPose
from dexumi.episode.pose_stream import PoseBatch, PoseLayout
from dexumi.errors import DexumiError
from dexumi.session.config import StreamStatus
from dexumi.tracking.lenses import lens_for
from dexumi.tracking.pnp import Intrinsics

if TYPE_CHECKING:
    from dexumi.session.devices import CameraDevice
    from dexumi.types import CameraFrame

log = logging.getLogger(__name__)
JUMP_BACK_S = 1.0
RATE_WINDOW_S = 2.0


@dataclass
class PoseHealth:
    """What the recorder's pose health line shows of one source."""

    name: str
    connected: bool
    rate_hz: float
    state: str  # tracking | limited | lost | none
    lost_fraction: float  # of the samples of the last RATE_WINDOW_S seconds
    dropped: int
    position: list[float] = field(default_factory=list)  # the last tracked position (m)
    age_s: float | None = None  # since the last sample arrived (None: none yet)
    loss_events: int = 0  # tracking losses since the source opened (runs of LOST samples)
    reconnects: int = 0


class PoseReader:
    """One pose source on its own thread; `take()` returns what arrived since the last call."""

    def __init__(self, source: PoseSource, latency_s: float = 0.0) -> None:
        self.source = source
        self.name = source.name
        self.latency_s = latency_s
        self.connected = False
        self.samples = 0
        self.lost = 0
        self.dropped = 0
        self.loss_events = 0
        self.reconnects = 0
        self.segment = 0
        self.last_arrival = -np.inf
        self.last: PoseSample | None = None
        self.last_tracked: PoseSample | None = None
        self._last_index: int | None = None
        self._last_device = -np.inf
        self._pending: list[tuple[PoseSample, int]] = []
        self._recent: collections.deque[tuple[float, bool]] = collections.deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> PoseReader:
        self.source.open()
        self.connected = True
        self._thread = threading.Thread(target=self._run, name=f"pose-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        backoff = 0.2
        while not self._stop.is_set():
            try:
                s = self.source.read(0.2)
            except PoseLost as exc:
                log.warning("pose %s: %s; reconnecting", self.name, exc)
                self.connected = False
                while not self._stop.wait(backoff):
                    try:
                        self.source.reconnect()
                        break
                    except DexumiError as exc2:
                        log.info("pose %s: reconnect failed: %s", self.name, exc2)
                        backoff = min(2.0, backoff * 2)
                with self._lock:
                    self.reconnects += 1
                    self.segment += 1
                    self._last_index, self._last_device = None, -np.inf
                self.connected = True
                continue
            except Exception as exc:  # noqa: BLE001 - reported; the thread keeps the session alive
                log.warning("pose %s: %s", self.name, exc)
                self.connected = False
                self._stop.wait(0.5)
                continue
            if s is None:
                if getattr(self.source, "ended", False):  # a finite simulated source ran out
                    self._stop.wait(0.2)
                continue
            self._add(s)

    def _add(self, s: PoseSample) -> None:
        with self._lock:
            if s.device_time < self._last_device - JUMP_BACK_S:
                log.warning("pose %s: device clock jumped back: new clock segment", self.name)
                self.segment += 1
                self._last_index = None
            if self._last_index is not None and s.index >= 0 and self.source.counts_samples:
                gap = s.index - self._last_index - 1
                if gap > 0:
                    self.dropped += gap
            self._last_index = s.index if s.index >= 0 else None
            self._last_device = s.device_time
            self._pending.append((s, self.segment))
            self.samples += 1
            lost = s.state == LOST
            self.lost += lost
            self.loss_events += lost and (self.last is None or self.last.state != LOST)
            self.last = s
            if not lost:
                self.last_tracked = s
            self.last_arrival = s.host_time
            self._recent.append((s.host_time, lost))
            while self._recent and self._recent[0][0] < s.host_time - RATE_WINDOW_S:
                self._recent.popleft()

    def take(self) -> list[PoseBatch]:
        with self._lock:
            pending, self._pending = self._pending, []
        out: list[PoseBatch] = []
        start = 0
        for i in range(1, len(pending) + 1):
            if i == len(pending) or pending[i][1] != pending[start][1]:
                out.append(PoseBatch(samples_to_arrays([p[0] for p in pending[start:i]]), pending[start][1]))
                start = i
        return out

    def rate_hz(self) -> float:
        with self._lock:
            r = list(self._recent)
        if len(r) < 2 or r[-1][0] <= r[0][0]:
            return 0.0
        return (len(r) - 1) / (r[-1][0] - r[0][0])

    def health(self, now: float | None = None) -> PoseHealth:
        with self._lock:
            r = list(self._recent)
            last, tracked = self.last, self.last_tracked
            events, reconnects = self.loss_events, self.reconnects
        from dexumi.pose_sample import STATE_NAMES

        now = time.monotonic() if now is None else now
        lost_frac = float(np.mean([x[1] for x in r])) if r else 0.0
        return PoseHealth(
            self.name,
            self.connected,
            self.rate_hz(),
            STATE_NAMES.get(last.state, "?") if last else "none",
            lost_frac,
            self.dropped,
            [float(x) for x in tracked.position] if tracked else [],
            max(0.0, now - last.host_time) if last else None,
            events,
            reconnects,
        )

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
            self._thread = None
        try:
            self.source.close()
        except Exception as exc:  # noqa: BLE001 - closing must reach every source
            log.warning("pose %s: close failed: %s", self.name, exc)


def _since(b: PoseBatch, t0: float) -> PoseBatch | None:
    h = b.columns["host_time"]
    k = (
        int(np.searchsorted(h, t0, side="left"))
        if len(h) and np.all(np.diff(h) >= 0)
        else (int(np.argmax(h >= t0)) if (h >= t0).any() else len(h))
    )
    if k >= len(b):
        return None
    if k == 0:
        return b
    return PoseBatch({key: v[k:] for key, v in b.columns.items()}, b.segment)


class PoseBridge:
    """The session's pose sources: `poll()` every session poll, `layouts()` for a new episode, `close()`."""

    def __init__(
        self,
        specs: list[str],
        latencies_s: dict[str, float] | None = None,
        sim_epoch: float | None = None,
        timeout_s: float = 15.0,
        cameras: list[CameraDevice] | None = None,
        lenses: dict[str, Intrinsics] | None = None,
    ) -> None:
        self.readers: list[PoseReader] = []
        self.lenses = dict(lenses or {})  # the calibration profile's intrinsics, by camera name
        self.fed: dict[str, list[BoardPose]] = {}  # session camera → the board sources its frames feed
        lat = dict(latencies_s or {})
        try:
            names: set[str] = set()
            for spec in specs:
                src = make_pose(spec)
                cfg = getattr(src, "config", None)
                if sim_epoch is not None and cfg is not None and getattr(cfg, "epoch", 0.0) is None:
                    cfg.epoch = sim_epoch  # pose:sim under --sim: the same world script time as the cameras
                base, k = src.name, 1
                while src.name in names:
                    src.name, k = f"{base}_{k}", k + 1
                names.add(src.name)
                latency = float(lat.get(f"pose:{src.name}", lat.get(src.name, 0.0)))
                if isinstance(src, BoardPose):
                    cam = self._bind(src, cameras or [])
                    if f"pose:{src.name}" not in lat and src.name not in lat:
                        latency = cam.latency_s  # its samples are the frames' instants: the camera's latency
                self.readers.append(PoseReader(src, latency).start())
            self._wait_for_data(timeout_s)
        except BaseException:
            self.close()
            raise

    def _bind(self, src: BoardPose, cameras: list[CameraDevice]) -> CameraDevice:
        """A board source tracks the session's own camera of that name, on the frames the session records."""
        cam = next((c for c in cameras if c.name == src.camera), None)
        if cam is None:
            have = ", ".join(c.name for c in cameras) or "none"
            raise DexumiError(f"{src.spec}: the session has no camera {src.camera!r} (cameras: {have})")
        src.use_camera(
            cam.width,
            cam.height,
            cam.fps,
            cam.spec.startswith("world"),
            cam.host_clock_device_time,
            lens_for(self.lenses, cam.name),
        )
        self.fed.setdefault(cam.name, []).append(src)
        return cam

    def feed(self, frames: dict[str, list[CameraFrame]]) -> None:
        """Hand the frames the session drained to the board sources tracking those cameras (never blocks)."""
        for cam, sources in self.fed.items():
            for f in frames.get(cam, ()):
                for src in sources:
                    src.feed(f)

    def settle(self, timeout_s: float = 2.0) -> None:
        """Wait (up to `timeout_s`) until every frame fed to a board source has come out as a sample."""
        fed = [(r, r.source) for r in self.readers if isinstance(r.source, BoardPose) and self._is_fed(r.source)]
        deadline = time.monotonic() + timeout_s
        while any(r.samples < src.fed for r, src in fed) and time.monotonic() < deadline:
            time.sleep(0.005)
        late = [f"pose:{r.name}" for r, src in fed if r.samples < src.fed]
        if late:
            log.warning("%s: the last frames were not tracked within %g s", ", ".join(late), timeout_s)

    def _is_fed(self, src: PoseSource) -> bool:
        """Whether the session's camera frames feed `src` (a board source bound to a session camera)."""
        return any(src is x for v in self.fed.values() for x in v)

    def _wait_for_data(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        waiting = [r for r in self.readers if not self._is_fed(r.source)]  # fed ones wait for the poll thread
        while time.monotonic() < deadline and any(r.samples == 0 for r in waiting):
            time.sleep(0.02)
        silent = [f"pose:{r.name} ({r.source.spec})" for r in waiting if r.samples == 0]
        if silent:
            raise DexumiError(f"no data within {timeout_s:g} s from: {', '.join(silent)}")

    def layouts(self) -> list[PoseLayout]:
        return [
            PoseLayout(
                r.name, r.source.spec, float(r.source.rate_hz or 0.0), r.latency_s, bool(r.source.counts_samples)
            )
            for r in self.readers
        ]

    def poll(self) -> dict[str, list[PoseBatch]]:
        return {r.name: r.take() for r in self.readers}

    @staticmethod
    def since(batches: list[PoseBatch], t0: float) -> list[PoseBatch]:
        return [x for x in (_since(b, t0) for b in batches) if x is not None]

    def statuses(self, now: float, in_episode: dict[str, int] | None = None) -> list[StreamStatus]:
        out = []
        for r in self.readers:
            clock = getattr(r.source, "clock", None)
            est = clock.fit.estimate() if clock is not None else None
            out.append(
                StreamStatus(
                    f"pose:{r.name}",
                    "pose",
                    r.connected,
                    r.rate_hz(),
                    float(r.source.rate_hz or 0.0),
                    r.samples,
                    (in_episode or {}).get(f"pose:{r.name}", 0),
                    r.dropped,
                    r.lost,
                    r.reconnects,
                    now - r.last_arrival,
                    est.drift_ppm if est else 0.0,
                    est.residual_ms if est else 0.0,
                )
            )
        return out

    def health(self, now: float | None = None) -> list[PoseHealth]:
        return [r.health(now) for r in self.readers]

    def close(self) -> None:
        for r in self.readers:
            r.close()
        self.readers = []

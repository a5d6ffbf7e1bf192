"""Lab Streaming Layer: any LSL stream recorded as an extra stream, and dexumi's own streams as LSL outlets.

Inlet (`lsl:NAME`): samples are pulled every poll; each sample's LSL timestamp plus the inlet's
`time_correction()` (LSL's NTP-style clock-offset probes, refreshed every `probe_interval_s`) is a device
time, its pull time the host arrival — and the pairs go through the same lower-envelope clock fit as the
encoder's (`dexumi.clock.ClockFit`), so a device stamping with its own drifting clock (a vendor app's EMG,
a glove) still lands on the recording clock; a timestamp jumping back by more than a second (the outlet
restarted) starts a new clock segment, as a device reset does for the encoder.

Outlets (`LslOutlets`): `dexumi.encoder` (the joint angles, one channel per joint, stamped with their times
on the recording clock), `dexumi.frames.<camera>` (each camera frame's index, stamped with its exposure
time) and `dexumi.markers` (strings: `start episode_0007`, `stop episode_0007 success`, ...), so a lab's
LabRecorder records dexumi next to its own devices. The recording clock is the host's monotonic clock,
which is LSL's `local_clock()` on Linux: the stamps need no conversion.

Uses `mne-lsl`, whose wheels bring their own liblsl on Linux (pylsl has none and Debian has no liblsl).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from typing import Any

import numpy as np

from dexumi.clock import ClockEstimate, ClockFit
from dexumi.errors import DexumiError

log = logging.getLogger(__name__)

PREFIX = "lsl:"
JUMP_BACK_S = 1.0


_CONFIGURED = False


def _lsl():
    global _CONFIGURED
    try:
        from mne_lsl import lsl
    except Exception as exc:  # noqa: BLE001 - a missing or broken liblsl is one line for the user
        raise DexumiError(f"Lab Streaming Layer is not available (pip install mne-lsl): {exc}") from None
    if not _CONFIGURED:
        _CONFIGURED = True
        try:  # liblsl logs every connection at INFO on stderr; keep its errors only
            lsl.set_config_content("[log]\nlevel = -2\n")
        except Exception as exc:  # noqa: BLE001 - too late (liblsl already in use): keep its default
            log.debug("liblsl log level not set: %s", exc)
    return lsl


_FLOOR: float | None = None


def transport_floor_s(samples: int = 150) -> float:
    """LSL's own delivery delay on this host (outlet push → inlet pull), its minimum over `samples` probes
    through an in-process outlet; measured once per process (about 0.5 s). Arrival times are this much
    later than the samples at the very least: subtracting it removes that bias from the lower envelope."""
    global _FLOOR
    if _FLOOR is not None:
        return _FLOOR
    import uuid

    lsl = _lsl()
    name = f"dexumi-floor-{uuid.uuid4().hex[:8]}"
    outlet = lsl.StreamOutlet(lsl.StreamInfo(name, "probe", 1, 0.0, "float64", name))
    try:
        infos = lsl.resolve_streams(timeout=2.0, name=name, minimum=1)
        if not infos:
            _FLOOR = 0.0
            return _FLOOR
        inlet = lsl.StreamInlet(infos[0])
        inlet.open_stream(timeout=2.0)
        d = []
        for _ in range(samples):
            t0 = time.monotonic()
            outlet.push_sample(np.array([t0]), t0)
            _, ts = inlet.pull_sample(timeout=0.5)
            if ts is not None:
                d.append(time.monotonic() - ts)
            time.sleep(0.001)
        inlet.close_stream()
        _FLOOR = float(max(0.0, np.min(d))) if d else 0.0
    finally:
        del outlet
    log.info("LSL transport floor on this host: %.3f ms", _FLOOR * 1e3)
    return _FLOOR


def stream_name(spec: str) -> str:
    """`lsl:NAME` → NAME."""
    if not spec.startswith(PREFIX) or not spec[len(PREFIX) :].strip():
        raise DexumiError(f"{spec!r}: an LSL stream is given as lsl:NAME")
    return spec[len(PREFIX) :].strip()


@dataclass
class LslBatch:
    """Samples of one pull: values (n, C), LSL timestamps + time correction, pull times, online mapping."""

    values: np.ndarray
    stamp: np.ndarray  # float64 (n,) LSL timestamp + time correction (the source's clock, seconds)
    host_time: np.ndarray  # float64 (n,) when the pull returned (host monotonic)
    mapped_time: np.ndarray  # float64 (n,) on the recording clock, by the online clock fit
    segment: int = 0

    def __len__(self) -> int:
        return len(self.stamp)


@dataclass
class _Segment:
    fit: ClockFit = field(default_factory=ClockFit)
    last_stamp: float = -np.inf


class LslInletStream:
    """One LSL stream as an extra recorded stream: `start()`, `read()` every poll, `close()`."""

    def __init__(
        self, spec: str, resolve_timeout_s: float = 5.0, probe_interval_s: float = 2.0, floor: bool = True
    ) -> None:
        self.spec = spec if spec.startswith(PREFIX) else PREFIX + spec
        self.source_name = stream_name(self.spec)
        self.resolve_timeout_s = resolve_timeout_s
        self.probe_interval_s = probe_interval_s
        self.inlet: Any = None  # mne_lsl's StreamInlet once open
        self.channels = 0
        self.nominal_rate_hz = 0.0
        self.stype = ""
        self.channel_names: list[str] = []
        self.segments: list[_Segment] = []
        self.correction = 0.0
        self._next_probe = 0.0
        self.samples = 0
        self.connected = False
        self.last_arrival = -np.inf
        self.use_floor = floor
        self.floor_s = 0.0  # subtracted from arrival times (see transport_floor_s)
        self._lock = threading.Lock()
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def name(self) -> str:
        return self.spec

    def start(self) -> LslInletStream:
        lsl = _lsl()
        self.floor_s = transport_floor_s() if self.use_floor else 0.0
        infos = lsl.resolve_streams(timeout=self.resolve_timeout_s, name=self.source_name, minimum=1)
        infos = [i for i in infos if i.name == self.source_name]
        if not infos:
            raise DexumiError(f"LSL stream {self.source_name!r} not found within {self.resolve_timeout_s:g} s")
        info = infos[0]
        if info.dtype == "string":
            raise DexumiError(f"LSL stream {self.source_name!r} carries strings: record numeric streams only")
        self.inlet = lsl.StreamInlet(info, max_buffered=60)
        self.inlet.open_stream(timeout=self.resolve_timeout_s)
        self.channels = int(info.n_channels)
        self.nominal_rate_hz = float(info.sfreq)
        self.stype = str(info.stype)
        try:
            self.channel_names = list(info.get_channel_names() or [])
        except Exception:  # noqa: BLE001 - optional metadata
            self.channel_names = []
        if len(self.channel_names) != self.channels or not all(self.channel_names):
            self.channel_names = [f"ch{i}" for i in range(self.channels)]
        self._probe(force=True)
        self.connected = True
        self._thread = threading.Thread(target=self._pull_loop, name=f"lsl-{self.source_name}", daemon=True)
        self._thread.start()
        log.info(
            "LSL stream %s: %d channels at %g Hz (type %s)",
            self.source_name,
            self.channels,
            self.nominal_rate_hz,
            self.stype,
        )
        return self

    def _probe(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now < self._next_probe:
            return
        self._next_probe = now + self.probe_interval_s
        try:
            self.correction = float(self.inlet.time_correction(timeout=1.0 if force else 0.2))
        except Exception as exc:  # noqa: BLE001 - keep the last estimate
            log.debug("LSL time correction of %s failed: %s", self.source_name, exc)

    def _pull_loop(self) -> None:
        """Own thread: block on the inlet so that each chunk's arrival is stamped the moment it comes in
        (the poll thread's 50 ms would blur the lower envelope)."""
        while not self._stop.is_set():
            try:
                self._probe()
                sample, t1 = self.inlet.pull_sample(timeout=0.05)
                if t1 is None or len(sample) == 0:
                    continue
                arrival = time.monotonic()
                data, ts = np.asarray(sample, np.float64).reshape(1, -1), np.array([t1], np.float64)
                more, ts2 = self.inlet.pull_chunk(timeout=0.0, max_samples=4096)
                arrival2 = time.monotonic()  # what the drain got may have come in after `arrival`
                # copies: mne-lsl returns views of a buffer that the next pull overwrites
                vals = [np.array(data, np.float64, copy=True).reshape(len(ts), self.channels)]
                stamps = [np.array(ts, np.float64, copy=True)]
                if len(ts2):
                    vals.append(np.array(more, np.float64, copy=True).reshape(len(ts2), self.channels))
                    stamps.append(np.array(ts2, np.float64, copy=True))
                v, st = np.concatenate(vals), np.concatenate(stamps) + self.correction
                host = np.full(len(st), arrival2 - self.floor_s)
                host[0] = arrival - self.floor_s
                with self._lock:
                    self._pending.append((v, st, host))
                    self.last_arrival = arrival
            except Exception as exc:  # noqa: BLE001 - the stream is reported as disconnected
                if not self._stop.is_set():
                    log.warning("LSL stream %s: %s", self.source_name, exc)
                    self.connected = False
                    self._stop.wait(0.5)

    def read(self) -> list[LslBatch]:
        """Everything that arrived since the last call, mapped online."""
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return []
        values = np.concatenate([p[0] for p in pending])
        stamp = np.concatenate([p[1] for p in pending])
        host_all = np.concatenate([p[2] for p in pending])
        out = []
        start = 0
        jumps = np.flatnonzero(np.diff(stamp) < -JUMP_BACK_S) + 1
        for end in [*jumps.tolist(), len(stamp)]:
            if not self.segments or stamp[start] < self.segments[-1].last_stamp - JUMP_BACK_S:
                if self.segments:
                    log.warning("LSL stream %s: timestamps jumped back: new clock segment", self.source_name)
                self.segments.append(_Segment())
            seg = self.segments[-1]
            st, host = stamp[start:end], host_all[start:end]
            us = np.round(st * 1e6).astype(np.int64)
            seg.fit.add(us, host)
            seg.last_stamp = float(st[-1])
            est = seg.fit.estimate()
            mapped = est.to_host(us) if est else host.copy()
            out.append(LslBatch(values[start:end], st, host, np.asarray(mapped, np.float64), len(self.segments) - 1))
            start = end
        self.samples += len(stamp)
        return out

    def final_fits(self) -> list[ClockEstimate | None]:
        return [s.fit.estimate(refresh=True) for s in self.segments]

    def rate_hz(self) -> float:
        return self.nominal_rate_hz

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self.inlet is not None:
            try:
                self.inlet.close_stream()
            except Exception:  # noqa: BLE001 - the stream may be gone already
                pass
            self.inlet = None
        self.connected = False


def map_times(stamp: np.ndarray, host_time: np.ndarray, segment: np.ndarray) -> tuple[np.ndarray, dict]:
    """The final mapping of recorded LSL samples: each segment refit on all of its (stamp, arrival) pairs
    (`dexumi.episode.aligned.map_times`, where the episode's streams map theirs; kept here for LSL users)."""
    from dexumi.episode.aligned import map_times as episode_map_times

    return episode_map_times(stamp, host_time, segment)


class LslOutlets:
    """dexumi's streams as LSL outlets: encoder angles, camera frame indices, episode markers."""

    def __init__(
        self,
        joint_names: list[str] | tuple[str, ...],
        cameras: list[str],
        encoder_rate_hz: float,
        camera_fps: dict[str, float] | None = None,
        source: str | None = None,
    ) -> None:
        """Source ids are `<source>.encoder`, ... (default source: `dexumi-<pid>`, unique on the host)."""
        import os

        source = source or f"dexumi-{os.getpid()}"
        self.source = source
        lsl = _lsl()
        self._lsl = lsl
        n = len(joint_names)
        info = lsl.StreamInfo(
            "dexumi.encoder", "Angles", n, float(encoder_rate_hz or 0.0), "float32", f"{source}.encoder"
        )
        try:
            info.set_channel_names(list(joint_names))
            info.set_channel_units(["radians"] * n)
        except Exception:  # noqa: BLE001 - metadata is optional
            pass
        self.encoder = lsl.StreamOutlet(info)
        self.frames = {}
        for cam in cameras:
            fi = lsl.StreamInfo(
                f"dexumi.frames.{cam}",
                "FrameIndex",
                1,
                float((camera_fps or {}).get(cam, 0.0)),
                "float64",
                f"{source}.frames.{cam}",
            )
            self.frames[cam] = lsl.StreamOutlet(fi)
        mi = lsl.StreamInfo("dexumi.markers", "Markers", 1, 0.0, "string", f"{source}.markers")
        self.markers = lsl.StreamOutlet(mi)
        self.counts = {"encoder": 0, "markers": 0, **{c: 0 for c in cameras}}

    def push_encoder(self, angles: np.ndarray, times: np.ndarray) -> None:
        if len(times) == 1:
            self.encoder.push_sample(np.ascontiguousarray(angles, np.float32).reshape(-1), float(times[0]))
            self.counts["encoder"] += 1
        elif len(times):
            self.encoder.push_chunk(np.ascontiguousarray(angles, np.float32), np.asarray(times, np.float64))
            self.counts["encoder"] += len(times)

    def push_frames(self, camera: str, index: np.ndarray, times: np.ndarray) -> None:
        out = self.frames.get(camera)
        if out is None or not len(times):
            return
        if len(times) == 1:
            out.push_sample(np.asarray(index, np.float64).reshape(1), float(np.asarray(times)[0]))
        else:
            out.push_chunk(np.asarray(index, np.float64).reshape(-1, 1), np.asarray(times, np.float64))
            self.counts[camera] += len(times)

    def marker(self, text: str, t: float | None = None) -> None:
        self.markers.push_sample([text], time.monotonic() if t is None else t)
        self.counts["markers"] += 1

    def close(self) -> None:
        for o in [self.encoder, self.markers, *self.frames.values()]:
            try:
                del o
            except Exception:  # noqa: BLE001 - closing goes on for every outlet
                pass
        self.frames = {}

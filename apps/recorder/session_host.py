"""The recorder's session process: `dexumi.session.server` plus a live-data publisher and discard/undo.

    python -m apps.recorder.session_host

Same JSON-lines protocol as `dexumi.session.server` (the GUI sends `open`, `start`, `stop`, ...), plus:
- `open` answers also `live` (the shared-memory block's name), `robot_joints`, `cameras`, `poses` (the pose
  sources' names, in the order of the buffer's pose rings), `map_path`, `exo_range` (per-channel calibrated or
  model range);
- `discard`: while recording, the episode is finalised and kept as `episode_NNNN.h5.discarded`; after an
  episode, the last finished one is renamed so; `undo_discard` renames it back (until the next `start`).
Live data (joints at ~100 Hz, robot joints retargeted here, the newest JPEG of each camera, each pose source's
samples at <= 100 per second, status 4×/s) goes into the shared buffer (apps/recorder/live.py), never through the pipe, so a frozen GUI that stops
reading cannot block this process. Status events on the pipe are off (the interval is an hour).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from apps.recorder.live import LiveLayout, LiveWriter
from apps.recorder.live_pose import PoseDecimator
from dexumi.episode.metadata import discard, undiscard
from dexumi.errors import DexumiError
from dexumi.session.server import Server

log = logging.getLogger(__name__)
DISPLAY_HZ = 100.0  # joint rows per second in the live buffer
PUBLISH_S = 1 / 60  # publisher period (catches every frame of a 30 fps camera, every other of 60 fps)
STATUS_S = 0.25


class LivePublisher:
    """Collects what the poll thread drains and writes it, at display rate, to the live buffer."""

    def __init__(self, session) -> None:
        self.session = session
        dev = session.devices
        self.cameras = [c.name for c in dev.cameras]
        self.cam_latency = [c.latency_s for c in dev.cameras]
        self.exo_n = dev.encoder.joints
        self.retargeter = None
        if session.retargeter is not None:
            from dexumi.retarget import Retargeter

            # its own instance: pinocchio data and filter state are per thread
            self.retargeter = Retargeter.from_map(session.retargeter.map)
        self.robot_n = self.retargeter.robot.nq if self.retargeter else 0
        self.poses = [r.name for r in session.pose.readers] if session.pose is not None else []
        self.writer = LiveWriter(
            LiveLayout(self.exo_n, self.robot_n, cameras=max(1, len(self.cameras)), poses=len(self.poses))
        )
        self._lock = threading.Lock()
        self._batches: list = []
        self._pose_batches: dict[str, list] = {n: [] for n in self.poses}
        self._decimators = [PoseDecimator() for _ in self.poses]
        self._frame_times: list[deque] = [deque(maxlen=60) for _ in self.cameras]
        self._frame_bytes: list[deque] = [deque(maxlen=60) for _ in self.cameras]
        self._next_t = -np.inf
        self._last_status = 0.0
        self.crc = 0
        self._stop = threading.Event()
        session.add_listener(self._on_drain)
        session.add_pose_listener(self._on_pose)
        self._grabbers = [c.grabber for c in dev.cameras]
        self._published = [-1] * len(self.cameras)
        self._thread = threading.Thread(target=self._run, name="live-publisher", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ session listener (poll thread: keep cheap)
    def _on_drain(self, batches: list, frames: dict[str, list]) -> None:
        with self._lock:
            self._batches.extend(batches)
            for k, name in enumerate(self.cameras):
                for f in frames.get(name, ()):
                    self._frame_times[k].append(f.grab_time - self.cam_latency[k])
                    self._frame_bytes[k].append(len(f.data) if isinstance(f.data, (bytes, bytearray)) else 0)

    def _on_pose(self, pose: dict[str, list]) -> None:
        with self._lock:
            for name, batches in pose.items():
                if name in self._pose_batches:
                    self._pose_batches[name].extend(batches)

    # ------------------------------------------------------------------------------------- publishing
    def _run(self) -> None:
        while not self._stop.wait(PUBLISH_S):
            try:
                self.publish()
            except Exception:
                log.exception("live publisher")

    def _joint_rows(self) -> np.ndarray | None:
        with self._lock:
            batches, self._batches = self._batches, []
        if not batches:
            return None
        t = np.concatenate([b.mapped_time for b in batches])
        q = np.concatenate([b.angles for b in batches])
        keep = []
        for i, ti in enumerate(t):  # decimate onto a DISPLAY_HZ grid
            if ti >= self._next_t:
                keep.append(i)
                self._next_t = max(self._next_t + 1 / DISPLAY_HZ, ti + 0.5 / DISPLAY_HZ)
        if not keep:
            return None
        t, q = t[keep], q[keep]
        if self.retargeter is not None:
            try:
                robot = self.retargeter.retarget(q, t)
            except DexumiError:
                robot = np.full((len(t), self.robot_n), np.nan)
            return np.column_stack([t, q, robot])
        return np.column_stack([t, q])

    def publish(self) -> None:
        rows = self._joint_rows()
        if rows is not None:
            self.writer.append_rows(rows)
        with self._lock:
            pose, self._pose_batches = self._pose_batches, {n: [] for n in self.poses}
        for k, name in enumerate(self.poses):
            prows = self._decimators[k].rows(pose[name])
            if len(prows):
                self.writer.append_poses(k, prows)
        for k, g in enumerate(self._grabbers):  # the newest frame, as the grabber thread got it
            fr = g.latest()
            if fr is not None and fr.index != self._published[k] and isinstance(fr.data, (bytes, bytearray)):
                self._published[k] = fr.index
                self.writer.put_frame(k, fr.index, fr.grab_time, bytes(fr.data))
        now = time.monotonic()
        if now - self._last_status >= STATUS_S:
            self._last_status = now
            self.writer.put_status(self.status())

    def status(self) -> dict:
        """The session's snapshot plus what the recorder shows beside it."""
        s = self.session
        st = s.status().to_json()
        enc = s.devices.encoder.stats()
        lat = {"encoder": float(s.cfg.latencies_s.get("encoder", 0.0))}
        lat.update({c.name: c.latency_s for c in s.devices.cameras})
        with self._lock:
            times = [np.asarray(d) for d in self._frame_times]
            sizes = [float(np.mean(d)) if d else 0.0 for d in self._frame_bytes]
        align = {"encoder": enc.residual_ms}
        if times and len(times[0]):
            main = times[0]
            for name, tc in zip(self.cameras, times):
                if len(tc) and len(main):
                    j = (
                        np.clip(np.searchsorted(main, tc), 1, len(main) - 1)
                        if len(main) > 1
                        else np.zeros(len(tc), int)
                    )
                    near = np.minimum(np.abs(tc - main[j]), np.abs(tc - main[np.maximum(j - 1, 0)]))
                    align[name] = float(np.median(near) * 1e3)
        bytes_s = sum(sz * st_["rate_hz"] for sz, st_ in zip(sizes, st["streams"][1:]))
        bytes_s += enc.rate_hz * (32 + 12 * self.exo_n)  # index, times, raw counts, angles per sample
        st["extra"] = {
            "crc_errors": enc.crc_errors,
            "resync_bytes": enc.resync_bytes,
            "device_resets": enc.device_resets,
            "latency_s": lat,
            "align_ms": align,
            "data_mb_per_min": bytes_s * 60 / 2**20,
            "live_too_big": self.writer.too_big,
            "protocol": enc.protocol,
            "fatal": s.fatal,
            "time": time.monotonic(),
        }
        return st

    def stop(self) -> None:
        self.session.remove_listener(self._on_drain)
        self.session.remove_pose_listener(self._on_pose)
        self._stop.set()
        self._thread.join(timeout=2)

    def close(self) -> None:
        self.stop()
        self.writer.close()


class HostServer(Server):
    """`Server` with the live publisher and discard-with-undo."""

    def __init__(self, out=sys.stdout) -> None:
        super().__init__(out, status_interval_s=3600.0)
        self.live: LivePublisher | None = None
        self.discarded: tuple[Path, Path] | None = None  # (discarded file, its finished name)

    def _dispatch(self, cmd: str, req: dict) -> Any:
        if cmd == "open":
            result = super()._dispatch(cmd, req)
            s = self.session
            assert s is not None
            self.live = LivePublisher(s)
            r = s.retargeter
            exo_range = None
            if r is not None and r.exo is not None:
                cols = [r.exo.index(c) for c in r.channels]
                exo_range = [[float(r.exo.lower[i]), float(r.exo.upper[i])] for i in cols]
            result.update(
                {
                    "live": self.live.writer.name,
                    "cameras": self.live.cameras,
                    "poses": self.live.poses,
                    "robot_joints": list(r.robot_joint_names) if r else [],
                    "map_path": str(r.map.path) if r and r.map.path else None,
                    "exo_range": exo_range,
                    "pid": os.getpid(),
                }
            )
            return result
        if cmd == "start":
            self.discarded = None  # undo ends with the next start
            return super()._dispatch(cmd, req)
        if cmd == "discard":
            return self._discard()
        if cmd == "undo_discard":
            return self._undo()
        return super()._dispatch(cmd, req)

    def _discard(self) -> dict:
        s = self._need()
        if s.recording:
            done = s.stop_episode(None, None, "discarded")
        elif s.last_episode is not None and Path(s.last_episode).exists():
            done = Path(s.last_episode)
        else:
            raise DexumiError("nothing to discard")
        target = discard(done, record=False)
        self.discarded = (target, done)
        log.info("discarded %s", target)
        return {"path": str(target), "finished": str(done)}

    def _undo(self) -> dict:
        if self.discarded is None:
            raise DexumiError("nothing to undo")
        target, _ = self.discarded
        done = undiscard(target, record=False)
        self.discarded = None
        return {"path": str(done)}

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
        super().close()
        if self.live is not None:
            self.live.close()
            self.live = None


def main(argv: list[str] | None = None) -> int:
    import argparse

    from dexumi.session.server import add_control_arguments, run_server

    ap = argparse.ArgumentParser(prog="python -m apps.recorder.session_host")
    add_control_arguments(ap)
    return run_server(HostServer(sys.stdout), ap.parse_args(argv), "recorder session", ignore_sigint=True)


if __name__ == "__main__":
    sys.exit(main())

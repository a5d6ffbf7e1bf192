"""`pose:board:CAMERA` — the wrist camera's pose from the ChArUco board / AprilTags it sees (docs/pose.md).

A `BoardPose` is fed the frames of camera CAMERA (`feed(frame)`: a recording session hands it every frame of
that camera; or give it an opened `CameraSource` and it reads the camera itself). A worker thread decodes
each frame, detects the target (`dexumi.tracking.target`) and solves PnP (`dexumi.tracking.pnp`); every
frame becomes one `PoseSample`: index = the frame's index (a jump = frames the camera dropped),
device_time = the frame's own timestamp (its grab time when it has none), host_time = its grab time (that
timestamp itself for a camera stamping on the host clock, `use_camera`),
state TRACKING / LIMITED / LOST (no target: NaN pose), quality from points and reprojection error.

The pose is the camera (OpenCV axes) in the board frame; with `T_cam_tracked` (a hand-eye result, e.g. the
wrist in the camera frame) it is that tracked frame instead. The queue between `feed` and the worker is
bounded: a full queue is counted (`overflows`) and logged, never silently dropped-oldest.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

import cv2
import numpy as np
from scipy.spatial.transform import Rotation

from dexumi.devices.pose.base import LOST, PoseSample, PoseSource
from dexumi.devices.pose.clock import PoseClock
from dexumi.errors import DexumiError

# board PnP on one image and the simulated cameras' lenses live in dexumi.tracking.board (the offline tracker uses
# them too); re-exported here
from dexumi.tracking.board import BoardTracker, world_lens
from dexumi.tracking.pnp import Intrinsics
from dexumi.tracking.target import Target
from dexumi.types import CameraFrame
from dexumi.vocab import FrameEncoding

log = logging.getLogger(__name__)


def decode(frame: CameraFrame) -> np.ndarray:
    """A frame's image as grey uint8 (JPEG decoded straight to grey, the cheapest path)."""
    if frame.encoding == FrameEncoding.JPEG:
        buf = np.frombuffer(frame.data, np.uint8) if isinstance(frame.data, (bytes, bytearray)) else frame.data
        img = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
        if img is None:
            raise DexumiError(f"camera {frame.camera}: frame {frame.index} is not a readable JPEG")
        return img
    img = np.asarray(frame.data)
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img


class BoardPose(PoseSource):
    """The camera's pose from board views; fed frames (`feed`) or reading `camera` itself."""

    def __init__(
        self,
        camera: str,
        lens: Intrinsics | None = None,
        target: Target | None = None,
        source=None,
        name: str | None = None,
        spec: str | None = None,
        T_cam_tracked: np.ndarray | None = None,
        queue_frames: int = 8,
        tags: str = "auto",
    ) -> None:
        super().__init__(name or f"board-{camera}", spec or f"pose:board:{camera}")
        self.camera = camera  # the stream whose frames feed this source
        self.tags = tags
        self.lens = lens
        self.target = target
        self.source = source
        self.T_cam_tracked = None if T_cam_tracked is None else np.asarray(T_cam_tracked, np.float64)
        self.clock = PoseClock()
        self.overflows = 0
        self.frames = 0
        self.fed = 0  # frames handed over by `feed` (each becomes one sample)
        self._warned = -np.inf
        self.host_clock = False  # frames' device times are host monotonic (use_camera)
        self.track_s = 0.0  # CPU-side time spent decoding + tracking (wall, summed over frames)
        self._queue_frames = queue_frames
        self._in: queue.Queue[CameraFrame | None] = queue.Queue(queue_frames)
        self._out: queue.Queue[PoseSample | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._tracker: BoardTracker | None = None
        self.ended = False
        self.size_given = False  # the spec said size=WxH (else a session's world camera gives its own)
        self.lens_is_world = False  # `lens` is a simulated world camera's, taken by its name (wrist0, wrist1)

    def use_camera(
        self,
        width: int,
        height: int,
        fps: float,
        simulated_world: bool,
        host_clock: bool = False,
        calibrated: Intrinsics | None = None,
    ) -> None:
        """Feed from a recording session's own camera of this size: the queue holds ~2 s of its frames (the
        session hands them over in bursts), a simulated world camera's exact lens is taken at its size, any
        other camera's is `calibrated` (the session's calibration profile) unless the spec gave one, and
        with `host_clock` (the camera stamps frames on the host clock) a sample's host time is that stamp too,
        so the pose lands exactly on its frame's time however late the frame was grabbed."""
        self._queue_frames = max(self._queue_frames, int(2 * fps))
        self.host_clock = host_clock
        self.rate_hz = fps or None  # one sample per frame
        if self.source is not None:
            raise DexumiError(f"{self.spec}: already reads a camera of its own")
        if simulated_world and (self.lens is None or (self.lens.width, self.lens.height) != (width, height)):
            if self.size_given:
                raise DexumiError(
                    f"{self.spec}: size={self.lens.width if self.lens else 0}x"
                    f"{self.lens.height if self.lens else 0} but camera {self.camera} records "
                    f"{width}x{height} (leave size= out to take the camera's)"
                )
            self.lens = world_lens(self.camera, width, height)
        elif not simulated_world:
            if self.lens_is_world:  # a camera merely named like a world camera: the world's lens is not its lens
                self.lens, self.lens_is_world = None, False
            if self.lens is None and calibrated is not None:
                if (calibrated.width, calibrated.height) not in ((width, height), (0, 0)):
                    raise DexumiError(
                        f"{self.spec}: the calibration profile's intrinsics of camera {self.camera} "
                        f"are for {calibrated.width}x{calibrated.height} but it records "
                        f"{width}x{height} (record at that size, or calibrate the camera at this one)"
                    )
                self.lens = calibrated

    def open(self) -> BoardPose:
        if self.opened:
            return self
        if self.lens is None:
            raise DexumiError(
                f"{self.spec}: no intrinsics for camera {self.camera!r} (calibrate it, or use a simulated world camera)"
            )
        self._tracker = BoardTracker(self.lens, self.target, self.tags)
        self._in, self._out = queue.Queue(self._queue_frames), queue.Queue()
        self._stop.clear()
        self.ended = False
        self.clock = PoseClock()
        self._threads = [threading.Thread(target=self._work, name=f"pose-board-{self.camera}", daemon=True)]
        if self.source is not None:
            if not self.source.opened:
                self.source.open()
            self._threads.append(
                threading.Thread(target=self._grab, name=f"pose-board-grab-{self.camera}", daemon=True)
            )
        self.opened = True
        for t in self._threads:
            t.start()
        return self

    def feed(self, frame: CameraFrame | None) -> bool:
        """Hand over one frame of the camera (None: the camera ended). False when the queue was full."""
        try:
            self._in.put_nowait(frame)
            self.fed += frame is not None
            return True
        except queue.Full:
            self.overflows += 1
            now = time.monotonic()
            if now - self._warned >= 1.0:  # once a second: a tracker behind a 30 fps camera would log 30 lines
                self._warned = now
                log.warning(
                    "%s: tracking is behind, frame %s not tracked (%d so far)",
                    self.spec,
                    None if frame is None else frame.index,
                    self.overflows,
                )
            return False

    def _grab(self) -> None:
        while not self._stop.is_set():
            frame = self.source.read()
            self._in.put(frame)  # blocking: a camera read by this source itself waits for the tracker
            if frame is None:
                return

    def _work(self) -> None:
        assert self._tracker is not None
        while not self._stop.is_set():
            try:
                frame = self._in.get(timeout=0.2)
            except queue.Empty:
                continue
            if frame is None:
                break
            self._out.put(self.process(frame))
        self._out.put(None)

    def process(self, frame: CameraFrame) -> PoseSample:
        """One frame → one sample (synchronously; the worker thread calls this)."""
        assert self._tracker is not None
        t0 = time.perf_counter()
        res = self._tracker.track(decode(frame))
        self.track_s += time.perf_counter() - t0
        self.frames += 1
        dev = frame.device_time if frame.device_time is not None else frame.grab_time
        host = dev if self.host_clock else frame.grab_time
        mapped = self.clock.add(float(dev), float(host))
        if res.T_target_cam is None:
            return PoseSample(
                int(frame.index), float(dev), float(host), np.full(3, np.nan), np.full(4, np.nan), LOST, 0.0, mapped
            )
        T = res.T_target_cam if self.T_cam_tracked is None else res.T_target_cam @ self.T_cam_tracked
        return PoseSample(
            int(frame.index),
            float(dev),
            float(host),
            T[:3, 3].copy(),
            Rotation.from_matrix(T[:3, :3]).as_quat(),
            res.state,
            res.quality,
            mapped,
        )

    def read(self, timeout: float | None = 1.0) -> PoseSample | None:
        if not self.opened:
            raise DexumiError(f"pose source {self.spec!r} is not open")
        if self.ended:
            return None
        try:
            s = self._out.get(timeout=timeout)
        except queue.Empty:
            return None
        if s is None:
            self.ended = True
        return s

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2.0)
        self._threads = []
        if self.source is not None and self.source.opened:
            self.source.close()
        self.opened = False

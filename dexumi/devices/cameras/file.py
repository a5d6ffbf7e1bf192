"""Replay a video file as if it were a camera: `file:PATH`, at the file's own frame rate, in real time.

MJPEG files (e.g. MJPG .avi) are demuxed with PyAV without decoding: each packet is the frame's JPEG, handed
on byte for byte (pass-through, as from a UVC camera). Other codecs are decoded and re-encoded as JPEG.
Frame k is delivered at `start + (pts_k - pts_0)`; a reader that falls behind gets the frames late but
all of them (a file does not overrun). A file that cannot be decoded is a one-line `DexumiError`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np

from dexumi.devices.cameras.base import CameraSettings, CameraSource
from dexumi.errors import DexumiError
from dexumi.types import CameraFrame

log = logging.getLogger(__name__)


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.splitlines()[0].strip()


class FileCamera(CameraSource):
    """Frames of a video file, paced at its native rate (`realtime=False`: as fast as they are read)."""

    counts_frames = True

    def __init__(
        self, path: str | Path, name: str = "file", realtime: bool = True, loop: bool = False, quality: int = 90
    ) -> None:
        super().__init__(name, f"file:{path}")
        self.path = Path(path)
        self.realtime, self.loop, self.quality = realtime, loop, quality
        self.passthrough = False
        self.start_time = 0.0
        self._container: av.container.InputContainer | None = None
        self._frames: Iterator[tuple[bytes, float]] | None = None
        self._first: tuple[bytes, float] | None = None
        self._index = 0
        self._loop_offset = 0.0
        self._last_pts = 0.0

    # --------------------------------------------------------------------------------------------- open
    def open(self) -> FileCamera:
        if not self.path.is_file():
            raise DexumiError(f"video file {self.path} does not exist")
        self._open_container()
        try:
            self._first = next(self._frames)  # type: ignore[arg-type]
        except StopIteration:
            self.close()
            raise DexumiError(f"video file {self.path} has no frames") from None
        except (av.error.FFmpegError, ValueError) as exc:
            self.close()
            raise DexumiError(f"cannot decode video file {self.path}: {_reason(exc)}") from None
        first = np.frombuffer(self._first[0], np.uint8)
        if self.passthrough and cv2.imdecode(first, cv2.IMREAD_REDUCED_COLOR_8) is None:
            self.close()
            raise DexumiError(f"cannot decode video file {self.path}: its first MJPEG frame is not a valid JPEG")
        self.start_time = time.monotonic()
        self._index = 0
        self._loop_offset = 0.0
        self.opened = True
        g = self.granted
        assert g is not None  # set by _open_container above
        log.info(
            "file camera %s: %dx%d at %.3g fps, %s",
            self.path,
            g.width,
            g.height,
            g.fps,
            "MJPEG pass-through" if self.passthrough else "decoded and re-encoded as JPEG",
        )
        return self

    def _open_container(self) -> None:
        try:
            container = av.open(str(self.path))
        except (av.error.FFmpegError, ValueError, OSError) as exc:
            raise DexumiError(f"cannot decode video file {self.path}: {_reason(exc)}") from None
        if not container.streams.video:
            container.close()
            raise DexumiError(f"cannot decode video file {self.path}: it has no video stream")
        stream = container.streams.video[0]
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        if not fps > 0 or not ctx.width:
            container.close()
            raise DexumiError(f"cannot decode video file {self.path}: no frame rate or frame size in it")
        self.passthrough = ctx.name == "mjpeg"
        self.granted = CameraSettings(int(ctx.width), int(ctx.height), fps, "MJPG" if self.passthrough else ctx.name)
        self._container = container
        self._frames = self._packets(container, stream) if self.passthrough else self._decoded(container, stream)

    def _pts_s(self, pts: int | None, stream: av.video.stream.VideoStream, k: int) -> float:
        if pts is None or stream.time_base is None:
            return k / self.granted.fps  # type: ignore[union-attr]
        return float(pts * stream.time_base)

    def _packets(self, container, stream) -> Iterator[tuple[bytes, float]]:
        k = 0
        for packet in container.demux(stream):
            if packet.size == 0:  # the demuxer's flush packet
                continue
            yield bytes(packet), self._pts_s(packet.pts, stream, k)
            k += 1

    def _decoded(self, container, stream) -> Iterator[tuple[bytes, float]]:
        for k, frame in enumerate(container.decode(stream)):
            ok, buf = cv2.imencode(".jpg", frame.to_ndarray(format="bgr24"), [cv2.IMWRITE_JPEG_QUALITY, self.quality])
            if not ok:
                raise DexumiError(f"{self.path}: JPEG encoding of frame {k} failed")
            yield buf.tobytes(), self._pts_s(frame.pts, stream, k)

    # --------------------------------------------------------------------------------------------- read
    def _next_frame(self) -> tuple[bytes, float] | None:
        if self._first is not None:
            item, self._first = self._first, None
            return item
        assert self._frames is not None
        try:
            return next(self._frames)
        except StopIteration:
            pass
        except (av.error.FFmpegError, ValueError) as exc:
            log.warning("file camera %s: stopped at frame %d: %s", self.path, self._index, _reason(exc))
            return None
        if not self.loop:
            return None
        self._loop_offset += self._last_pts + self.granted.period_s  # type: ignore[union-attr]
        self._container.close()  # type: ignore[union-attr]
        self._open_container()
        return self._next_frame()

    def read(self) -> CameraFrame | None:
        if not self.opened:
            raise DexumiError(f"camera {self.spec!r} is not open")
        item = self._next_frame()
        if item is None:
            return None
        data, pts = item
        if self._index == 0:
            self._pts0 = pts
        self._last_pts = pts - self._pts0
        t = self._loop_offset + self._last_pts
        if self.realtime:
            delay = self.start_time + t - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        g = self.granted
        assert g is not None
        frame = CameraFrame(self.name, self._index, time.monotonic(), data, "jpeg", g.width, g.height, t)
        self._index += 1
        return frame

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
        self._frames = None
        self.opened = False

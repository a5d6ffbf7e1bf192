"""H.264 MP4 writing with PyAV (libx264): frames in, exact pts = frame number / fps."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from dexumi.errors import DexumiError


def even(size: tuple[int, int]) -> tuple[int, int]:
    """yuv420p needs even dimensions."""
    return (size[0] + size[0] % 2, size[1] + size[1] % 2)


def to_i420(rgb: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) -> planar yuv420p (H * 3/2, W), BT.601 limited range as swscale's default; OpenCV does it
    in a quarter of the time PyAV's rgb24 reformat takes at export sizes (and releases the GIL). Luma equals
    swscale's to within rounding, chroma differs by < 1 level on average (its 2x2 averaging)."""
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)


#: x264 motion search on top of the veryfast preset: diamond search, subpixel refinement 1 (superfast's
#: search; the rest of veryfast - lookahead, mb-tree - stays, without which small noisy frames take 4x the
#: bytes). 45 % less encoder CPU at 224x224; decoded frames within 47 dB PSNR of veryfast's, as close to the
#: source (docs/performance.md, day's folder)
FAST_MOTION = "me=dia:subme=1"


class H264Writer:
    """Append RGB frames (H, W, 3) to an MP4; `close()` flushes the encoder. Frame i is shown at i / fps."""

    def __init__(
        self,
        path: str | Path,
        size: tuple[int, int],
        fps: float,
        crf: int = 23,
        preset: str = "veryfast",
        gop: int | None = None,
        x264_params: str = FAST_MOTION,
    ) -> None:
        if size[0] % 2 or size[1] % 2:
            raise DexumiError(f"H.264 needs even frame sizes, not {size[0]}x{size[1]}")
        self.path = Path(path)
        rate = Fraction(fps).limit_denominator(1001)
        self.container = av.open(str(self.path), mode="w")
        self.stream = self.container.add_stream("libx264", rate=rate)
        self.stream.width, self.stream.height = size
        self.stream.pix_fmt = "yuv420p"
        self.stream.time_base = 1 / rate
        self.stream.codec_context.time_base = 1 / rate
        # a fixed thread count: x264's output depends on it, and "auto" follows the machine (and its load
        # through the lookahead), so the same export could differ byte for byte between runs or hosts. One
        # thread: each camera is encoded in its own Python thread already, and x264's frame threads cost
        # ~30 % more CPU at export sizes (synchronisation) for no extra throughput on 2 cores
        opts: dict[str, object] = {
            "crf": str(crf),
            "preset": preset,
            "g": str(gop or max(1, int(round(fps)))),
            "bf": "0",
            "threads": "1",
        }
        if x264_params:
            opts["x264-params"] = x264_params
        self.stream.options = opts
        self.n = 0
        self.size = size

    def write(self, rgb: np.ndarray) -> None:
        if rgb.shape[1] != self.size[0] or rgb.shape[0] != self.size[1]:
            raise ValueError(f"frame {rgb.shape[1]}x{rgb.shape[0]} does not match the video {self.size}")
        frame = av.VideoFrame.from_ndarray(to_i420(rgb), format="yuv420p")
        frame.pts = self.n
        frame.time_base = self.stream.codec_context.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.n += 1

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def count_frames(path: str | Path) -> int:
    """Frames in a video, by decoding it (container metadata can lie)."""
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))

"""The H.264 writer's OpenCV colour conversion gives the videos PyAV's own rgb24 conversion gave."""

from __future__ import annotations

import av
import cv2
import numpy as np

from dexumi.export.video import H264Writer, to_i420


class PyAVConversion(H264Writer):
    """The writer as it was: PyAV converts rgb24 to yuv420p inside the encoder (swscale)."""

    def write(self, rgb: np.ndarray) -> None:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.n
        frame.time_base = self.stream.codec_context.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.n += 1


def frames(n: int = 30) -> list[np.ndarray]:
    rng = np.random.default_rng(5)
    out = []
    for k in range(n):
        img = np.full((224, 224, 3), (30, 60, 90), np.uint8)
        cv2.rectangle(img, (10 + 4 * k, 60), (90 + 4 * k, 170), (220, 40, 40), -1)
        cv2.circle(img, (160, 60 + 2 * k), 30, (40, 200, 80), -1)
        out.append(cv2.add(img, rng.integers(0, 12, img.shape, dtype=np.uint8)))
    return out


def decoded(path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.array([f.to_ndarray(format="rgb24") for f in c.decode(video=0)], np.int16)


def test_luma_as_swscale_and_videos_equal(tmp_path):
    src = frames()
    y_old = np.array(
        [av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p").to_ndarray() for f in src], np.int16
    )
    y_new = np.array([to_i420(f) for f in src], np.int16)
    assert y_new.shape == y_old.shape
    assert np.abs(y_new[:, :224] - y_old[:, :224]).max() <= 1  # luma: rounding only
    assert np.abs(y_new[:, 224:] - y_old[:, 224:]).mean() < 2.5  # chroma: 2x2 averaging vs swscale's filter
    # (1.8 on these hard colour edges; < 0.3 on camera frames)
    for cls, name in ((H264Writer, "new.mp4"), (PyAVConversion, "old.mp4")):
        with cls(tmp_path / name, (224, 224), 15) as w:
            for f in src:
                w.write(f)
    new, old, ref = decoded(tmp_path / "new.mp4"), decoded(tmp_path / "old.mp4"), np.array(src, np.int16)
    assert new.shape == old.shape == ref.shape
    err_new, err_old = np.abs(new - ref).mean(), np.abs(old - ref).mean()
    assert np.abs(new - old).mean() < err_old  # the two differ by less than either differs from the source
    assert err_new <= 1.05 * err_old + 0.1, (err_new, err_old)  # and are as faithful (3.81 vs 3.81 here)

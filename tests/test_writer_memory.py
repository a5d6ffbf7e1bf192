"""The episode writer's memory stays flat: an hour-long episode must not grow the recorder (issue 19).

HDF5 caches chunks per dataset. With the file-wide 4 MB each appended 1 kHz stream held its finished chunks
until the cache was full (~5 MB/min of growth for the first half hour); a JPEG dataset's cache sized to one
chunk made every frame's write re-read the chunk's frames: writing fell behind and the frames queued
(+377 MB/min in the recorder benchmark; a timing effect this test does not see). Measured here on the real writer:
four minutes of a 16-channel 1 kHz board and a 30 fps camera in 50 ms ticks (the recorder's pace), RSS
sampled after each minute."""

from __future__ import annotations

import h5py
import numpy as np
import psutil
import pytest

from dexumi.episode.layout import CameraLayout, EncoderLayout, EpisodeMeta
from dexumi.episode.writer import EpisodeWriter
from dexumi.types import CameraFrame, EncoderBatch


@pytest.mark.slow  # ~25 s on a quiet machine, a minute under load
def test_four_minutes_of_encoder_data_leave_memory_flat(tmp_path):
    channels, rate, tick = 16, 1000, 50
    path = tmp_path / "episode_0001.h5.partial"
    w = EpisodeWriter(
        path,
        EpisodeMeta(number=1),
        EncoderLayout(channels, tuple(f"j{i}" for i in range(channels)), float(rate)),
        [CameraLayout("wrist0", 640, 480, fps=30)],
    )
    blob = b"\xff\xd8" + np.random.default_rng(0).integers(0, 255, 30_000, np.uint8).tobytes()  # a frame's bytes
    proc = psutil.Process()
    rss = []
    raw = np.zeros((tick, channels), np.int32)
    for k in range(4 * 60 * rate // tick):
        idx = np.arange(k * tick, (k + 1) * tick)
        t = 100.0 + idx / rate
        w.append_encoder([EncoderBatch(idx, idx * 1000, t, t, raw + k, np.sin(t)[:, None] + raw, 0)])
        frames = [
            CameraFrame("wrist0", 3 * k // 2 + j, t[0] + j / 30, blob, "jpeg", 640, 480)
            for j in range((3 * (k + 1)) // 2 - (3 * k) // 2)
        ]  # 30 fps in 50 ms ticks
        if frames:
            w.append_frames("wrist0", frames)
        w.maybe_flush()
        if (k + 1) % (60 * rate // tick) == 0:
            rss.append(proc.memory_info().rss / 2**20)
    w.close_partial()
    with h5py.File(path, "r") as f:
        assert f["raw/encoder/index"].shape[0] == 4 * 60 * rate
    growth = rss[-1] - rss[0]  # minutes 1 → 4; the first minute holds the start-up (chunks, heaps, numpy)
    assert growth < 2.0, f"writer memory grew {growth:.1f} MB over 3 minutes of data (RSS by minute: {rss})"

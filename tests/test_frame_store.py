"""CameraFrameStore: JPEG bytes stored as sent, per-frame arrays, small batches, readable while written."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from dexumi.finger_bars import HandRenderer, read_frame_number
from dexumi.episode.frames import LAYOUT, CameraFrameStore, LazyFrames, frame_count, read_frame, read_jpeg
from dexumi.errors import DexumiError
from dexumi.types import CameraFrame


def make_frames(n: int, start: int = 0, size=(320, 200)) -> list[CameraFrame]:
    r = HandRenderer(*size)
    return [
        CameraFrame(
            "wrist",
            start + k,
            10.0 + (start + k) / 30,
            r.jpeg(np.full(5, 0.1 * k), start + k),
            "jpeg",
            size[0],
            size[1],
        )
        for k in range(n)
    ]


def test_bytes_times_and_indices_round_trip(tmp_path):
    frames = make_frames(21)
    with h5py.File(tmp_path / "e.h5", "w", libver="latest") as f:
        store = CameraFrameStore(f.create_group("cameras"), "wrist", 320, 200, "jpeg", batch_frames=8)
        store.append(frames[:5], [f_.grab_time - 0.04 for f_ in frames[:5]])
        assert store.count == 5 and store.written == 0  # pending: written in small batches
        store.append(frames[5:], np.array([f_.grab_time - 0.04 for f_ in frames[5:]]))
        assert store.written == 16 and store.count == 21
        store.flush()
        assert store.written == 21
    with h5py.File(tmp_path / "e.h5", "r") as f:
        g = f["cameras/wrist"]
        assert g.attrs["layout"] == LAYOUT and g.attrs["width"] == 320 and g.attrs["encoding"] == "jpeg"
        assert frame_count(g) == 21
        assert all(read_jpeg(g, i) == frames[i].data for i in range(21))
        np.testing.assert_array_equal(g["index"][:], np.arange(21))
        np.testing.assert_allclose(g["mapped_time"][:], g["grab_time"][:] - 0.04)
        assert read_frame_number(read_frame(g, 7, reduce=2)) == 7
        lazy = LazyFrames(g, reduce=4)
        assert len(lazy) == 21 and lazy[-1].shape == (50, 80, 3)


def test_swmr_reader_sees_rows_as_they_are_flushed(tmp_path):
    path = tmp_path / "live.h5"
    f = h5py.File(path, "w", libver="latest")
    store = CameraFrameStore(f, "wrist", 320, 200, batch_frames=4)
    f.swmr_mode = True  # nothing is created after this point
    reader = h5py.File(path, "r", libver="latest", swmr=True)
    try:
        seen = []
        for chunk in range(3):
            frames = make_frames(6, start=6 * chunk)
            store.append(frames, [x.grab_time for x in frames])
            store.flush()
            g = reader["wrist"]
            for ds in g.values():
                ds.refresh()
            seen.append(frame_count(g))
            assert read_jpeg(g, seen[-1] - 1) == frames[-1].data
        assert seen == [6, 12, 18]
    finally:
        reader.close()
        f.close()


def test_decoded_frames_are_encoded_and_existing_groups_continued(tmp_path, caplog):
    img = HandRenderer(160, 120).render(np.zeros(5), 3)
    with h5py.File(tmp_path / "e.h5", "w") as f:
        store = CameraFrameStore(f, "cam", 160, 120)
        store.append([CameraFrame("cam", 0, 1.0, img, "bgr", 160, 120)], [1.0])
        store.flush()
        assert "no pass-through" in caplog.text
        again = CameraFrameStore(f, "cam", 160, 120)  # continue after a restart of the writer
        assert again.count == 1
        again.append(make_frames(2, start=1, size=(160, 120)), [2.0, 3.0])
        again.flush()
        assert frame_count(f["cam"]) == 3 and read_frame_number(read_frame(f["cam"], 0)) == 3
        f.create_group("other")
        with pytest.raises(DexumiError, match="not a camera frame group"):
            CameraFrameStore(f, "other", 1, 1)
        with pytest.raises(ValueError):
            again.append(make_frames(2), [1.0])


def test_memory_stays_bounded_by_the_batch(tmp_path):
    with h5py.File(tmp_path / "e.h5", "w") as f:
        store = CameraFrameStore(f, "cam", 320, 200, batch_frames=1000, batch_bytes=50_000)
        frames = make_frames(40)
        for fr in frames:
            store.append([fr], [fr.grab_time])
            assert store._pending_bytes < 50_000
        assert store.written > 0


def test_equal_length_jpegs_in_one_batch(tmp_path):
    """h5py turns a slice of equal-length blobs into a 2-D array; the store must write them one by one."""
    import h5py
    import numpy as np

    from dexumi.episode.frames import CameraFrameStore, frame_count, read_jpeg
    from dexumi.types import CameraFrame

    blobs = [bytes([0xFF, 0xD8, i, 0xFF, 0xD9]) for i in range(5)]  # all five bytes long
    with h5py.File(tmp_path / "f.h5", "w") as f:
        store = CameraFrameStore(f, "cam", 4, 4, batch_frames=16)
        frames = [CameraFrame("cam", i, float(i), b, "jpeg", 4, 4) for i, b in enumerate(blobs)]
        store.append(frames, np.arange(5.0))
        store.flush()
        assert frame_count(f["cam"]) == 5
        assert [read_jpeg(f["cam"], i) for i in range(5)] == blobs

"""Recovery copies only rows that lie before the file's stored end (EOA), not merely inside its size.

A writer killed between SWMR flushes has written heap collections after the EOA its last flush published,
and the published frame index can point at them: HDF5 then refuses those rows ("len not positive after
adjustment for EOA") although the bytes are in the file, and not necessarily only the last rows (a small
frame can go into an earlier collection with room). Seen in CI as a kill -9 run that could not be recovered.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from dexumi.episode import schema as S
from dexumi.episode.heapcheck import REF, readable_prefix, readable_rows, stored_end
from dexumi.episode.reader import Episode
from dexumi.episode.recover import recover_file
from tests.test_episode_format import write_episode

MOVED_ROW = 10


def _move_heap_past_eoa(path, camera: str, row: int) -> None:
    """Copy the heap collection of `camera`'s frame `row` to after the file's end and point the row at the copy:
    the file's EOA stays where it was, so the row's bytes are in the file but beyond what HDF5 will read."""
    with h5py.File(path, "r") as f:
        ds = f[f"{S.CAMERAS}/{camera}/{S.FRAMES}"]
        assert ds.compression is None and ds.chunks[0] > row
        chunk_at = ds.id.get_chunk_info(0).byte_offset
    data = bytearray(path.read_bytes())
    ref_at = chunk_at + row * REF.itemsize
    ref = np.frombuffer(bytes(data[ref_at : ref_at + REF.itemsize]), REF)[0]
    addr = int(ref["addr"])
    assert data[addr : addr + 4] == b"GCOL"
    size = int.from_bytes(data[addr + 8 : addr + 16], "little")
    moved_to = len(data)
    data += data[addr : addr + size]
    data[ref_at + 4 : ref_at + 12] = moved_to.to_bytes(8, "little")
    path.write_bytes(bytes(data))


def test_stored_end_is_the_superblock_eoa(tmp_path):
    write_episode(tmp_path / "episode_0001.h5.partial", 1.0, finalize=False).close_partial()
    p = tmp_path / "episode_0001.h5.partial"
    size = p.stat().st_size
    assert stored_end(p) == size  # closed cleanly: allocation ends at the file's end
    _move_heap_past_eoa(p, "a", MOVED_ROW)
    assert p.stat().st_size > size and stored_end(p) == size
    (tmp_path / "short.h5").write_bytes(b"\x89HDF\r\n")  # too short for a superblock: the size bounds it
    assert stored_end(tmp_path / "short.h5") == 6


def test_recovery_stops_at_a_frame_whose_heap_lies_past_the_stored_end(tmp_path):
    w = write_episode(tmp_path / "episode_0002.h5.partial", 1.0, finalize=False)
    w.close_partial()
    p = tmp_path / "episode_0002.h5.partial"
    with h5py.File(p, "r") as f:
        original = [bytes(x) for x in f[f"{S.CAMERAS}/a/{S.FRAMES}"][:]]
    n = len(original)
    _move_heap_past_eoa(p, "a", MOVED_ROW)
    with h5py.File(p, "r") as f:  # the condition CI met: a middle row HDF5 refuses, the last one reads
        ds = f[f"{S.CAMERAS}/a/{S.FRAMES}"]
        with pytest.raises(OSError, match="EOA"):
            ds[MOVED_ROW]
        assert bytes(ds[n - 1]) == original[-1]
        assert readable_rows(ds) == MOVED_ROW
        assert readable_prefix(f[f"{S.CAMERAS}/a"], [S.FRAMES, *S.CAMERA_FIELDS]) == MOVED_ROW
    res = recover_file(p)
    assert res.action == "recovered" and res.camera_frames == {"a": MOVED_ROW, "b": n}, res
    with Episode.open(res.path) as ep:
        assert ep.state == "recovered"
        assert [bytes(x) for x in ep.f[f"{S.CAMERAS}/a/{S.FRAMES}"][:]] == original[:MOVED_ROW]
    assert not p.exists()


def test_a_file_being_written_has_every_row_readable(tmp_path):
    """The writer's own handle (finalising runs the latency check on it): its superblock on disk is that of
    the last flush, so every row written since would count as past the end unless the file is flushed."""
    with h5py.File(tmp_path / "live.h5", "w", libver="latest") as f:
        ds = f.create_dataset("jpeg", (0,), maxshape=(None,), chunks=(8,), dtype=h5py.vlen_dtype(np.uint8))
        rng = np.random.default_rng(0)
        for i in range(40):
            ds.resize((i + 1,))
            ds[i] = rng.integers(0, 255, 3000, dtype=np.uint8)
        assert readable_rows(ds) == 40
        assert readable_prefix(f, ["jpeg"]) == 40


def test_a_row_band_is_readable_only_if_every_column_chunk_of_it_is(tmp_path):
    """Another tool's file may chunk a table across its columns: a band of rows needs all of its chunks."""
    p = tmp_path / "columns.h5"
    with h5py.File(p, "w") as f:
        ds = f.create_dataset("t", shape=(40, 8), maxshape=(None, 8), chunks=(10, 4), dtype="f8")
        for band in range(4):  # band 2 writes its right-hand chunk first: its left one lies later in the file
            halves = (slice(4, 8), slice(0, 4)) if band == 2 else (slice(0, 4), slice(4, 8))
            for cols in halves:
                ds[band * 10 : band * 10 + 10, cols] = band
                f.flush()
    with h5py.File(p, "r") as f:
        ds = f["t"]
        infos = [ds.id.get_chunk_info(i) for i in range(ds.id.get_num_chunks())]
        left_of_band_2 = next(c for c in infos if tuple(c.chunk_offset) == (20, 0))
        right_of_band_2 = next(c for c in infos if tuple(c.chunk_offset) == (20, 4))
        assert left_of_band_2.byte_offset > right_of_band_2.byte_offset
        assert readable_rows(ds) == 40
        # the stored end falls inside band 2's left chunk, after its right one: rows 20.. are not whole
        assert readable_rows(ds, end=left_of_band_2.byte_offset + left_of_band_2.size - 1) == 20
        assert readable_rows(ds, end=right_of_band_2.byte_offset + right_of_band_2.size - 1) == 20

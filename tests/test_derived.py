"""Derived files beside an episode: published atomically, never over foreign data, stale ones refused."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from dexumi.episode import derived
from dexumi.errors import DexumiError
from dexumi.validate.paths import expand
from tests.test_episode_format import write_episode


def _fill(values):
    def write(f: h5py.File) -> None:
        f.create_dataset("values", data=np.asarray(values, float))

    return write


def test_round_trip_beside_the_episode(tmp_path):
    ep = write_episode(tmp_path / "episode_0001.h5.partial")
    before = ep.read_bytes()
    out = derived.write_derived(ep, "pose-board", _fill([1, 2, 3]), attrs={"method": "board"})
    assert out == tmp_path / "episode_0001.derived" / "pose-board.h5"
    assert ep.read_bytes() == before  # the raw episode is never written
    assert derived.list_derived(ep) == ["pose-board"] and derived.is_fresh(ep, "pose-board")
    with derived.open_derived(ep, "pose-board") as f:
        assert f.attrs["format"] == "dexumi-derived" and f.attrs["method"] == "board"
        assert f["values"][:].tolist() == [1.0, 2.0, 3.0]
    # folder commands still see exactly one episode
    assert expand([tmp_path]).files == [ep]


def test_no_overwrite_without_force_and_never_foreign(tmp_path):
    ep = write_episode(tmp_path / "episode_0002.h5.partial")
    derived.write_derived(ep, "visual", _fill([1]))
    with pytest.raises(DexumiError, match="already exists"):
        derived.write_derived(ep, "visual", _fill([2]))
    derived.write_derived(ep, "visual", _fill([2]), force=True)
    with derived.open_derived(ep, "visual") as f:
        assert f["values"][:].tolist() == [2.0]
    foreign = derived.derived_path(ep, "other")
    foreign.write_bytes(b"someone's file")
    with pytest.raises(DexumiError, match="not written by this command"):
        derived.write_derived(ep, "other", _fill([3]), force=True)
    assert foreign.read_bytes() == b"someone's file"


def test_stale_after_the_episode_changes(tmp_path):
    ep = write_episode(tmp_path / "episode_0003.h5.partial")
    derived.write_derived(ep, "pose-sfm", _fill([1]))
    with h5py.File(ep, "a") as f:  # an edit (e.g. a trim) changes the content
        f.attrs["notes"] = "edited " * 200
        f.create_dataset("pad", data=np.zeros(300_000))
    assert not derived.is_fresh(ep, "pose-sfm")
    with pytest.raises(DexumiError, match="different version"):
        with derived.open_derived(ep, "pose-sfm"):
            pass
    with derived.open_derived(ep, "pose-sfm", allow_stale=True) as f:
        assert f["values"][0] == 1.0


def test_bad_kind_and_missing_are_one_line(tmp_path):
    ep = write_episode(tmp_path / "episode_0004.h5.partial")
    with pytest.raises(DexumiError, match="derived kind"):
        derived.derived_path(ep, "../evil")
    with pytest.raises(DexumiError, match="no derived 'pose'"):
        with derived.open_derived(ep, "pose"):
            pass

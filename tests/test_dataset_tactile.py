"""dexumi.dataset.EpisodeDataset on a multi-device episode with an FSR tactile board (issue 17): per-board touch
keys, as recorded and baseline-subtracted as the exports do, with the valid mask, equal to what the file holds."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from dexumi.dataset import EpisodeDataset
from dexumi.errors import DexumiError

from test_validate_util import recorded_touch, run

ROLE = "tactile_right"


@pytest.fixture(scope="module")
def episode(tmp_path_factory):
    return recorded_touch(tmp_path_factory)


def _file(path) -> tuple[np.ndarray, np.ndarray]:
    with h5py.File(path) as f:
        return f["observations/right/tactile"][:], f["observations/right/tactile_valid"][:].astype(bool)


def test_touch_keys_equal_the_files_readings(episode, tmp_path):
    p = shutil.copy(episode, tmp_path / "episode_0001.h5")
    clean, _ = _file(p)
    k = 2  # the board's first valid reading below
    assert np.abs(clean[k:, 12:] - clean[k, 12:]).max() > 100  # the fingertips' readings move (a touch)
    with h5py.File(p, "r+") as f:  # the board not valid before instant k, reading junk there
        v, ok = f["observations/right/tactile_valid"], f["observations/right/tactile"]
        v[:k] = 0
        x = ok[:]
        x[:k] = 7.0
        ok[...] = x
    vals, valid = _file(p)
    assert valid[k:].all() and not valid[:k].any()
    ds = EpisodeDataset(p, obs_horizon=3, action_horizon=2, cameras=[], image_reduce=8)
    assert ds.tactile_names[ROLE][12:] == ["tactile_right.fsr_low", "tactile_right.fsr_high"]
    assert len(ds.tactile_names[ROLE]) == vals.shape[1] == 14
    for t in sorted({0, k, k + 1, len(vals) // 2, len(vals) - 1}):
        x = ds[t]
        hist = np.clip(np.arange(t - 2, t + 1), 0, len(vals) - 1)
        assert x[f"obs.tactile.{ROLE}"].shape == (3, 14) and x[f"obs.tactile.{ROLE}"].dtype == np.float32
        np.testing.assert_array_equal(x[f"obs.tactile.{ROLE}"], vals[hist])
        np.testing.assert_array_equal(x[f"obs.tactile.{ROLE}.valid"], valid[hist])
        # zeroed on the first valid reading (instant k), as `dexumi export --tactile-baseline` does
        np.testing.assert_allclose(x[f"obs.tactile.{ROLE}.zeroed"], vals[hist] - vals[k], atol=1e-3)
    far = k + int(np.abs(vals[k:, 12:] - vals[k, 12:]).max(axis=1).argmax())
    assert np.abs(ds[far][f"obs.tactile.{ROLE}.zeroed"][-1, 12:]).max() > 100
    assert not ds[0][f"obs.tactile.{ROLE}.valid"].any()
    none = EpisodeDataset(p, cameras=[], include_tactile=False)
    assert not [k for k in none[0] if "tactile" in k]


def test_a_trimmed_episode_gives_its_kept_part_and_its_own_baseline(episode, tmp_path):
    p = shutil.copy(episode, tmp_path / "episode_0001.h5")
    e = run("edit", p, "--trim", 1.0, 0)
    assert e.returncode == 0, e.stderr
    vals, valid = _file(p)
    with h5py.File(p) as f:
        ts = f["timestamps"][:]
    i0 = int(np.searchsorted(ts - ts[0], 1.0 - 1e-9))
    ds = EpisodeDataset(p, cameras=[])
    assert 0 < i0 and len(ds) == len(vals) - i0
    x = ds[3]
    np.testing.assert_array_equal(x[f"obs.tactile.{ROLE}"][-1], vals[i0 + 3])
    np.testing.assert_allclose(x[f"obs.tactile.{ROLE}.zeroed"][-1], vals[i0 + 3] - vals[i0], atol=1e-3)


def test_episodes_with_other_boards_are_refused(episode, tmp_path):
    plain = shutil.copy(episode, tmp_path / "episode_0002.h5")
    with h5py.File(plain, "r+") as f:
        del f["observations/right/tactile"]
    shutil.copy(episode, tmp_path / "episode_0001.h5")
    with pytest.raises(DexumiError, match="tactile boards"):
        EpisodeDataset(tmp_path, cameras=[])


def test_the_dataset_and_a_lerobot_export_agree_on_a_trimmed_episode(episode, tmp_path):
    import json

    import pyarrow.parquet as pq

    p = shutil.copy(episode, tmp_path / "episode_0001.h5")
    assert run("edit", p, "--trim", 1.0, 0).returncode == 0
    out = tmp_path / "lr"
    e = run("export", p, "--to", "lerobot", "--out", out, "--no-progress", "--tactile-baseline")
    assert e.returncode == 0, e.stderr
    fps = json.loads((out / "meta/info.json").read_text())["fps"]
    x = np.array(pq.read_table(next((out / "data").rglob("*.parquet")))[f"observation.tactile.{ROLE}"].to_pylist())
    ds = EpisodeDataset(p, cameras=[])
    ts = ds.episodes[0].timestamps
    near = np.abs(ts[None, :] - (ts[0] + np.arange(len(x)) / fps)[:, None]).argmin(axis=1)
    zeroed = np.stack([ds[int(t)][f"obs.tactile.{ROLE}.zeroed"][-1] for t in near])
    np.testing.assert_allclose(x, zeroed, atol=1e-3)  # the kept part's readings, zeroed on its first one
    assert np.abs(x).max() > 100

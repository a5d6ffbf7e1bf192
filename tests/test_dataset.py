"""dexumi.dataset.EpisodeDataset: windows, padding masks, values equal to the episode's, plain-loop iteration."""

from __future__ import annotations

import numpy as np
import pytest

from dexumi.dataset import EpisodeDataset
from dexumi.episode.reader import Episode
from dexumi.errors import DexumiError
from test_validate_util import recorded


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return recorded(tmp_path_factory)


def test_windows_and_padding(folder):
    ds = EpisodeDataset(folder, obs_horizon=3, action_horizon=5, image_reduce=8)
    with Episode.open(folder / "episode_0001.h5") as ep:
        T1, act, q = len(ep), ep.action, ep.qpos
        img = ep.raw_image("wrist0", int(ep.image_indices("wrist0")[0]), 8)[..., ::-1]
    with Episode.open(folder / "episode_0002.h5") as ep:
        T2 = len(ep)
    assert len(ds) == T1 + T2
    x = ds[0]
    assert x["obs_is_pad"].tolist() == [True, True, False]
    assert x["action_is_pad"].tolist() == [False] * 5
    np.testing.assert_array_equal(x["action"], act[0:5])
    np.testing.assert_array_equal(x["obs.qpos"][2], q[0])
    np.testing.assert_array_equal(x["obs.qpos"][0], q[0])  # padding repeats the first observation
    np.testing.assert_array_equal(x["obs.images.wrist0"][2], img)
    assert x["obs.images.wrist0"].shape == (3, 60, 80, 3) and x["obs.images.wrist0"].dtype == np.uint8
    y = ds[T1 - 2]  # near the end of episode 1
    assert y["action_is_pad"].tolist() == [False, False, True, True, True]
    np.testing.assert_array_equal(y["action"][2:], np.repeat(act[-1:], 3, axis=0))
    assert ds[T1]["episode"] == 1 and ds[T1]["frame"] == 0
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_plain_loop_batches(folder):
    ds = EpisodeDataset(
        [folder / "episode_0001.h5"], obs_horizon=2, action_horizon=4, cameras=["wrist1"], image_size=(32, 24)
    )
    batch = [ds[i] for i in range(0, len(ds), 7)]
    stacked = {k: np.stack([b[k] for b in batch]) for k in batch[0]}
    assert stacked["obs.images.wrist1"].shape == (len(batch), 2, 24, 32, 3)
    assert np.isfinite(stacked["action"]).all()
    state = ds.__getstate__()
    assert state["_open"] == {}  # nothing unpicklable crosses into DataLoader workers


def test_bad_input(tmp_path):
    with pytest.raises(DexumiError):
        EpisodeDataset(tmp_path)
    with pytest.raises(DexumiError):
        EpisodeDataset(tmp_path / "missing")

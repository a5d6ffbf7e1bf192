"""dexumi export: frame counts and values match the source in every format; resampling grid; bad input;
refusal to overwrite; mixed hand models."""

from __future__ import annotations

import json

import av
import cv2
import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest

from dexumi.episode.reader import Episode
from dexumi.errors import DexumiError
from dexumi.export import ExportOptions, export_paths
from dexumi.export.source import nearest
from dexumi.export.video import count_frames
from test_validate_util import copy, modify, recorded, run


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return recorded(tmp_path_factory)


def source(path, fps):
    """The expected export of one episode, computed independently: grid, action = the interpolated state one
    grid step later (the last repeated), image indices."""
    with Episode.open(path) as ep:
        ts, q = ep.timestamps, ep.qpos
        K = int(np.floor((ts[-1] - ts[0]) * fps + 1e-6)) + 1
        grid = ts[0] + np.arange(K) / fps
        qg = np.stack([np.interp(grid, ts, q[:, j]) for j in range(q.shape[1])], axis=1)
        a = np.concatenate([qg[1:], qg[-1:]])
        near = nearest(ts, grid)
        img = {c: ep.image_indices(c)[near] for c in ep.cameras}
        first = {c: cv2.cvtColor(ep.raw_image(c, int(img[c][0])), cv2.COLOR_BGR2RGB) for c in ep.cameras}
    return K, a, img, first


@pytest.fixture(scope="module")
def exports(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("exports")
    res = {}
    for fmt in ("act", "robomimic", "lerobot"):
        res[fmt] = export_paths([folder], ExportOptions(fmt, out / fmt, progress=False))
    return out, res


def test_act_matches_source(folder, exports):
    out, res = exports
    assert len(res["act"].episodes) == 2
    eps = sorted(folder.glob("episode_*.h5"))
    L = max(source(ep, 30.0)[0] for ep in eps)
    for i, ep in enumerate(eps):
        K, a, _, first = source(ep, 30.0)
        with h5py.File(out / "act" / f"episode_{i}.hdf5", "r") as f:
            assert f.attrs["sim"] == False  # noqa: E712 - numpy bool
            # one common length (ACT's get_norm_stats stacks episodes); padding repeats the last frame, flagged
            assert f["action"].shape == (L, a.shape[1]) and f["observations/qpos"].shape[0] == L
            np.testing.assert_allclose(f["action"][:K], a, atol=1e-5)
            assert f["is_pad"][:].tolist() == [False] * K + [True] * (L - K)
            np.testing.assert_array_equal(f["action"][K:], np.repeat(f["action"][K - 1 : K], L - K, axis=0))
            assert json.loads(f.attrs["export"])["action"]["rule"] == "next_state"
            assert "exo_joints" not in f["observations"] and "privileged_exo_joints" not in f["observations"]
            for cam, img in first.items():
                ds = f[f"observations/images/{cam}"]
                assert ds.dtype == np.uint8 and ds.shape == (L, 480, 640, 3) and ds.chunks == (1, 480, 640, 3)
                np.testing.assert_array_equal(ds[0], img)


def test_robomimic_matches_source(folder, exports):
    out, res = exports
    with h5py.File(out / "robomimic" / "dataset.hdf5", "r") as f:
        data = f["data"]
        norm = json.loads(data.attrs["action_normalization"])
        assert norm["source"] == "joint_limits:inspire_like"
        env = json.loads(data.attrs["env_args"])
        assert env["env_name"] == "dexumi_inspire_like"
        total = 0
        for i, ep in enumerate(sorted(folder.glob("episode_*.h5"))):
            K, a, _, first = source(ep, 30.0)
            g = data[f"demo_{i}"]
            assert g.attrs["num_samples"] == K
            act = g["actions"][:]
            assert np.abs(act).max() <= 1.0
            lo, hi = np.array(norm["low"]), np.array(norm["high"])
            np.testing.assert_allclose(lo + (act + 1) * (hi - lo) / 2, a, atol=1e-5)
            for key in ("rewards", "dones", "states"):
                assert g[key].shape[0] == K
            assert g["dones"][-1] == 1
            cam = sorted(first)[0]
            np.testing.assert_array_equal(g[f"obs/{cam}_image"][0], first[cam])
            np.testing.assert_array_equal(g[f"next_obs/{cam}_image"][0], g[f"obs/{cam}_image"][1])
            np.testing.assert_array_equal(g["next_obs/qpos"][:-1], g["obs/qpos"][1:])
            total += K
        assert data.attrs["total"] == total
        train = [x.decode() for x in f["mask/train"][:]]
        valid = [x.decode() for x in f["mask/valid"][:]]
        assert sorted(train + valid) == ["demo_0", "demo_1"] and len(valid) == 1


def test_lerobot_layout_and_values(folder, exports):
    out, res = exports
    root = out / "lerobot"
    info = json.loads((root / "meta/info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["fps"] == 30 and info["total_episodes"] == 2
    t = pq.read_table(root / "data/chunk-000/file-000.parquet").to_pydict()
    assert info["total_frames"] == len(t["index"]) == res["lerobot"].frames
    fi = np.array(t["frame_index"])
    assert np.abs(np.array(t["timestamp"], np.float64) - fi / 30).max() < 1e-5
    eps = pq.read_table(root / "meta/episodes/chunk-000/file-000.parquet").to_pylist()
    start = 0
    for i, ep in enumerate(sorted(folder.glob("episode_*.h5"))):
        K, a, _, _ = source(ep, 30.0)
        assert eps[i]["length"] == K and eps[i]["dataset_from_index"] == start
        rows = np.array(t["episode_index"]) == i
        np.testing.assert_allclose(np.array(t["action"])[rows], a, atol=1e-5)
        start += K
    for cam in ("wrist0", "wrist1"):
        for i, e in enumerate(eps):
            mp4 = root / f"videos/observation.images.{cam}/chunk-000/file-{i:03d}.mp4"
            assert count_frames(mp4) == e["length"]
            with av.open(str(mp4)) as c:
                assert c.streams.video[0].codec_context.name == "h264"
    stats = json.loads((root / "meta/stats.json").read_text())
    assert set(stats) >= {"action", "observation.state", "observation.images.wrist0", "timestamp"}
    assert np.array(stats["observation.images.wrist0"]["mean"]).shape == (3, 1, 1)
    assert pq.read_table(root / "meta/tasks.parquet").num_rows == 1


def test_resample_fps_and_size(folder, tmp_path):
    s = export_paths(
        [folder / "episode_0001.h5"], ExportOptions("act", tmp_path / "a", fps=10, image_size=(96, 64), progress=False)
    )
    K, a, _, _ = source(folder / "episode_0001.h5", 10.0)
    with h5py.File(tmp_path / "a/episode_0.hdf5", "r") as f:
        assert f["action"].shape[0] == K == s.frames
        assert f["observations/images/wrist0"].shape == (K, 64, 96, 3)
        np.testing.assert_allclose(f["timestamps"][:], np.arange(K) / 10.0)


def test_refuses_overwrite_and_force(folder, tmp_path):
    out = tmp_path / "ds"
    assert run("export", folder / "episode_0001.h5", "--to", "act", "--out", out).returncode == 0
    marker = out / "mine.txt"
    marker.write_text("keep")
    p = run("export", folder / "episode_0001.h5", "--to", "act", "--out", out)
    assert p.returncode == 2 and "--force" in p.stderr and marker.exists()
    p = run("export", folder / "episode_0001.h5", "--to", "act", "--out", out, "--force")
    assert p.returncode == 0 and not marker.exists() and (out / "episode_0.hdf5").exists()
    assert not list(tmp_path.glob(".ds.*")), "no staging leftovers"


def test_bad_inputs_skipped_others_exported(folder, tmp_path):
    d = tmp_path / "in"
    copy(folder / "episode_0001.h5", d / "episode_0001.h5")
    other = modify(
        copy(folder / "episode_0002.h5", d / "episode_0002.h5"), lambda f: f.attrs.modify("robot_hand", "xhand_like")
    )
    data = (folder / "episode_0002.h5").read_bytes()
    (d / "episode_0003.h5").write_bytes(data[: len(data) // 4])
    (d / "notes.hdf5").write_bytes(b"plain text")
    p = run("export", d, "--to", "robomimic", "--out", tmp_path / "rm")
    assert p.returncode == 1, p.stderr
    err = p.stderr
    assert "Traceback" not in err
    assert f"{other}: robot hand 'xhand_like' differs from 'inspire_like'" in err
    assert "episode_0003.h5" in err and "notes.hdf5" in err
    assert len([ln for ln in err.splitlines() if ln.startswith("dexumi export: skipped:")]) == 3
    with h5py.File(tmp_path / "rm/dataset.hdf5", "r") as f:
        assert list(f["data"]) == ["demo_0"]
    (tmp_path / "empty").mkdir()
    p = run("export", tmp_path / "empty", "--to", "act", "--out", tmp_path / "x")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "no episode files" in p.stderr
    assert not (tmp_path / "x").exists()


def test_failed_export_leaves_nothing(folder, tmp_path, monkeypatch):
    from dexumi.export import act

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(act, "write_episode", boom)
    with pytest.raises(DexumiError, match="no episode could be exported.*disk on fire"):
        export_paths([folder], ExportOptions("act", tmp_path / "out", progress=False))
    assert not any(tmp_path.iterdir())

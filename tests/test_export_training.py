"""Training-ready exports: action = the next step's command (never the state), the rule stored; privileged signals
opt-in; outcome and per-frame validity carried; --only/--exclude; aspect-preserving images; ACT common length and
the compressed variant; zarr layouts; DexUMI import."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest
import zarr

from dexumi.dataset import EpisodeDataset
from dexumi.episode.reader import Episode
from dexumi.export import ExportOptions, export_paths
from test_validate_util import copy, modify, recorded, run


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return recorded(tmp_path_factory)


@pytest.fixture(scope="module")
def day(folder, tmp_path_factory):
    """Episode 1 a failure with frames 10..19 invalid (an encoder gap), episode 2 a success."""
    d = tmp_path_factory.mktemp("day")
    a = copy(folder / "episode_0001.h5", d / "episode_0001.h5")
    b = copy(folder / "episode_0002.h5", d / "episode_0002.h5")

    def gap(f):
        v = f["observations/valid"][:]
        v[10:20] = 0
        f["observations/valid"][...] = v
        f.attrs.modify("outcome", "failure")

    modify(a, gap)
    modify(b, lambda f: f.attrs.modify("outcome", "success"))
    return d


def grid_state(path, fps=30.0):
    with Episode.open(path) as ep:
        ts, q = ep.timestamps, ep.qpos
    K = int(np.floor((ts[-1] - ts[0]) * fps + 1e-6)) + 1
    grid = ts[0] + np.arange(K) / fps
    return np.stack([np.interp(grid, ts, q[:, j]) for j in range(q.shape[1])], axis=1)


def test_recorded_action_is_next_state(folder):
    with Episode.open(folder / "episode_0001.h5") as ep:
        a, q = ep.action, ep.qpos
        rule = ep.stats["action_rule"]
    np.testing.assert_array_equal(a[:-1], q[1:])
    np.testing.assert_array_equal(a[-1], q[-1])
    assert rule["rule"] == "next_state" and rule["horizon"] == 1
    assert np.abs(a - q).max() > 1e-3, "the action must not be a copy of the state"
    item = EpisodeDataset([folder / "episode_0001.h5"], action_horizon=3, cameras=[])[5]
    np.testing.assert_allclose(item["action"], q[6:9], atol=1e-6)


@pytest.fixture(scope="module")
def exports(day, tmp_path_factory):
    out = tmp_path_factory.mktemp("ex")
    res = {}
    for fmt in ("act", "robomimic", "lerobot", "zarr"):
        res[fmt] = export_paths([day], ExportOptions(fmt, out / fmt, image_size=(64, 48), progress=False))
    return out


def test_action_rule_and_validity_in_every_format(day, exports):
    eps = sorted(day.glob("episode_*.h5"))
    q0 = grid_state(eps[0])
    K0 = len(q0)
    expect_action = np.concatenate([q0[1:], q0[-1:]])
    # frames 10..19 of the source invalid → grid instants touching them invalid
    with Episode.open(eps[0]) as ep:
        ts = ep.timestamps - ep.timestamps[0]
    grid = np.arange(K0) / 30.0
    bad = (grid > ts[9] - 1e-9) & (grid < ts[20] + 1e-9)
    bad_exact = ~bad
    with h5py.File(exports / "act/episode_0.hdf5") as f:
        np.testing.assert_allclose(f["action"][:K0], expect_action, atol=1e-5)
        np.testing.assert_allclose(f["observations/qpos"][:K0], q0, atol=1e-5)
        assert json.loads(f.attrs["export"])["action"]["rule"] == "next_state"
        v = f["valid"][:K0]
        assert not v[bad & (grid > ts[10]) & (grid < ts[19])].any() and v[bad_exact].all()
        assert f.attrs["outcome"] == "failure"
    with h5py.File(exports / "robomimic/dataset.hdf5") as f:
        g = f["data/demo_0"]
        np.testing.assert_allclose(g["actions_raw"][:], expect_action, atol=1e-5)
        np.testing.assert_array_equal(g["valid"][:], v.astype(np.uint8))
        masks = {k: sorted(x.decode() for x in f[f"mask/{k}"][:]) for k in f["mask"]}
        assert masks["success"] == ["demo_1"] and masks["failure"] == ["demo_0"] and masks["all_valid"] == ["demo_1"]
        assert "privileged_exo_joints" not in g["obs"] and "exo_joints" not in g["obs"]
        assert json.loads(f["data"].attrs["export"])["action"]["horizon_steps"] == 1
    t = pq.read_table(exports / "lerobot/data/chunk-000/file-000.parquet").to_pydict()
    rows = np.array(t["episode_index"]) == 0
    np.testing.assert_allclose(np.array(t["action"])[rows], expect_action, atol=1e-5)
    np.testing.assert_array_equal(np.array(t["valid"])[rows], v)
    assert "observation.exo_joints" not in t and "observation.privileged.exo_joints" not in t
    ep_meta = pq.read_table(exports / "lerobot/meta/episodes/chunk-000/file-000.parquet").to_pylist()
    assert [e["outcome"] for e in ep_meta] == ["failure", "success"]
    info = json.loads((exports / "lerobot/meta/info.json").read_text())
    assert info["features"]["valid"]["dtype"] == "bool" and info["dexumi_export"]["action"]["rule"] == "next_state"
    root = zarr.open(str(exports / "zarr"), mode="r")
    ends = root["meta/episode_ends"][:]
    np.testing.assert_allclose(root["data/action"][: ends[0]], expect_action, atol=1e-5)
    np.testing.assert_array_equal(root["data/valid"][: ends[0]], v)
    assert root["data/camera0_rgb"].shape == (ends[-1], 48, 64, 3)
    assert root.attrs["dexumi_export"]["action"]["rule"] == "next_state"


def test_privileged_and_horizon_are_opt_in(day, tmp_path):
    s = export_paths(
        [day],
        ExportOptions(
            "lerobot", tmp_path / "l", image_size=(32, 32), privileged=True, action_horizon=3, progress=False
        ),
    )
    assert s.frames > 0
    t = pq.read_table(tmp_path / "l/data/chunk-000/file-000.parquet").to_pydict()
    rows = np.array(t["episode_index"]) == 0
    q = np.array(t["observation.state"])[rows]
    np.testing.assert_allclose(np.array(t["action"])[rows][:-3], q[3:], atol=1e-6)
    assert np.array(t["observation.privileged.exo_joints"]).shape[1] == 6


@pytest.mark.slow  # four exports of the day folder (~25 s)
def test_only_and_exclude(day, folder, tmp_path):
    p = run("export", day, "--to", "act", "--out", tmp_path / "s", "--only", "success", "--image-size", "32x32")
    assert p.returncode == 0, p.stderr
    assert [h5py.File(x).attrs["source"] for x in sorted((tmp_path / "s").glob("episode_*.hdf5"))] == [
        "episode_0002.h5"
    ]
    lst = tmp_path / "suspects.txt"
    lst.write_text("# from dexumi rank --suspects\nepisode_0002.h5   # odd thumb\n\n")
    p = run("export", day, "--to", "act", "--out", tmp_path / "e", "--exclude", lst, "--image-size", "32x32")
    assert p.returncode == 0, p.stderr
    assert [h5py.File(x).attrs["source"] for x in sorted((tmp_path / "e").glob("episode_*.hdf5"))] == [
        "episode_0001.h5"
    ]
    d = tmp_path / "d"
    for f in sorted(folder.glob("episode_*.h5")):
        copy(f, d / f.name)

    def beyond_limits(f):
        q = f["observations/qpos"][:]
        q[5:9] = 10.0  # far outside every joint limit: `dexumi validate` fails it
        f["observations/qpos"][...] = q

    modify(d / "episode_0002.h5", beyond_limits)
    from dexumi.validate import validate_paths

    verdict = {Path(e.path).name: not e.failed() for e in validate_paths([d], workers=1, progress=False).episodes}
    assert verdict["episode_0002.h5"] is False
    p = run("export", d, "--to", "act", "--out", tmp_path / "p", "--only", "passed", "--image-size", "32x32")
    want = [n for n, ok in sorted(verdict.items()) if ok]  # the validator is the ground truth (load can fail one)
    assert p.returncode == (0 if want else 2), p.stderr
    assert [h5py.File(x).attrs["source"] for x in sorted((tmp_path / "p").glob("episode_*.hdf5"))] == want
    p = run("export", day, "--to", "act", "--out", tmp_path / "x", "--exclude", tmp_path / "nope.txt")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "nope.txt" in p.stderr


@pytest.mark.parametrize("fit", ["crop", "pad"])
def test_images_keep_their_aspect_ratio(day, tmp_path, fit):
    export_paths(
        [day / "episode_0002.h5"],
        ExportOptions("act", tmp_path / "a", image_size=(96, 96), image_fit=fit, progress=False),
    )
    with Episode.open(day / "episode_0002.h5") as ep:
        src = cv2.cvtColor(ep.raw_image("wrist0", int(ep.image_indices("wrist0")[0])), cv2.COLOR_BGR2RGB)
    if fit == "crop":  # 640x480 → 128x96, centre 96 columns
        want = cv2.resize(src, (128, 96), interpolation=cv2.INTER_AREA)[:, 16:112]
    else:  # 640x480 → 96x72 centred on black
        want = np.zeros((96, 96, 3), np.uint8)
        want[12:84] = cv2.resize(src, (96, 72), interpolation=cv2.INTER_AREA)
    with h5py.File(tmp_path / "a/episode_0.hdf5") as f:
        got = f["observations/images/wrist0"][0]
    assert np.abs(got.astype(int) - want.astype(int)).mean() < 4.0
    stretched = cv2.resize(src, (96, 96), interpolation=cv2.INTER_AREA)
    assert np.abs(got.astype(int) - stretched.astype(int)).mean() > np.abs(got.astype(int) - want.astype(int)).mean()


def test_act_length_and_compressed_variant(day, tmp_path):
    export_paths(
        [day],
        ExportOptions("act", tmp_path / "c", image_size=(64, 48), act_length=40, act_compress=True, progress=False),
    )
    raw = tmp_path / "r"
    export_paths([day], ExportOptions("act", raw, image_size=(64, 48), act_length=40, progress=False))
    for i in range(2):
        with h5py.File(tmp_path / f"c/episode_{i}.hdf5") as f, h5py.File(raw / f"episode_{i}.hdf5") as g:
            assert f.attrs["compress"] == True and f["action"].shape[0] == 40  # noqa: E712 - numpy bool
            assert f["compress_len"].shape == (2, 40) and not f["is_pad"][:].any()
            row, n = f["observations/images/wrist0"][7], int(f["compress_len"][0, 7])
            img = cv2.imdecode(row[:n], 1)  # what ACT's loader does
            assert np.abs(img.astype(int) - g["observations/images/wrist0"][7].astype(int)).mean() < 3.0


def test_zarr_dexumi_layout_and_import_round_trip(day, tmp_path):
    export_paths([day], ExportOptions("zarr", tmp_path / "z", image_size=(64, 48), layout="dexumi", progress=False))
    root = zarr.open(str(tmp_path / "z"), mode="r")
    assert sorted(root.group_keys()) == ["episode_0", "episode_1"]
    g = root["episode_1"]
    T = g["hand_action"].shape[0]
    np.testing.assert_array_equal(g["hand_action"][:-1], g["proprioception"][1:])
    assert g["camera_0/rgb"].shape == (T, 48, 64, 3) and g.attrs["outcome"] == "success"
    p = run(
        "import",
        "--from",
        "dexumi",
        tmp_path / "z",
        "--out",
        tmp_path / "imp",
        "--robot-hand",
        "inspire_like",
        "--json",
    )
    assert p.returncode == 0, p.stderr
    eps = json.loads(p.stdout)["episodes"]
    assert [e["frames"] for e in eps] == [root["episode_0/hand_action"].shape[0], T]
    assert all(e["clock"] == "import:host_receive" for e in eps)
    with Episode.open(eps[1]["path"]) as ep:
        assert ep.attrs["clock"] == "import:host_receive" and ep.attrs["outcome"] == "success"
        np.testing.assert_allclose(ep.encoder()["angles"], g["proprioception"][:], atol=1e-6)
        np.testing.assert_array_equal(ep.f["raw/imported/hand_action"][:], g["hand_action"][:])
        img = cv2.cvtColor(ep.raw_image("camera_0", 3), cv2.COLOR_BGR2RGB)
        assert np.abs(img.astype(int) - g["camera_0/rgb"][3].astype(int)).mean() < 4.0
    p = run("import", "--from", "dexumi", tmp_path / "z", "--out", tmp_path / "imp")
    assert p.returncode == 2 and "already holds episodes" in p.stderr

"""Non-destructive trim and split (`dexumi edit --trim/--split`) applied by the readers: the episode reader's
window, `dexumi export` (each split part its own episode), `EpisodeDataset`; the raw data never changes."""

from __future__ import annotations

import math

import h5py
import numpy as np
import pytest

from dexumi.dataset import EpisodeDataset
from dexumi.episode import metadata as M
from dexumi.episode import schema as S
from dexumi.episode.reader import Episode
from dexumi.export import ExportOptions, export_paths
from dexumi.export.source import nearest
from test_validate_util import copy, recorded

FPS = 30.0


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return recorded(tmp_path_factory)


@pytest.fixture
def episode(folder, tmp_path):
    return copy(sorted(folder.glob("episode_*.h5"))[0], tmp_path / "day" / "episode_0000.h5")


def _expected(path, i0, i1, fps=FPS):
    """The export of stored aligned instants [i0, i1), computed independently from the raw arrays."""
    with h5py.File(path, "r") as f:
        ts, q = f[S.TIMESTAMPS][i0:i1], f[S.QPOS][i0:i1]
        imgs = {c: f[f"{S.IMAGES}/{c}"][i0:i1] for c in f[S.IMAGES]}
    K = int(np.floor((ts[-1] - ts[0]) * fps + 1e-6)) + 1
    grid = ts[0] + np.arange(K) / fps
    qg = np.stack([np.interp(grid, ts, q[:, j]) for j in range(q.shape[1])], axis=1)
    near = nearest(ts, grid)
    return K, qg, np.concatenate([qg[1:], qg[-1:]]), {c: v[near] for c, v in imgs.items()}


def _export(src, out):
    s = export_paths([src], ExportOptions("robomimic", out, progress=False, image_size=(32, 24)))
    with h5py.File(out / "data.hdf5" if (out / "data.hdf5").exists() else next(out.glob("*.hdf5")), "r") as f:
        demos = [
            {k: f[f"data/demo_{i}/{k}"][()] for k in ("states", "actions_raw", "timestamps")}
            for i in range(len(f["data"]))
        ]
    return s, demos


def _raw(path):
    with h5py.File(path, "r") as f:
        return {
            k: f[name][()]
            for k, name in (
                ("timestamps", S.TIMESTAMPS),
                ("qpos", S.QPOS),
                ("action", S.ACTION),
                ("exo_joints", S.EXO_JOINTS),
            )
        }


def test_trim_reader_export_dataset_and_undo(episode, tmp_path):
    raw0 = _raw(episode)
    n = len(raw0["timestamps"])
    rel = raw0["timestamps"] - raw0["timestamps"][0]
    start, end = 0.5, float(rel[-1]) - 0.7
    M.edit_file(episode, {M.A_TRIM: [start, end]})
    i0 = int(np.searchsorted(rel, start))
    i1 = int(np.searchsorted(rel, end))
    assert 0 < i0 < i1 < n
    # the raw file is unchanged
    for k, v in _raw(episode).items():
        np.testing.assert_array_equal(v, raw0[k])
    # reader: the full view by default, the trimmed one when asked
    with Episode.open(episode) as ep:
        assert len(ep) == n and ep.parts() == [(i0, i1)]
    with Episode.open(episode, edited=True) as ep:
        assert len(ep) == i1 - i0
        np.testing.assert_array_equal(ep.timestamps, raw0["timestamps"][i0:i1])
        np.testing.assert_array_equal(ep.qpos, raw0["qpos"][i0:i1])
        assert ep.frame(0).t == raw0["timestamps"][i0] and ep.frame(-1).t == raw0["timestamps"][i1 - 1]
        assert rel[i0] >= start > rel[i0 - 1] and rel[i1 - 1] < end <= rel[i1]
    # export: exactly the kept frames (trimmed frames excluded)
    s, demos = _export(episode, tmp_path / "trimmed")
    assert len(demos) == 1 and s.episodes[0]["source_frames"] == [i0, i1]
    K, qg, act, _ = _expected(episode, i0, i1)
    d = demos[0]
    assert len(d["states"]) == K and K < n
    np.testing.assert_allclose(d["states"], qg, atol=1e-5)
    np.testing.assert_allclose(d["actions_raw"], act, atol=1e-5)
    # dataset: the kept frames exactly
    ds = EpisodeDataset(episode.parent, action_horizon=1, image_reduce=8, cameras=[])
    assert len(ds) == i1 - i0
    np.testing.assert_array_equal(ds[0]["obs.qpos"][0], raw0["qpos"][i0])
    np.testing.assert_array_equal(ds[len(ds) - 1]["obs.qpos"][0], raw0["qpos"][i1 - 1])
    # undo (clear the edits): the full view again, and the export equals the untrimmed one
    M.edit_file(episode, {M.A_TRIM: [0.0, math.nan], M.A_SPLITS: np.zeros(0)})
    with Episode.open(episode, edited=True) as ep:
        assert len(ep) == n
        np.testing.assert_array_equal(ep.qpos, raw0["qpos"])
    assert len(EpisodeDataset(episode.parent, action_horizon=1, cameras=[])) == n
    _, full = _export(episode, tmp_path / "full")
    K0, qg0, _, _ = _expected(episode, 0, n)
    assert len(full[0]["states"]) == K0 > K
    np.testing.assert_allclose(full[0]["states"], qg0, atol=1e-5)


def test_split_gives_parts_that_concatenate(episode, tmp_path):
    raw0 = _raw(episode)
    n = len(raw0["timestamps"])
    rel = raw0["timestamps"] - raw0["timestamps"][0]
    cut = float(rel[n // 2]) - 1e-4
    M.edit_file(episode, {M.A_SPLITS: [cut]})
    k = int(np.searchsorted(rel, cut))
    with Episode.open(episode) as ep:
        assert ep.parts() == [(0, k), (k, n)]
        pieces = [ep.select(a, b).qpos for a, b in ep.parts()]
    np.testing.assert_array_equal(np.concatenate(pieces), raw0["qpos"])  # the parts concatenate to the original
    # dataset: two episodes, their frames concatenate to the original
    ds = EpisodeDataset(episode.parent, action_horizon=1, cameras=[])
    assert len(ds.episodes) == 2 and len(ds) == n
    np.testing.assert_array_equal(np.concatenate([e.qpos for e in ds.episodes]), raw0["qpos"])
    np.testing.assert_array_equal(np.concatenate([e.timestamps for e in ds.episodes]), raw0["timestamps"])
    assert ds.locate(k) == (1, 0)
    # export: two episodes; the first shares the untrimmed export's grid (same start), so it is its slice
    s, demos = _export(episode, tmp_path / "split")
    assert [e["part"] for e in s.episodes] == [0, 1]
    assert [e["source_frames"] for e in s.episodes] == [[0, k], [k, n]]
    M.edit_file(episode, {M.A_SPLITS: np.zeros(0)})
    _, full = _export(episode, tmp_path / "full")
    K0 = len(demos[0]["states"])
    np.testing.assert_array_equal(demos[0]["states"], full[0]["states"][:K0])
    np.testing.assert_array_equal(demos[0]["actions_raw"][:-1], full[0]["actions_raw"][: K0 - 1])
    K1, qg1, _, _ = _expected(episode, k, n)
    assert len(demos[1]["states"]) == K1
    np.testing.assert_allclose(demos[1]["states"], qg1, atol=1e-5)
    assert K0 + K1 in (len(full[0]["states"]), len(full[0]["states"]) - 1, len(full[0]["states"]) + 1)


def test_trim_keeping_nothing_is_skipped(episode, tmp_path):
    M.edit_file(episode, {M.A_TRIM: [1000.0, math.nan]})
    with Episode.open(episode, edited=True) as ep:
        assert ep.parts() == [] and len(ep) == 0
    with pytest.raises(Exception, match="keeps no part"):
        export_paths([episode], ExportOptions("robomimic", tmp_path / "x", progress=False))


TIMELINE_SCRIPT = r"""
import json, os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6 import QtWidgets
app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
from apps.replay.window import ReplayWindow
w = ReplayWindow([sys.argv[1]])
w.resize(1200, 800); w.show(); app.processEvents()
out = {"bands": w.timeline.strip.bands, "markers": w.timeline.strip.markers, "count": w.timeline.strip.count}
w.set_frame(0); out["label0"] = w.timeline.label.text()
w.set_frame(int(sys.argv[2])); out["label_kept"] = w.timeline.label.text()
w.close()
print(json.dumps(out), flush=True)
os._exit(0)  # PySide6 can crash tearing down pyqtgraph items at interpreter exit
"""


def test_replay_timeline_shows_trimmed_range(episode):
    import json
    import subprocess
    import sys

    from apps.replay.data import SPLIT_COLOR, TRIM_COLOR, load
    from tests.conftest import REPO

    raw0 = _raw(episode)
    n = len(raw0["timestamps"])
    rel = raw0["timestamps"] - raw0["timestamps"][0]
    M.edit_file(episode, {M.A_TRIM: [0.5, float(rel[-1]) - 0.5], M.A_SPLITS: [float(rel[n // 2])]})
    i0, i1 = int(np.searchsorted(rel, 0.5)), int(np.searchsorted(rel, float(rel[-1]) - 0.5))
    d = load(episode, markers=False)
    try:
        assert len(d) == n  # replay shows everything stored, the trimmed part marked
        assert d.parts == [(i0, n // 2), (n // 2, i1)] and d.trim_bands() == [(0, i0 - 1), (i1, n - 1)]
        assert d.trimmed_at(0) and d.trimmed_at(i0 - 1) and not d.trimmed_at(i0) and d.trimmed_at(i1)
    finally:
        d.close()
    p = subprocess.run(
        [sys.executable, "-c", TIMELINE_SCRIPT, str(episode), str(i0)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert p.returncode == 0, p.stderr[-800:]
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert r["count"] == n
    assert [0, i0 - 1, list(TRIM_COLOR)] in r["bands"] and [i1, n - 1, list(TRIM_COLOR)] in r["bands"]
    assert [n // 2, list(SPLIT_COLOR)] in r["markers"]
    assert "TRIMMED" in r["label0"] and "TRIMMED" not in r["label_kept"]
    # cleared: no trim bands
    M.edit_file(episode, {M.A_TRIM: [0.0, math.nan], M.A_SPLITS: np.zeros(0)})
    d = load(episode, markers=False)
    try:
        assert d.parts == [(0, n)] and d.trim_bands() == [] and not d.trimmed_at(0)
    finally:
        d.close()

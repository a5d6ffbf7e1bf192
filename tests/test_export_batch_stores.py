"""robomimic and zarr through the batch engines (issue 22): each episode is read, resampled, decoded and resized
as a task; the driver writes the one shared store. The store has the same bytes as the one-process export's."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale_data import tree_bytes, write_episodes

from dexumi.batch import LocalEngine

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def day(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("stores") / "day"
    write_episodes(d, 3, seconds=1.0, cameras=("wrist0", "scene"))
    return d


def _export(day, out, fmt, engine=None, **kw):
    from dexumi.export import ExportOptions, export_paths

    return export_paths([day], ExportOptions(fmt, out, progress=False, **kw), engine)


@pytest.mark.parametrize(
    "fmt,kw",
    [("robomimic", {"image_size": (48, 32)}), ("zarr", {}), ("zarr", {"layout": "dexumi", "image_size": (40, 40)})],
)
def test_store_exports_on_the_engine_are_byte_identical(day, tmp_path, fmt, kw):
    plain = _export(day, tmp_path / "plain", fmt, **kw)
    time.sleep(1.1)  # HDF5 object times would differ now: the store must carry none
    batch = _export(day, tmp_path / "batch", fmt, LocalEngine(2), **kw)
    assert [e["frames"] for e in batch.episodes] == [e["frames"] for e in plain.episodes] == [30] * 3
    assert batch.episodes == plain.episodes and batch.skipped == plain.skipped == []
    a, b = tree_bytes(tmp_path / "plain"), tree_bytes(tmp_path / "batch")
    assert sorted(a) == sorted(b) and a, sorted(set(a) ^ set(b))
    assert [k for k in a if a[k] != b[k]] == []
    assert not (tmp_path / ".batch.batch").exists()  # shards go once the store is published


def test_robomimic_on_the_engine_holds_each_episodes_frames(day, tmp_path):
    from dexumi.episode.reader import Episode
    from dexumi.export.source import ImageSource, resample

    _export(day, tmp_path / "rm", "robomimic", LocalEngine(2), image_size=(48, 32))
    eps = sorted(day.glob("episode_*.h5"))
    with h5py.File(tmp_path / "rm" / "dataset.hdf5", "r") as f:
        assert sorted(f["data"]) == ["demo_0", "demo_1", "demo_2"]
        for i, p in enumerate(eps):
            with Episode.open(p) as ep:
                r = resample(ep, 30.0)
                want = ImageSource(ep, "scene", (48, 32)).block(r.images["scene"])
            g = f[f"data/demo_{i}"]
            assert g.attrs["source"] == p.name
            assert np.array_equal(g["obs/scene_image"][:], want)
            assert np.array_equal(g["next_obs/scene_image"][:-1], want[1:])
            assert np.allclose(g["states"][:], r.qpos)


def test_cli_export_zarr_with_engine(day, tmp_path):
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "apps.cli.main",
            "export",
            str(day),
            "--to",
            "zarr",
            "--out",
            str(tmp_path / "z"),
            "--engine",
            "local",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert p.returncode == 0, p.stderr
    assert "3 episode(s), 90 frames" in p.stdout
    _export(day, tmp_path / "ref", "zarr")
    assert tree_bytes(tmp_path / "z") == tree_bytes(tmp_path / "ref")

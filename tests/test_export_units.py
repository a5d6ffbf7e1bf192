"""Motor-unit actions (`export --action-units motor`): the map's `motor:` section parsed and validated, known
joint angles → the expected vendor units, in the exports and their metadata; radians stay the default."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest
import zarr

from dexumi.episode.finalize import read_text
from dexumi.errors import DexumiError
from dexumi.export import ExportOptions, export_paths
from dexumi.export.units import motor_scale
from dexumi.retarget.mapfile import map_to_dict, parse_map
from test_validate_util import recorded, run

# Inspire-style: 1000 = open (0 rad) .. 0 = closed (URDF upper limit); thumb pitch as a plain scale/offset
MOTOR = """
motor:
  index_proximal: {min: 1000, max: 0}
  middle_proximal: {min: 1000, max: 0}
  ring_proximal: {min: 1000, max: 0}
  pinky_proximal: {min: 1000, max: 0}
  thumb_yaw: {min: 1000, max: 0}
  thumb_pitch: {scale: 2000, offset: 100}
"""
NAMES = ("index_proximal", "middle_proximal", "pinky_proximal", "ring_proximal", "thumb_yaw", "thumb_pitch")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return recorded(tmp_path_factory)


@pytest.fixture(scope="module")
def stored_map(folder) -> str:
    with h5py.File(sorted(folder.glob("episode_*.h5"))[0], "r") as f:
        return read_text(f, "meta/retarget_map")


def expected(q: np.ndarray, names) -> np.ndarray:
    out = np.empty_like(q, dtype=np.float64)
    for j, n in enumerate(names):
        hi = {"thumb_yaw": 1.308, "thumb_pitch": 0.6}.get(n, 1.47)
        out[:, j] = 100 + 2000 * q[:, j] if n == "thumb_pitch" else 1000 - 1000 * q[:, j] / hi
    return out


def test_known_angles_to_motor_units(stored_map):
    ms = motor_scale(parse_map(stored_map + MOTOR), NAMES, "inspire_like", "test")
    rad = np.array([[0.0, 0.735, 1.47, 0.0, 0.654, 0.25]])
    np.testing.assert_allclose(ms.apply(rad), [[1000, 500, 0, 1000, 500, 600]], atol=1e-3)


def test_motor_section_round_trips_and_is_validated(stored_map):
    m = parse_map(stored_map + MOTOR)
    assert map_to_dict(m)["motor"]["thumb_pitch"] == {"scale": 2000.0, "offset": 100.0}
    assert parse_map(stored_map).motor == ()
    bad = {
        "index_proximal: {min: 1000}": "give both min and max",
        "index_proximal: {min: 0, max: 10, scale: 2}": "either min/max or scale",
        "index_proximal: {min: 5, max: 5}": "must differ",
        "index_proximal: {scale: 0}": "must not be 0",
        "index_proximal: {min: 0, max: 9, gain: 1}": "unknown key",
        "index_proximal: {min: zero, max: 9}": "expected a number",
    }
    for line, msg in bad.items():
        with pytest.raises(DexumiError, match=msg):
            parse_map(stored_map + "motor:\n  " + line + "\n", "m.yaml")
    with pytest.raises(DexumiError, match="unknown key"):
        parse_map(stored_map + "motors: {}\n", "m.yaml")


def test_robomimic_motor_actions_from_map_file(folder, stored_map, tmp_path):
    mp = tmp_path / "map.yaml"
    mp.write_text(stored_map + MOTOR)
    export_paths([folder], ExportOptions("robomimic", tmp_path / "rad", image_size=(16, 16), progress=False))
    export_paths(
        [folder],
        ExportOptions(
            "robomimic", tmp_path / "m", image_size=(16, 16), progress=False, action_units="motor", motor_map=mp
        ),
    )
    with h5py.File(tmp_path / "m" / "dataset.hdf5", "r") as f, h5py.File(tmp_path / "rad" / "dataset.hdf5") as g:
        meta = json.loads(f["data"].attrs["export"])
        names = json.loads(f["data"].attrs["action_names"]) if "action_names" in f["data"].attrs else list(NAMES)
        assert meta["action"]["units"] == "motor" and meta["state"]["units"] == "rad"
        assert json.loads(g["data"].attrs["export"])["action"]["units"] == "rad"
        norm = json.loads(f["data"].attrs["action_normalization"])
        np.testing.assert_allclose(norm["low"], [0, 0, 0, 0, 0, 100], atol=1e-3)
        np.testing.assert_allclose(norm["high"], [1000, 1000, 1000, 1000, 1000, 1300], atol=1e-3)
        for k in f["data"]:
            rad = g["data"][k]["actions_raw"][:]
            np.testing.assert_allclose(f["data"][k]["actions_raw"][:], expected(rad, names), atol=0.05)
            np.testing.assert_array_equal(f["data"][k]["obs/qpos"][:], g["data"][k]["obs/qpos"][:])
            assert np.abs(f["data"][k]["actions"][:]).max() <= 1.0


def test_zarr_motor_actions_from_stored_map(folder, stored_map, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for p in sorted(folder.glob("episode_*.h5")):
        shutil.copy(p, src / p.name)
        with h5py.File(src / p.name, "r+") as f:
            del f["meta/retarget_map"]
            f.create_dataset("meta/retarget_map", data=stored_map + MOTOR, dtype=h5py.string_dtype())
    s = export_paths(
        [src], ExportOptions("zarr", tmp_path / "z", image_size=(16, 16), progress=False, action_units="motor")
    )
    root = zarr.open(str(tmp_path / "z"), mode="r")
    a, q = root["data/action"][:], root["data/state"][:]
    names = root.attrs["dexumi_export"]["action"]["names"]
    n0 = s.episodes[0]["frames"]
    np.testing.assert_allclose(a[: n0 - 1], expected(q[1:n0], names), atol=0.05)  # the next step, in motor units
    assert root.attrs["dexumi_export"]["action"]["motor"]["rule"] == "motor = offset + scale * rad"


def test_cli_motor_without_section_is_one_line(folder, tmp_path):
    p = run("export", "--to", "zarr", "--out", tmp_path / "z", "--action-units", "motor", "--no-progress", folder)
    assert p.returncode == 2, p.stderr
    assert "no 'motor:' section" in p.stderr and len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr
    assert not (tmp_path / "z").exists()

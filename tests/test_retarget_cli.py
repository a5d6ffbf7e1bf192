"""`dexumi hands` and `dexumi retarget`, run as real subprocesses."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
MAPS = ROOT / "dexumi" / "hands" / "maps"
CHANNELS = ["exo_thumb_yaw", "exo_thumb_pitch", "exo_index", "exo_middle", "exo_ring", "exo_pinky"]


def dexumi(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "apps.cli.main", *map(str, args)], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


@pytest.fixture(scope="module")
def angles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    t = np.linspace(0, 3, 90)[:, None]
    hi = np.array([1.35, 0.65, 1.5, 1.5, 1.5, 1.5])
    x = hi * (0.5 + 0.4 * np.sin(2 * t * np.arange(1, 7) + np.arange(6)))
    p = tmp_path_factory.mktemp("cli") / "exo.npy"
    np.save(p, x)
    return p


def test_hands_lists_bundled_models_and_joints() -> None:
    p = dexumi("hands")
    assert p.returncode == 0, p.stderr
    for name in ("inspire_like", "inspire_exo", "xhand_like", "xhand_exo"):
        assert name in p.stdout
    assert "index_intermediate       = 1.06399 * index_proximal -0.04545  (mimic)" in p.stdout
    assert "thumb_tip, index_tip, middle_tip, ring_tip, pinky_tip" in p.stdout


def test_hands_json() -> None:
    p = dexumi("hands", "--json")
    assert p.returncode == 0, p.stderr
    models = {m["name"]: m for m in json.loads(p.stdout)["models"]}
    assert models["inspire_like"]["nq"] == 6 and models["inspire_like"]["joints_total"] == 12
    assert models["inspire_like"]["pair"] == "inspire_exo" and models["xhand_exo"]["kind"] == "exoskeleton"
    assert {j["name"] for j in models["xhand_like"]["joints"]} >= {"index_abd", "thumb_rot", "pinky_pip"}
    assert len(models["inspire_like"]["mimic"]) == 6


def test_retarget_npy_to_csv_with_metrics(angles: Path, tmp_path: Path) -> None:
    out = tmp_path / "robot.csv"
    p = dexumi("retarget", "--map", MAPS / "inspire.yaml", angles, "--out", out, "--rate", 30, "--json")
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert s["frames"] == 90 and s["mode"] == "joint" and s["robot"] == "inspire_like"
    m = s["metrics"]
    assert 0 < m["tip_error_mean_mm"] < 10 and m["limit_violation_frames"] == 0 and m["jerk_rms_rad_s3"] > 0
    rows = list(csv.reader(out.read_text().splitlines()))
    assert rows[0][0] == "t" and set(rows[0][1:]) == set(s["joints"]) and len(rows) == 91
    yaw = np.array([float(r[rows[0].index("thumb_yaw")]) for r in rows[1:]])
    np.testing.assert_allclose(yaw, 0.9689 * np.load(angles)[:, 0], atol=1e-12)


def test_retarget_h5_episode_by_channel_names_equals_npy(angles: Path, tmp_path: Path) -> None:
    import h5py

    x = np.load(angles)
    h5 = tmp_path / "ep.h5"
    with h5py.File(h5, "w") as f:
        ds = f.create_dataset("observations/exo_joints", data=x[:, ::-1])
        ds.attrs["names"] = CHANNELS[::-1]
        f.create_dataset("observations/timestamps", data=np.arange(len(x)) / 30.0)
    a, b = tmp_path / "a.npy", tmp_path / "b.npy"
    for src, dst in ((angles, a), (h5, b)):
        p = dexumi("retarget", "--map", MAPS / "inspire.yaml", src, "--out", dst, "--mode", "fingertip")
        assert p.returncode == 0, p.stderr
        assert "fingertip distance exo vs robot" in p.stdout
    np.testing.assert_array_equal(np.load(a), np.load(b))


@pytest.mark.parametrize(
    "case", ["broken_urdf_input", "broken_robot_urdf", "missing_joint", "channel_count", "input_columns", "bad_yaml"]
)
def test_bad_input_is_one_line_exit_2(case: str, angles: Path, tmp_path: Path) -> None:
    bad_urdf = tmp_path / "bad.urdf"
    bad_urdf.write_text("<robot name='x'><link name='a'/><joint name='j' type='revolute'><parent link='a'/>")
    base = (MAPS / "inspire.yaml").read_text()
    mp = tmp_path / "map.yaml"
    inp: Path = angles
    expect = {
        "broken_urdf_input": "robot: missing required key",
        "broken_robot_urdf": "bad.urdf: not a valid URDF: XML error at line",
        "missing_joint": "joints.wrist: inspire_like: no joint 'wrist'",
        "channel_count": "lists 5 channels but exoskeleton 'inspire_exo' has 6 joints; missing 'exo_pinky'",
        "input_columns": "4 columns but the map lists 6 channels",
        "bad_yaml": "map.yaml:2: not valid YAML: mapping values are not allowed here",
    }[case]
    if case == "broken_urdf_input":
        mp.write_text("version: 1\n")
        inp = bad_urdf
    elif case == "broken_robot_urdf":
        mp.write_text(base.replace("robot: inspire_like", f"robot: {bad_urdf}"))
    elif case == "missing_joint":
        mp.write_text(base.replace("  pinky_proximal: {from: exo_pinky", "  wrist: {from: exo_pinky"))
    elif case == "channel_count":
        mp.write_text(
            base.replace(", exo_pinky]", "]").replace("  pinky_proximal: {from: exo_pinky, scale: 0.98}\n", "")
        )
    elif case == "input_columns":
        mp.write_text(base)
        inp = tmp_path / "four.npy"
        np.save(inp, np.zeros((5, 4)))
    else:
        mp.write_text("version: 1\nrobot: inspire: like\n")
    p = dexumi("retarget", "--map", mp, inp)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert expect in p.stderr, p.stderr

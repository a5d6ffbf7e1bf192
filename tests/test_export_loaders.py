"""The exports load in the peers' own loaders: LeRobot's LeRobotDataset and robomimic's SequenceDataset, each in
its own virtual environment (created once under /tmp/dexumi-venvs/, reused by later runs; skipped with the reason
if the package does not install here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dexumi.export import ExportOptions, export_paths
from test_validate_util import recorded

VENVS = Path("/tmp/dexumi-venvs")
TORCH_WHEEL = Path("/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl")

pytestmark = pytest.mark.slow


def venv(name: str, packages: list[str]) -> Path:
    """A cached venv with `packages` (torch from the local CPU wheel first, so pip does not fetch a CUDA one)."""
    d = VENVS / name
    py = d / "bin" / "python"
    if (d / ".ok").exists() and py.exists():
        return py
    VENVS.mkdir(parents=True, exist_ok=True)
    steps = [
        [sys.executable, "-m", "venv", "--clear", str(d)],
        [str(py), "-m", "pip", "install", "-q", "--upgrade", "pip"],
    ]
    if TORCH_WHEEL.exists():
        steps.append([str(py), "-m", "pip", "install", "-q", str(TORCH_WHEEL)])
    steps.append([str(py), "-m", "pip", "install", "-q", *packages])
    for cmd in steps:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        if p.returncode != 0:
            reason = f"cannot install {' '.join(packages)} into {d}: {(p.stderr or p.stdout).strip()[-300:]}"
            print(reason)
            pytest.skip(reason)
    (d / ".ok").write_text("ok\n")
    return py


def run_in(py: Path, code: str, *args: str) -> dict:
    p = subprocess.run([str(py), "-c", code, *args], capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return recorded(tmp_path_factory)


LEROBOT = r"""
import json, sys, numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset
root, fps = sys.argv[1], 30
# torchcodec needs the system FFmpeg libraries, absent here: LeRobot's own PyAV backend decodes instead
ds = LeRobotDataset("local/dexumi", root=root, video_backend="pyav",
                    delta_timestamps={"action": [k / fps for k in range(8)], "observation.images.wrist0": [-1 / fps, 0.0]})
last = ds[len(ds) - 1]
mid = ds[len(ds) // 2]
print(json.dumps({"len": len(ds), "episodes": ds.num_episodes, "fps": ds.fps, "video_keys": ds.meta.video_keys,
                  "action": list(mid["action"].shape), "image": list(mid["observation.images.wrist0"].shape),
                  "last_pad": last["action_is_pad"].tolist(), "first_action": ds[0]["action"][0].tolist()}))
"""

ROBOMIMIC = r"""
import json, sys
import robomimic.utils.obs_utils as ObsUtils
from robomimic.utils.dataset import SequenceDataset
ObsUtils.initialize_obs_utils_with_obs_specs({"obs": {"low_dim": ["qpos"], "rgb": ["wrist0_image", "wrist1_image"]}})
kw = dict(hdf5_path=sys.argv[1], obs_keys=["qpos", "wrist0_image", "wrist1_image"],
          dataset_keys=["actions", "rewards", "dones"], load_next_obs=True, frame_stack=1, seq_length=10,
          pad_frame_stack=True, pad_seq_length=True, get_pad_mask=True, goal_mode=None, hdf5_cache_mode="low_dim",
          hdf5_use_swmr=True, hdf5_normalize_obs=False)
train = SequenceDataset(filter_by_attribute="train", **kw)
valid = SequenceDataset(filter_by_attribute="valid", **kw)
x = train[3]
print(json.dumps({"train": len(train), "valid": len(valid), "actions": list(x["actions"].shape),
                  "image": list(x["obs"]["wrist0_image"].shape), "next_image": list(x["next_obs"]["wrist0_image"].shape),
                  "amax": float(abs(x["actions"]).max())}))
"""


def test_lerobot_loader_reads_export(folder, tmp_path):
    py = venv("lerobot", ["lerobot==0.4.4"])
    s = export_paths([folder], ExportOptions("lerobot", tmp_path / "lr", progress=False))
    r = run_in(py, LEROBOT, str(tmp_path / "lr"))
    assert r["len"] == s.frames and r["episodes"] == 2 and r["fps"] == 30
    assert r["video_keys"] == ["observation.images.wrist0", "observation.images.wrist1"]
    assert r["action"] == [8, 6] and r["image"] == [2, 3, 480, 640]
    assert r["last_pad"] == [False] + [True] * 7


def test_robomimic_loader_reads_export(folder, tmp_path):
    py = venv("robomimic", ["robomimic==0.3.0", "six"])  # its config module imports six
    s = export_paths([folder], ExportOptions("robomimic", tmp_path / "rm", progress=False))
    r = run_in(py, ROBOMIMIC, str(tmp_path / "rm" / "dataset.hdf5"))
    n0 = s.episodes[0]["frames"]
    assert r["train"] + r["valid"] == s.frames and r["valid"] in (n0, s.frames - n0)
    assert r["actions"] == [10, 6] and r["image"] == [10, 480, 640, 3] and r["next_image"] == [10, 480, 640, 3]
    assert r["amax"] <= 1.0

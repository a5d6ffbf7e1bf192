"""The action is not the state, proven two ways on our robomimic export:

- numpy (default suite): predicting action = state has a clearly non-zero error (it was 0 when the action was a
  copy of the state, and robomimic BC reached 5e-4), and a least-squares linear policy on the joint inputs beats
  the identity, so there is something to learn beyond "stay where you are";
- robomimic's own `train.py` BC with images for a few epochs (slow, its own cached venv): finite losses that fall.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import h5py
import numpy as np
import pytest

from dexumi.export import ExportOptions, export_paths
from test_export_loaders import venv
from test_validate_util import recorded


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return recorded(tmp_path_factory)


def _normalised(f: h5py.File, x: np.ndarray) -> np.ndarray:
    n = json.loads(f["data"].attrs["action_normalization"])
    lo, hi = np.asarray(n["low"]), np.asarray(n["high"])
    return 2.0 * (x - lo) / (hi - lo) - 1.0


def test_identity_is_not_the_answer(folder, tmp_path):
    export_paths([folder], ExportOptions("robomimic", tmp_path / "rm", image_size=(32, 32), progress=False))
    with h5py.File(tmp_path / "rm" / "dataset.hdf5", "r") as f:
        demos = [f["data"][k] for k in f["data"]]
        q = np.concatenate([d["obs/qpos"][:] for d in demos])
        a = np.concatenate([d["actions"][:] for d in demos])  # what BC regresses: normalised to [-1, 1]
        qn = _normalised(f, q)
    identity = float(np.mean((qn - a) ** 2))
    x = np.c_[q, np.ones(len(q))]
    w, *_ = np.linalg.lstsq(x, a, rcond=None)
    linear = float(np.mean((x @ w - a) ** 2))
    print(f"identity MSE {identity:.3g}, linear policy MSE {linear:.3g} (normalised actions)")
    assert identity > 1e-3  # action = state: 0; robomimic BC's validation loss then: 5e-4
    assert linear < identity


TRAIN_CFG = r"""
import sys
from robomimic.config import config_factory
c = config_factory("bc")
with c.values_unlocked():
    c.experiment.name = "dexumi"
    c.experiment.validate = False
    c.experiment.logging.terminal_output_to_txt = False
    c.experiment.logging.log_tb = False
    c.experiment.save.enabled = False
    c.experiment.rollout.enabled = False
    c.experiment.render_video = False
    c.experiment.epoch_every_n_steps = 5
    c.train.data = sys.argv[1]
    c.train.output_dir = sys.argv[2]
    c.train.num_epochs = 5
    c.train.batch_size = 8
    c.train.seq_length = 1
    c.train.cuda = False
    c.train.hdf5_cache_mode = "all"
    c.train.hdf5_filter_key = "train"
    c.train.num_data_workers = 0
    c.algo.optim_params.policy.learning_rate.initial = 1e-3
    c.observation.modalities.obs.low_dim = ["qpos"]
    c.observation.modalities.obs.rgb = ["wrist0_image"]
    c.observation.encoder.rgb.obs_randomizer_class = None
print(c.dump())
"""


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_robomimic_train_bc_with_images_losses_fall(folder, tmp_path):
    py = venv("robomimic", ["robomimic==0.3.0", "six"])  # the same cached venv as test_export_loaders
    if subprocess.run([str(py), "-c", "import six"], capture_output=True).returncode != 0:  # a venv cached before
        subprocess.run([str(py), "-m", "pip", "install", "-q", "six"], capture_output=True, timeout=600)
    export_paths(
        [folder], ExportOptions("robomimic", tmp_path / "rm", image_size=(64, 64), valid_fraction=0.0, progress=False)
    )
    cfg = subprocess.run(
        [str(py), "-c", TRAIN_CFG, str(tmp_path / "rm" / "dataset.hdf5"), str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cfg.returncode == 0, cfg.stderr[-2000:]
    (tmp_path / "bc.json").write_text(cfg.stdout)
    p = subprocess.run(
        [str(py), "-m", "robomimic.scripts.train", "--config", str(tmp_path / "bc.json")],
        capture_output=True,
        text=True,
        timeout=540,
        env=dict(os.environ, OMP_NUM_THREADS="2"),
        cwd=tmp_path,
    )
    log = p.stdout + p.stderr
    assert p.returncode == 0 and "run failed" not in log, log[-2000:]
    losses = [float(x) for x in re.findall(r'"Loss": ([0-9.eE+-]+)', log)]
    print("robomimic BC train losses per epoch:", losses)
    assert len(losses) == 5, log[-2000:]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0], losses

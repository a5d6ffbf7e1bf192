"""`dexumi render` and `dexumi pose` on the batch layer: a folder runs as per-episode tasks on the local
engine, the outputs equal a one-episode run, a manifest makes a rerun skip finished episodes, failures are one
line per episode."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest

from dexumi.episode.derived import derived_path
from tests.conftest import REPO

pytestmark = pytest.mark.timeout(600)


def _dexumi(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "apps.cli.main", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=500,
        env={**__import__("os").environ, "PYTHONPATH": str(REPO)},
    )


@pytest.fixture(scope="module")
def sim_day(tmp_path_factory):
    d = tmp_path_factory.mktemp("batchday") / "day"
    for _ in range(2):
        r = _dexumi("render", "--sim-episode", d, "--duration", "1", cwd=d.parent)
        assert r.returncode == 0, r.stderr
    return d


def _frames(path, mode="robot-overlay", cam="wrist0"):
    with h5py.File(path, "r") as f:
        return [bytes(np.asarray(x)) for x in f[f"{mode}/{cam}"][:]]


def test_render_folder_as_tasks_equals_one_episode_runs_and_resumes(sim_day, tmp_path):
    man = tmp_path / "render.jsonl"
    r = _dexumi("render", sim_day, "--mode", "robot-overlay", "--manifest", man, "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["frames"] for row in rows] == [15, 15]
    eps = sorted(sim_day.glob("episode_*.h5"))
    # the same episode rendered on its own, in another folder: identical images
    solo = tmp_path / "solo"
    solo.mkdir()
    shutil.copy2(eps[1], solo / eps[1].name)
    r1 = _dexumi("render", solo / eps[1].name, "--mode", "robot-overlay", cwd=tmp_path)
    assert r1.returncode == 0, r1.stderr
    assert _frames(derived_path(solo / eps[1].name, "visual")) == _frames(derived_path(eps[1], "visual"))
    # a rerun with the manifest runs nothing (no --force needed: nothing is rewritten)
    before = {p: derived_path(p, "visual").stat().st_mtime_ns for p in eps}
    r2 = _dexumi("render", sim_day, "--mode", "robot-overlay", "--manifest", man, "--json", cwd=tmp_path)
    assert r2.returncode == 0, r2.stderr
    assert [json.loads(line)["frames"] for line in r2.stdout.splitlines()] == [15, 15]
    assert {p: derived_path(p, "visual").stat().st_mtime_ns for p in eps} == before
    # without the manifest the outputs exist: one `skipped:` line per episode, exit 1, nothing replaced
    r3 = _dexumi("render", sim_day, "--mode", "robot-overlay", cwd=tmp_path)
    assert r3.returncode == 1 and r3.stderr.count("skipped:") == 2 and "Traceback" not in r3.stderr
    assert {p: derived_path(p, "visual").stat().st_mtime_ns for p in eps} == before


def test_pose_folder_failures_are_one_line_per_episode(sim_day, tmp_path):
    r = _dexumi("pose", sim_day, "--from", "board", "--camera", "wrist0", cwd=tmp_path)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(lines) == 3 and all("board is never seen" in x for x in lines[:2]), lines
    assert lines[0].startswith("episode_0001.h5: ") and lines[0].count("episode_0001.h5") == 1

"""The optional extras really are optional: an episode is read, listed, validated and exported with the GUI
packages unimportable, and read and listed with none of the extras (the core install).

The packages are blocked by a `sys.meta_path` finder in a fresh interpreter (the same venv), so whatever
imports them on the way fails exactly as it would where they are not installed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO
from tests.test_episode_format import write_episode

GUI = ["PySide6", "shiboken6", "pyqtgraph", "OpenGL"]  # the `gui` extra
EXTRAS = [
    *GUI,
    "bleak",
    "dbus_fast",
    "pinocchio",
    "mujoco",
    "pyarrow",
    "zarr",
    "numcodecs",
    "imagecodecs",
    "mne_lsl",
    "rerun",
]  # every extra: gui, ble, kinematics, sim, export, lsl, rerun

BLOCKER = textwrap.dedent("""
    import importlib.abc, json, runpy, sys
    BLOCKED = set(json.loads(sys.argv[1]))

    class Blocked(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Blocked())
    if sys.argv[2] == "read":
        from dexumi.episode.reader import Episode
        with Episode.open(sys.argv[3]) as ep:
            fr = ep.frame(0, reduce=2)
            print(json.dumps({"frames": len(ep), "cameras": sorted(fr.images), "shape": list(fr.images["a"].shape),
                              "action": list(ep.action.shape)}))
        assert not [m for m in sys.modules if m.split(".")[0] in BLOCKED]
    else:
        sys.argv = ["dexumi", *sys.argv[2:]]
        runpy.run_module("apps.cli.main", run_name="__main__")
""")


def _run(blocked: list[str], *args: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER, json.dumps(blocked), *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def episode(tmp_path_factory):
    return write_episode(tmp_path_factory.mktemp("extras") / "episode_0001.h5.partial")


@pytest.mark.parametrize("blocked", [GUI, EXTRAS], ids=["no-gui", "core-only"])
def test_episode_read_without_extras(episode, blocked):
    r = _run(blocked, "read", episode)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got == {"frames": 60, "cameras": ["a", "b"], "shape": [48, 64, 3], "action": [60, 3]}
    r = _run(blocked, "info", episode, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["aligned_frames"] == 60


def test_validate_and_export_without_gui(episode, tmp_path):
    r = _run(GUI, "validate", episode, "--json", tmp_path / "v.json")
    assert "internal error" not in r.stderr and r.returncode in (0, 1), r.stderr  # 1: this bare file fails a check
    report = json.loads((tmp_path / "v.json").read_text())
    assert len(report["episodes"]) == 1 and report["episodes"][0]["checks"]
    r = _run(GUI, "export", episode, "--to", "zarr", "--out", tmp_path / "z")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "z").is_dir()

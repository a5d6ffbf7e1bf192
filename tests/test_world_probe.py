"""The world-camera probe: a success is remembered per interpreter, mujoco version and GL settings (it costs
seconds of every recorder start), and forgotten when a render process then fails to start."""

from __future__ import annotations

import json
import subprocess

import pytest

from dexumi.devices.cameras import world
from dexumi.devices.cameras.world import WorldCamera, WorldCameraConfig, world_available
from dexumi.errors import DexumiError


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(world, "_AVAILABLE", None)
    yield tmp_path / "dexumi" / "world-probe.json"
    world._AVAILABLE = None


def test_success_remembered_then_used_without_a_probe(cache, monkeypatch):
    ok, why = world_available()
    if not ok:
        pytest.skip(f"no offscreen rendering here: {why}")
    assert json.loads(json.loads(cache.read_text())["ok_for"])["mujoco"]
    monkeypatch.setattr(world, "_AVAILABLE", None)
    started: list = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: started.append(a) or pytest.fail("probed again"))
    assert world_available() == (True, "") and not started


def test_other_gl_settings_probe_again_and_a_failure_is_not_remembered(cache, monkeypatch):
    if not world_available()[0]:
        pytest.skip("no offscreen rendering here")
    before = cache.read_text()
    monkeypatch.setattr(world, "_AVAILABLE", None)
    monkeypatch.setenv("MUJOCO_GL", "no-such-backend")
    ok, why = world_available()
    assert not ok and "MUJOCO_GL=no-such-backend" in why
    assert cache.read_text() == before  # the good answer for the other settings stays


def test_render_process_failing_forgets_the_probe(cache, monkeypatch):
    if not world_available()[0]:
        pytest.skip("no offscreen rendering here")
    assert cache.exists()
    monkeypatch.setenv("MUJOCO_GL", "no-such-backend")  # the render process inherits it and cannot start
    cam = WorldCamera(WorldCameraConfig(width=64, height=48, startup_timeout_s=60))
    with pytest.raises(DexumiError, match="world camera wrist0: the render process did not start"):
        cam.open()
    assert not cache.exists() and world._AVAILABLE is None

"""Every GUI command on a machine without a display: one line on stderr and exit 2, at once (no SIGABRT, no
invisible window that never returns); with QT_QPA_PLATFORM=offscreen set explicitly they still run."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from test_validate_util import recorded
from tests.conftest import DEXUMI, REPO


def no_display_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return env


@pytest.fixture(scope="module")
def episode(tmp_path_factory):
    return recorded(tmp_path_factory) / "episode_0001.h5"


@pytest.mark.parametrize(
    "argv",
    [
        ["calibrate"],
        ["calibrate", "--sim"],
        ["calibrate", "--port", "sim", "--out", "{tmp}/p.yaml"],
        ["record", "--sim", "--out", "{tmp}/rec"],
        ["record", "--out", "{tmp}/rec"],
        ["replay", "{episode}"],
    ],
)
def test_gui_commands_without_display_are_one_line(argv, episode, tmp_path):
    args = [a.format(tmp=tmp_path, episode=episode) for a in argv]
    t0 = time.monotonic()
    r = subprocess.run([*DEXUMI, *args], capture_output=True, text=True, timeout=60, cwd=REPO, env=no_display_env())
    assert r.returncode == 2, (r.returncode, r.stderr[-800:])
    assert time.monotonic() - t0 < 30
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "no display" in lines[0] and "Traceback" not in r.stderr, r.stderr
    assert "--headless" in lines[0]
    assert not (tmp_path / "rec").exists() and not (tmp_path / "p.yaml").exists()


def test_screenshot_without_display_renders_offscreen(episode, tmp_path):
    png = tmp_path / "s.png"
    r = subprocess.run(
        [*DEXUMI, "replay", episode, "--screenshot", png],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env=no_display_env(),
    )
    assert r.returncode == 0, r.stderr[-800:]
    assert png.stat().st_size > 20_000


def test_display_rules():
    from apps.display import has_display

    assert not has_display({})
    assert has_display({"DISPLAY": ":0"}) and has_display({"WAYLAND_DISPLAY": "wayland-0"})
    assert has_display({"QT_QPA_PLATFORM": "offscreen"})
    assert not has_display({"QT_QPA_PLATFORM": "xcb"}) and not has_display({"QT_QPA_PLATFORM": "wayland"})
    assert not has_display({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "w"})

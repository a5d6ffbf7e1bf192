"""The everyday surface: per-episode figures in the headless line, one spelling of each flag everywhere
(old spellings kept as aliases), global flags anywhere on the line."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from tests.conftest import DEXUMI, REPO


def dexumi(*args, timeout=120, env=None):
    return subprocess.run(
        [*DEXUMI, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=REPO, env=env
    )


def test_headless_line_prints_each_episodes_own_drops(tmp_path):
    """A camera that loses ~25 % of its frames: each line's count is that episode's, not the session's total."""
    from dexumi.episode.reader import Episode

    out = tmp_path / "out"
    r = dexumi(
        "record",
        "--headless",
        "--sim",
        "--out",
        out,
        "--episodes",
        3,
        "--duration",
        1.5,
        "--pause",
        0.5,
        "--camera",
        "sim:name=lossy,drop=0.25,fps=30,width=160,height=120",
    )
    assert r.returncode == 0, r.stderr
    printed = [int(m) for m in re.findall(r"lossy \d+ Hz drops (\d+)", r.stdout)]
    assert len(printed) == 3, r.stdout
    in_file = []
    for k in range(1, 4):
        with Episode.open(out / f"episode_{k:04d}.h5") as ep:
            idx = ep.camera_times("lossy")["index"]
            in_file.append(int((np.diff(idx) - 1).sum()))
    # every drop inside the episode is counted; a few more may fall at its edges (around the start/stop
    # instant, more on a loaded machine) — but never the earlier episodes' drops, as a running total would
    for k, (p, f) in enumerate(zip(printed, in_file)):
        assert p >= f, (printed, in_file)
        if k:
            assert p - f < sum(in_file[:k]), (printed, in_file)
    assert printed[2] < sum(in_file)


@pytest.mark.parametrize(
    "argv",
    [
        ["hands", "-v"],
        ["-v", "hands"],
        ["hands", "--quiet"],
        ["--quiet", "hands"],
        ["hands", "-q"],
    ],
)
def test_global_flags_work_before_and_after_the_subcommand(argv):
    r = dexumi(*argv, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "inspire_like" in r.stdout


def test_quiet_silences_warnings_and_verbose_shows_info():
    from apps.cli.main import build_parser, log_level

    p = build_parser()
    assert log_level(p.parse_args(["hands", "--quiet"])) > log_level(p.parse_args(["hands"]))
    assert log_level(p.parse_args(["hands", "-v"])) < log_level(p.parse_args(["hands"]))
    assert log_level(p.parse_args(["-v", "hands", "-v"])) < log_level(p.parse_args(["hands", "-v"]))


def test_one_name_per_flag_old_names_kept():
    from apps.cli.main import build_parser

    p = build_parser()
    # duration: `--duration` everywhere, `--seconds` still accepted by stream
    assert p.parse_args(["stream", "--port", "sim", "--duration", "3"]).duration == 3.0
    assert p.parse_args(["stream", "--port", "sim", "--seconds", "4"]).duration == 4.0
    # seed of the simulated devices: `--sim-seed` everywhere, `--seed` still accepted by record
    assert p.parse_args(["record", "--out", "x", "--sim-seed", "5"]).sim_seed == 5
    assert p.parse_args(["record", "--out", "x", "--seed", "6"]).sim_seed == 6
    assert p.parse_args(["calibrate", "--sim-seed", "7"]).sim_seed == 7
    assert p.parse_args(["sim-device", "--sim-seed", "8"]).seed == 8
    for cmd in (["stream", "--port", "sim"], ["record", "--out", "x"], ["calibrate"]):
        text = _help(p, cmd[0])
        assert "--seconds" not in text or cmd[0] != "stream" or "--duration" in text


def _help(parser, name: str) -> str:
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name].format_help()
    raise KeyError(name)


def test_calibrate_accepts_port_sim(tmp_path):
    """`--port sim` means the simulated exoskeleton, as for `stream` and `record`."""
    out = tmp_path / "p.yaml"
    r = dexumi(
        "calibrate",
        "--headless",
        "--port",
        "sim",
        "--out",
        out,
        "--hold-s",
        0.5,
        "--sweep-s",
        0.3,
        "--move-s",
        0.2,
        "--wave-s",
        0,
        "--skip",
        "camera",
        "--skip",
        "latency",
        "--skip",
        "jointmap",
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    from calibration.profile import load_profile

    assert load_profile(out).device["id"] == "SIM-EXO-0001"


def test_validation_config_off_as_yaml_reads_it(tmp_path):
    """The docs' `severity: {drops: off}`: YAML 1.1 reads a bare off as false; that means off."""
    from dexumi.errors import DexumiError
    from dexumi.validate.config import load_config

    p = tmp_path / "checks.yaml"
    p.write_text("gap_error_s: 1.0\nseverity: {fingertips: error, drops: off}\n")
    cfg = load_config(p)
    assert cfg.severity["drops"] == "off" and cfg.severity["fingertips"] == "error" and cfg.gap_error_s == 1.0
    p.write_text("severity: {drops: loud}\n")
    with pytest.raises(DexumiError) as e:
        load_config(p)
    assert str(p) in str(e.value) and "--severity" not in str(e.value)


def test_episode_paths_expand_home(tmp_path, monkeypatch):
    from dexumi.validate.paths import expand

    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "episode_0001.h5").write_bytes(b"")
    got = expand(["~/data"], include_unfinished=False)
    assert not got.problems and [p.name for p in got.files] == ["episode_0001.h5"]

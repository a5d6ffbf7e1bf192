"""The first run: out-of-the-box sim episodes validate clean, the sim stays inside the exoskeleton model it
simulates, and a profile made by `calibrate --sim` reads true angles when recording with `--sim`."""

from __future__ import annotations

import json
import math
import re
import subprocess
import time

import numpy as np
import pytest

from dexumi.session.simmotion import exo_joint_ranges, sim_motion_spec
from firmware_bridge.emulator.motion import make_motion
from tests.conftest import DEXUMI, REPO

MAPS = REPO / "dexumi" / "hands" / "maps"


def dexumi(*args, timeout=180):
    return subprocess.run([*DEXUMI, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=REPO)


@pytest.mark.parametrize("map_name,joints", [("inspire.yaml", 6), ("xhand.yaml", 12)])
def test_sim_motion_stays_inside_the_exoskeleton_models_range(map_name, joints):
    lower, upper = exo_joint_ranges(MAPS / map_name, None, joints)
    t = np.arange(0.0, 30.0, 0.002)
    for seed in range(3):
        q = make_motion(sim_motion_spec(MAPS / map_name, None, joints, seed), joints, seed).angles(t)
        assert np.all(q >= np.asarray(lower)) and np.all(q <= np.asarray(upper))
        # and it still moves through most of each range (a grasp, not a twitch)
        assert np.all((q.max(axis=0) - q.min(axis=0)) > 0.5 * (np.asarray(upper) - np.asarray(lower)))


def test_sim_ranges_come_from_the_exoskeleton_urdf(tmp_path):
    """Not hard-coded: narrow one joint of a copy of the exoskeleton model and the motion follows it."""
    urdf = (REPO / "dexumi" / "hands" / "models" / "inspire_exo.urdf").read_text()
    pitch = re.search(r'<joint name="exo_thumb_pitch".*?</joint>', urdf, re.S).group(0)
    narrowed = pitch.replace('upper="0.65"', 'upper="0.3"')
    assert narrowed != pitch
    (tmp_path / "exo.urdf").write_text(urdf.replace(pitch, narrowed))
    text = (MAPS / "inspire.yaml").read_text().replace("exoskeleton: inspire_exo", "exoskeleton: exo.urdf")
    text = text.replace("robot: inspire_like", f"robot: {REPO / 'dexumi' / 'hands' / 'models' / 'inspire_like.urdf'}")
    (tmp_path / "map.yaml").write_text(text)
    lower, upper = exo_joint_ranges(tmp_path / "map.yaml", None, 6)
    assert upper[1] == pytest.approx(0.3) and upper[0] == pytest.approx(1.35)
    q = make_motion(sim_motion_spec(tmp_path / "map.yaml", None, 6), 6, 0).angles(np.arange(0, 30, 0.01))
    assert q[:, 1].max() <= 0.3 and q[:, 1].max() > 0.25


@pytest.mark.slow
def test_fresh_sim_episodes_validate_clean(tmp_path):
    """What a newcomer runs first: three episodes, then `dexumi validate` passes every one, and every check
    about the data's content is clean. (Timing checks may warn on a loaded machine: a late frame is real.)"""
    out = tmp_path / "day"
    r = dexumi("record", "--headless", "--sim", "--out", out, "--episodes", 3, "--duration", 2)
    assert r.returncode == 0, r.stderr
    r = dexumi("validate", out, "--no-progress", "--json", tmp_path / "report.json")
    report = json.loads((tmp_path / "report.json").read_text())
    timing = {"rates", "gaps", "drops", "alignment"}
    # a stall of the machine (seen once after the slow suite's heavy tests: both cameras 375 ms late, 10 % of one
    # camera's frames dropped) is rightly an error of `drops`; it must be the only kind of failure
    failing = {c["check"] for ep in report["episodes"] for c in ep["checks"] if c["level"] == "error"}
    assert r.returncode == (1 if failing else 0) and failing <= timing, r.stdout + r.stderr
    assert report["summary"]["files"] == 3
    for ep in report["episodes"]:
        assert ep["metrics"]["tip_error_mm"]["p95"] < 20.0
        assert ep["metrics"]["limit_violation_max_rad"] == 0.0
        levels = {c["check"]: c["level"] for c in ep["checks"]}
        assert levels["joint_limits"] == "pass" and levels["fingertips"] == "pass", ep["checks"]
        # "info" ranks with "pass" (a note, e.g. latency not measurable on a 2 s episode), never a finding
        assert all(v in ("pass", "info") for k, v in levels.items() if k not in timing), levels


@pytest.fixture(scope="module")
def sim_profile(tmp_path_factory):
    d = tmp_path_factory.mktemp("prof")
    out = d / "profile.yaml"
    r = dexumi(
        "calibrate",
        "--headless",
        "--sim",
        "--out",
        out,
        "--hold-s",
        0.6,
        "--sweep-s",
        0.4,
        "--move-s",
        0.2,
        "--wave-s",
        0,
        "--skip",
        "camera",
        "--skip",
        "latency",
    )
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.slow
def test_a_sim_profile_reads_true_angles_when_recording_with_sim(sim_profile, tmp_path):
    from apps.cli.commands.record import _config
    from apps.cli.main import build_parser
    from dexumi.episode.reader import Episode
    from dexumi.session.session import RecordingSession
    from firmware_bridge.emulator import read_truth

    args = build_parser().parse_args(
        ["record", "--headless", "--sim", "--out", str(tmp_path / "out"), "--profile", str(sim_profile)]
    )
    cfg = _config(args)
    cfg.sim_truth = tmp_path / "truth.bin"
    with RecordingSession(cfg) as s:
        s.start_episode(task="profile")
        time.sleep(2.0)
        path = s.stop_episode("success", "")
    _, tr = read_truth(cfg.sim_truth)
    with Episode.open(path) as ep:
        enc = ep.encoder()
    pos = {int(i): k for k, i in enumerate(tr["index"]) if tr["segment"][k] == 0}
    keep = [k for k, i in enumerate(enc["index"]) if int(i) in pos]
    assert len(keep) > 1000
    true = np.stack([tr["angles"][pos[int(enc["index"][k])], :6] for k in keep])
    got = enc["angles"][keep].astype(np.float64)
    assert np.max(np.abs(got - true)) < math.radians(0.5)


@pytest.mark.slow
def test_a_real_devices_profile_with_sim_is_one_line(sim_profile, tmp_path):
    text = sim_profile.read_text().replace("SIM-EXO-0001", "EXO-REAL-42")
    other = tmp_path / "real.yaml"
    other.write_text(text)
    r = dexumi("record", "--headless", "--sim", "--out", tmp_path / "out", "--profile", other, "--duration", 1)
    assert r.returncode == 2 and "EXO-REAL-42" in r.stderr and "calibrate --sim" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1

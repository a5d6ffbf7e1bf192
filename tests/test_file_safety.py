"""Data safety of the file layer: one recorder per folder, recovery touches only its own partials, outputs never
overwrite what they were not asked to produce, bounded YAML, and JSON where --json is asked for."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import h5py
import pytest

from dexumi.episode import schema as S
from dexumi.episode.layout import EncoderLayout, EpisodeMeta
from dexumi.episode.writer import EpisodeWriter
from tests.conftest import DEXUMI, REPO
from tests.test_episode_format import write_episode
from tests.waits import wait_until


def dexumi(*args: object, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*DEXUMI, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=REPO)


def inproc(*args: object) -> subprocess.CompletedProcess:
    """The same command line run in this process (saves the interpreter start-up on a loaded machine)."""
    import contextlib
    import io
    import logging

    from apps.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    logging.getLogger().handlers.clear()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in args])
    logging.getLogger().handlers.clear()
    return subprocess.CompletedProcess(list(args), rc, out.getvalue(), err.getvalue())


def one_line_error(p: subprocess.CompletedProcess, *needles: str) -> None:
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert p.returncode == 2 and len(lines) == 1 and ": error: " in lines[0], (p.returncode, p.stderr)
    for n in needles:
        assert n in lines[0], (n, lines[0])


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------------- folder lock
def test_second_recorder_refused_and_live_partial_not_recovered(tmp_path):
    out = tmp_path / "day"
    with subprocess.Popen(  # the context closes its pipes and reaps it
        [*DEXUMI, "record", "--headless", "--sim", "--out", str(out), "--duration", "60"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    ) as first:
        try:

            def partials() -> list:
                assert first.poll() is None, first.stderr.read()  # the first recorder must still be recording
                return list(out.glob("*" + S.PARTIAL))

            live = wait_until(partials, timeout=60, message="the first recorder's episode file")
            second = dexumi("record", "--headless", "--sim", "--out", out, "--duration", "1")
            one_line_error(second, "in use by another dexumi")
            rec = dexumi("recover", out)
            one_line_error(rec, "in use")
            assert live[0].exists() and not (out / "episode_0002.h5.partial").exists()
            assert first.poll() is None, "the first recorder must still be recording"
            first.send_signal(signal.SIGINT)
            assert first.wait(timeout=60) == 0, first.stderr.read()
        finally:
            if first.poll() is None:
                first.kill()
    with h5py.File(out / "episode_0001.h5", "r") as f:
        assert f.attrs[S.A_STATE] == "final" and f["timestamps"].shape[0] > 10
    assert dexumi("record", "--headless", "--sim", "--out", out, "--duration", "0.5").returncode == 0  # lock freed


# --------------------------------------------------------------------------------------------- recover
def test_recover_refuses_what_is_not_its_partial(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    named = tmp_path / "episode_0005.h5.partial"
    named.write_text("not hdf5 at all\n")
    good = write_episode(tmp_path / "episode_0001.h5.partial", seconds=0.5)
    damaged = tmp_path / "episode_0002.h5"
    damaged.write_bytes(good.read_bytes()[:20000])
    before = {p.name: sha(p) for p in tmp_path.iterdir() if p.is_file()}
    one_line_error(dexumi("recover", text), "not an episode file")
    one_line_error(dexumi("recover", named), "no HDF5 signature")
    one_line_error(dexumi("recover", damaged), "truncated")
    one_line_error(dexumi("recover", "/dev/null"), "not an episode file")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    after = {p.name: sha(p) for p in tmp_path.iterdir() if p.is_file() and p.name != ".dexumi-lock"}
    assert after == before
    p = dexumi("recover", good, "--json")
    assert p.returncode == 0 and json.loads(p.stdout)["results"][0]["action"] == "already-final"


def _empty_partial(path: Path) -> Path:
    w = EpisodeWriter(path, EpisodeMeta(number=S.episode_number(path)), EncoderLayout(3, ("a", "b", "c")), [])
    w.close_partial()
    return path


def test_zero_sample_partial_becomes_failed(tmp_path):
    part = _empty_partial(tmp_path / "episode_0003.h5.partial")
    p = dexumi("recover", tmp_path, "--json")
    doc = json.loads(p.stdout)
    assert p.returncode == 1 and doc["results"][0]["action"] == "failed", p.stdout
    assert not part.exists() and (tmp_path / "episode_0003.h5.failed").exists()
    assert not (tmp_path / "episode_0003.h5").exists()


def test_recovery_killed_midway_is_redone(tmp_path):
    w = write_episode(tmp_path / "episode_0001.h5.partial", seconds=1.0, finalize=False)
    w.close_partial()
    (tmp_path / "episode_0001.h5.recovering").write_bytes(b"\x89HDF\r\n\x1a\n half a copy")
    p = dexumi("recover", tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert sorted(x.name for x in tmp_path.glob("episode_*")) == ["episode_0001.h5"]


def test_kill_between_publish_and_delete_is_finished(tmp_path):
    # finalised file: publish() linked the final name but was killed before unlinking the partial
    final = write_episode(tmp_path / "episode_0001.h5.partial", seconds=0.5)
    os.link(final, tmp_path / "episode_0001.h5.partial")
    # a recovery: published the rebuilt copy but was killed before deleting the source partial
    w = write_episode(tmp_path / "episode_0002.h5.partial", seconds=0.5, finalize=False)
    w.close_partial()
    keep = tmp_path / "keep"
    shutil.copyfile(tmp_path / "episode_0002.h5.partial", keep)
    assert dexumi("recover", tmp_path / "episode_0002.h5.partial").returncode == 0
    keep.rename(tmp_path / "episode_0002.h5.partial")
    h5 = sha(tmp_path / "episode_0002.h5")
    p = dexumi("recover", tmp_path, "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    actions = {Path(r["source"]).name: r["action"] for r in json.loads(p.stdout)["results"]}
    assert actions == {"episode_0001.h5.partial": "renamed", "episode_0002.h5.partial": "cleaned"}, actions
    assert sorted(x.name for x in tmp_path.glob("episode_*")) == ["episode_0001.h5", "episode_0002.h5"]
    assert sha(tmp_path / "episode_0002.h5") == h5
    r = dexumi("record", "--headless", "--sim", "--out", tmp_path, "--duration", "0.5")
    assert r.returncode == 0 and (tmp_path / "episode_0003.h5").exists(), r.stderr


def test_damaged_leftover_partial_does_not_block_recording(tmp_path):
    src = write_episode(tmp_path / "episode_0001.h5.partial", seconds=1.0)
    data = src.read_bytes()
    src.unlink()
    torn = tmp_path / "episode_0001.h5.partial"
    torn.write_bytes(data[:1500])  # superblock and little else: not recoverable
    t0 = time.monotonic()
    r = dexumi("record", "--headless", "--sim", "--out", tmp_path, "--duration", "0.5", timeout=90)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 < 60
    warn = [x for x in r.stderr.splitlines() if "episode_0001.h5.partial" in x]
    assert len(warn) == 1 and "Traceback" not in r.stderr, r.stderr
    assert torn.read_bytes() == data[:1500]  # left as it was, for a human to look at
    assert (tmp_path / "episode_0002.h5").exists()


# --------------------------------------------------------------------------------------------- outputs
MAP = REPO / "dexumi" / "hands" / "maps" / "inspire.yaml"


@pytest.fixture
def angles(tmp_path):
    import numpy as np

    p = tmp_path / "angles.npy"
    np.save(p, np.zeros((10, 6)))
    return p


def test_retarget_out_never_overwrites(tmp_path, angles):
    if not MAP.exists():
        pytest.skip("bundled inspire map not found")
    other = tmp_path / "mine.csv"
    other.write_text("precious\n")
    one_line_error(inproc("retarget", angles, "--map", MAP, "--out", other), "already exists")
    one_line_error(inproc("retarget", angles, "--map", MAP, "--out", other, "--force"), "not written by this command")
    assert other.read_text() == "precious\n"
    before = sha(angles)
    one_line_error(inproc("retarget", angles, "--map", MAP, "--out", angles, "--force"), "is the input")
    assert sha(angles) == before
    out = tmp_path / "robot.npy"
    assert inproc("retarget", angles, "--map", MAP, "--out", out).returncode == 0
    one_line_error(inproc("retarget", angles, "--map", MAP, "--out", out), "already exists")
    assert inproc("retarget", angles, "--map", MAP, "--out", out, "--force").returncode == 0


def test_retarget_refuses_newer_format_version(tmp_path):
    ep = write_episode(tmp_path / "episode_0001.h5.partial", seconds=0.5)
    with h5py.File(ep, "r+") as f:
        f.attrs[S.A_VERSION] = 7
    m = tmp_path / "m.yaml"
    m.write_text("version: 1\nrobot: inspire_like\nchannels: [j0, j1, j2]\njoints:\n  thumb_yaw: {from: j0}\n")
    one_line_error(inproc("retarget", ep, "--map", m), "newer")


def test_sim_device_keeps_existing_files(tmp_path):
    truth = tmp_path / "data.bin"
    truth.write_text("keep me")
    link = tmp_path / "port"
    link.write_text("a real file")
    one_line_error(dexumi("sim-device", "--truth", truth, "--duration", "0.2"), "refusing to overwrite")
    one_line_error(dexumi("sim-device", "--link", link, "--duration", "0.2"), "refusing to replace")
    assert truth.read_text() == "keep me" and link.read_text() == "a real file"


def test_validate_json_stdout_and_file(tmp_path):
    ep = write_episode(tmp_path / "episode_0001.h5.partial", seconds=1.0)
    for flag in (["--json"], ["--json", "-"]):
        p = inproc("validate", ep, "--no-progress", *flag)
        assert json.loads(p.stdout)["report_version"] == 1 and not (REPO / "-").exists()
    rep = tmp_path / "r.json"
    inproc("validate", ep, "--no-progress", "--json", rep)
    assert json.loads(rep.read_text())["summary"]["files"] == 1
    before = sha(ep)
    one_line_error(inproc("validate", ep, "--json", ep), "refusing to overwrite")
    assert sha(ep) == before


# --------------------------------------------------------------------------------------------- YAML
BOMB = (
    "\n".join(
        ["a: &a [x, x, x, x, x, x, x, x, x]"]
        + [f"{c}: &{c} [{', '.join(['*' + p] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi")]
    )
    + "\n"
)


def test_yaml_alias_bombs_refused_quickly(tmp_path):
    from calibration.profile import load_profile
    from dexumi.errors import DexumiError
    from dexumi.retarget import load_map
    from dexumi.safe_yaml import safe_load
    from dexumi.validate.config import load_config

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    for loader in (load_map, load_profile, load_config):
        t0 = time.perf_counter()
        with pytest.raises(DexumiError, match="alias bomb") as exc:
            loader(bomb)
        assert time.perf_counter() - t0 < 2.0 and "\n" not in str(exc.value)
        assert "bomb.yaml" in str(exc.value)
    assert safe_load("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}  # ordinary aliases still work
    with pytest.raises(DexumiError, match=r"<yaml>:3: not valid YAML"):
        safe_load("a: 1\nb: [\n")

"""kill -9 of a recording at random instants: earlier episodes intact, the interrupted one recovered with at
most the last second lost, numbering never reused or shifted."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time

import h5py
import numpy as np
import psutil
import pytest

from dexumi.episode import numbering
from dexumi.episode import schema as S
from dexumi.episode.reader import Episode
from dexumi.episode.recover import recover_path
from tests.conftest import DEXUMI
from tests.waits import wait_until


def _kill_tree(proc: subprocess.Popen) -> None:
    kids = psutil.Process(proc.pid).children(recursive=True)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for k in kids:
        try:
            k.kill()
        except psutil.NoSuchProcess:
            pass


def _valid(path) -> None:
    with Episode.open(path) as ep:
        assert ep.finalized
        t = ep.timestamps
        if ep.state == "recovered" and len(t) == 0:  # killed within the first flush: nothing was recorded
            return
        assert len(t) > 0 and np.all(np.diff(t) > 0) and np.isfinite(ep.action).all()
        for cam in ep.cameras:
            assert len(ep.image_indices(cam)) == len(t)
            ep.image(cam, len(t) - 1, reduce=4)


def _one_kill(out, rng, max_wait: float) -> float:
    """Start a recording, kill it at a random instant once it records; returns the kill time (monotonic)."""
    proc = subprocess.Popen(
        [*DEXUMI, "record", "--headless", "--sim", "--out", str(out), "--episodes", "20", "--duration", "1.5"],
        stdout=subprocess.DEVNULL,  # never read: a pipe would be left open (and could fill)
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: list(out.glob("*" + S.PARTIAL)), timeout=30, message="the recorder's episode file")
        time.sleep(rng.uniform(0.3, max_wait))  # a random kill instant: what the test varies
        killed_at = time.monotonic()
    finally:
        _kill_tree(proc)
    return killed_at


def _run_kills(tmp_path, kills: int, seed: int) -> None:
    rng = random.Random(seed)
    out = tmp_path / "out"
    seen_numbers: set[int] = set()
    for _ in range(kills):
        before = {p.name for p in out.glob("*.h5")} if out.exists() else set()
        killed_at = _one_kill(out, rng, 4.0)
        partial = numbering.unfinished(out)
        assert len(partial) <= 1
        for p in out.glob("*.h5"):  # every finished episode, earlier or of this run, is valid
            _valid(p)
        if partial:
            n = S.episode_number(partial[0])
            assert n not in seen_numbers
            res = recover_path(out)
            # a kill before the first flush with data leaves 0 samples and 0 frames: documented to become .failed
            assert len(res) == 1 and (res[0].path is not None or res[0].action == "failed"), res
            if res[0].action == "failed":
                assert (out / (S.episode_name(n) + S.FAILED)).exists() and res[0].path is None
            if res[0].action == "recovered":
                _valid(res[0].path)
                last = res[0].last_time  # None: killed before the episode's first flush
                assert last is None or killed_at - last <= 1.0, f"lost {killed_at - last:.2f} s"
                with h5py.File(res[0].path, "r") as f:
                    assert f.attrs[S.A_STATE] == "recovered"
        numbers = sorted(numbering.scan(out))
        assert numbers == list(range(1, len(numbers) + 1)), f"gap or reuse in numbering: {numbers}"
        assert not (set(numbers) - seen_numbers) & {S.episode_number(b) for b in before}
        seen_numbers |= set(numbers)
    # the next recording continues after the highest number, never reusing one
    top = max(numbering.scan(out))
    n, path = numbering.reserve(out)
    assert n == top + 1
    path.unlink()


@pytest.mark.slow  # a real-time end-to-end run (>10 s): CI's `make test-slow` runs it
def test_kill9_three_instants(tmp_path):
    _run_kills(tmp_path, 3, seed=1)


@pytest.mark.slow
def test_kill9_ten_instants(tmp_path):
    _run_kills(tmp_path, 10, seed=2)


def test_recover_cli_and_startup_recovery(tmp_path):
    out = tmp_path / "out"
    _one_kill(out, random.Random(3), 1.0)
    assert numbering.unfinished(out)
    # the recorder recovers what it finds unfinished at start-up, then numbers on
    p = subprocess.run(
        [*DEXUMI, "record", "--headless", "--sim", "--out", str(out), "--duration", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    # a kill before the first flush with data leaves nothing to recover: the partial becomes .failed (documented)
    failed = (out / "episode_0001.h5.failed").exists()
    assert ("failed" if failed else "recovered") + " episode_0001.h5.partial" in p.stderr
    assert sorted(x.name for x in out.glob("*.h5")) == (
        ["episode_0002.h5"] if failed else ["episode_0001.h5", "episode_0002.h5"]
    )
    r = subprocess.run([*DEXUMI, "recover", str(out)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "nothing to recover" in r.stdout

"""Faults during recording: a full disk (a real small tmpfs), a device unplugged mid-episode."""

from __future__ import annotations

import os
import subprocess
import time

import numpy as np
import pytest

from dexumi.episode import numbering
from dexumi.episode.reader import Episode
from dexumi.episode.recover import recover_path
from dexumi.errors import DexumiError
from dexumi.session.config import SessionConfig
from dexumi.session.session import RecordingSession


@pytest.fixture
def small_fs(tmp_path):
    """A 12 MB tmpfs (needs root); skipped with the reason otherwise."""
    d = tmp_path / "small"
    d.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", str(d)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield d
    subprocess.run(["umount", "-l", str(d)], capture_output=True)


def _record_until_stopped(s: RecordingSession, limit_s: float = 40.0) -> None:
    s.start_episode()
    assert s.episode_ended.wait(limit_s), "the session did not stop on a full disk"


def _cfg(out, **kw) -> SessionConfig:
    return SessionConfig(out_dir=out, sim=True, sim_camera_size=(1280, 800), sim_camera_fps=30.0, **kw)


def test_disk_threshold_stops_cleanly(small_fs):
    with RecordingSession(_cfg(small_fs, min_free_mb=4)) as s:
        _record_until_stopped(s)
        assert s.fatal and "disk almost full" in s.fatal
        path = s.last_episode
    assert path is not None and path.name == "episode_0001.h5"
    with Episode.open(path) as ep:
        assert ep.finalized and len(ep) > 10 and ep.attrs["stop_reason"] == "disk almost full"
    with pytest.raises(DexumiError, match="free"):  # and it will not start another one
        RecordingSession(_cfg(small_fs, min_free_mb=4)).open()


def test_disk_full_enospc_file_readable_then_recovered(small_fs):
    filler = small_fs / "filler.bin"
    filler.write_bytes(b"\0" * (7 << 20))  # recovery copies: free this much again afterwards
    with RecordingSession(_cfg(small_fs, min_free_mb=0)) as s:
        _record_until_stopped(s)
        assert s.fatal and "disk full" in s.fatal and "dexumi recover" in s.fatal
    partial = numbering.unfinished(small_fs)
    assert len(partial) == 1
    with Episode.open(partial[0]) as ep:  # readable as it is, up to the last flush
        enc = ep.encoder()
        assert len(enc["index"]) > 1000 and np.all(np.diff(enc["index"]) == 1)
        assert ep.frame_count("wrist0") > 10
        ep.raw_image("wrist0", ep.frame_count("wrist0") - 1, reduce=4)
    filler.unlink()  # make room, then recover
    res = recover_path(small_fs)
    assert res[0].action == "recovered"
    with Episode.open(res[0].path) as ep:
        assert ep.finalized and len(ep) > 10


def test_device_lost_mid_episode(tmp_path):
    cfg = SessionConfig(
        out_dir=tmp_path / "out", sim=True, sim_extra_args=["--disconnect-after", "2.5", "--reconnect-after", "1.0"]
    )
    with RecordingSession(cfg) as s:
        s.start_episode()
        time.sleep(6.0)
        st = s.status()
        assert st.state == "recording"
        path = s.stop_episode()
    with Episode.open(path) as ep:
        gaps = ep.f["raw/encoder/gaps"][:]
        assert len(gaps) == 1 and 0.8 < gaps[0, 1] - gaps[0, 0] < 2.0
        enc = ep.encoder()
        assert enc["host_time"][-1] > gaps[0, 1] + 1.0, "no data after the reconnect"
        assert ep.sync_report["encoder"]["gaps"][0]["reason"].startswith("link lost")
        t, valid = ep.timestamps, ep.valid
        inside = (t > gaps[0, 0] + 0.1) & (t < gaps[0, 1] - 0.1)
        assert inside.any() and not valid[inside].any()  # frames during the outage are marked invalid
        assert valid[~inside].mean() > 0.9
        assert np.isfinite(ep.action).all()

"""An episode stop that lands in the middle of a poll keeps every sample the poll had already read."""

from __future__ import annotations

import threading

import numpy as np

from dexumi.episode.reader import Episode
from dexumi.session.config import SessionConfig
from dexumi.session.session import RecordingSession
from tests.waits import wait_until


def test_stop_during_poll_loses_nothing(tmp_path):
    """A listener runs inside the poll between the devices' read and the write; there it has the episode stopped
    from another thread. Every encoder sample and camera frame the poll read from the episode's start on must be in
    the finished file (before the fix the stop won the race and the poll's batch was dropped)."""
    cfg = SessionConfig(out_dir=tmp_path / "out", sim=True, sim_camera_size=(160, 120), sim_camera_fps=30.0)
    seen: list[np.ndarray] = []
    frames_seen: dict[str, int] = {}
    armed = threading.Event()
    stopper: list[threading.Thread] = []
    t0: list[float] = []

    with RecordingSession(cfg) as s:

        def listener(enc_batches, frames):
            if not s.recording or not t0:
                return
            for b in enc_batches:
                seen.append(b.index[b.host_time >= t0[0]])
            for name, fr in frames.items():
                frames_seen[name] = frames_seen.get(name, 0) + sum(f.grab_time >= t0[0] for f in fr)
            if armed.is_set() and not stopper and sum(len(b) for b in enc_batches) and any(frames.values()):
                t = threading.Thread(target=s.stop_episode)
                t.start()
                stopper.append(t)
                t.join(0.5)  # the stop gets every chance to finish before this poll writes what it read

        s.add_listener(listener)
        s.start_episode()
        t0.append(s._t0)
        wait_until(lambda: sum(map(len, seen)) > 500 and sum(frames_seen.values()) > 4, timeout=20)
        armed.set()
        wait_until(lambda: bool(stopper), timeout=20)
        stopper[0].join(20)
        assert not stopper[0].is_alive()
        s.remove_listener(listener)
        path = s.last_episode
    assert path is not None
    with Episode.open(path) as ep:
        stored = set(ep.encoder()["index"].tolist())
        counts = {name: ep.frame_count(name) for name in frames_seen}
    expected = set(np.concatenate(seen).tolist())
    missing = sorted(expected - stored)
    assert not missing, f"{len(missing)} samples the poll had read are not in the episode (first {missing[:3]})"
    for name, n in frames_seen.items():
        assert counts[name] >= n, f"{name}: {n} frames read, {counts[name]} stored"

"""The session in its own process, driven over JSON lines like the GUI will."""

from __future__ import annotations


import pytest

from dexumi.episode.reader import Episode
from dexumi.errors import DexumiError
from dexumi.session.client import SessionClient
from tests.waits import wait_until


def test_server_lifecycle(tmp_path):
    c = SessionClient(status_interval_s=0.2)
    try:
        with pytest.raises(DexumiError, match="open"):
            c.call("start")
        r = c.call("open", config={"out_dir": str(tmp_path / "out"), "sim": True})
        assert len(r["joints"]) == 6
        assert c.call("start", task="pour")["episode"] == 1
        # recording until the episode holds 45 frames of each camera (the file is checked for > 30 below)
        st = wait_until(
            lambda: (
                (s := c.latest_status)
                and s["state"] == "recording"
                and s["episode"] == 1
                and all(x["in_episode"] >= 45 for x in s["streams"])
                and s
            ),
            timeout=60,
            message=lambda: f"45 frames of every stream in episode 1: {c.latest_status}",
        )
        assert st["disk_free_mb"] > 0
        assert {s["name"] for s in st["streams"]} == {"encoder", "wrist0", "wrist1"}
        c.call("outcome", outcome="failure")
        path = c.call("stop", notes="dropped the cup")["path"]
        assert c.call("start")["episode"] == 2
        wait_until(
            lambda: (
                (s := c.latest_status)
                and s["episode"] == 2
                and s["state"] == "recording"
                and all(x["in_episode"] > 0 for x in s["streams"])
            ),
            timeout=60,
            message="episode 2 recording data",
        )
        assert c.call("discard")["path"].endswith("episode_0002.h5.discarded")
        with pytest.raises(DexumiError, match="unknown command"):
            c.call("fly")
    finally:
        assert c.close() == 0
    with Episode.open(path) as ep:
        a = ep.attrs
        assert a["outcome"] == "failure" and a["notes"] == "dropped the cup" and a["task"] == "pour"
        assert len(ep) > 30

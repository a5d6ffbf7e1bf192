"""Replay of an episode with a 2.5 s encoder unplug: the gap is one band as long as the unplug (not 50 capped
instants), traces break instead of bridging it, the clip shows the gap state instead of a normal hand, and the
cursor is not the red of errors."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def gap_episode(tmp_path_factory):
    from dexumi.episode.reader import Episode
    from dexumi.session.config import SessionConfig
    from dexumi.session.session import RecordingSession

    d = tmp_path_factory.mktemp("gap")
    cfg = SessionConfig(
        out_dir=d / "out",
        sim=True,
        sim_camera_size=(320, 240),
        sim_extra_args=["--disconnect-after", "3", "--reconnect-after", "2.5"],
    )
    with RecordingSession(cfg) as s:
        s.start_episode(task="unplug")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until the board is back and has sent for a second
            time.sleep(0.2)
            enc = next(st for st in s.status().streams if st.name == "encoder")
            if enc.reconnects >= 1 and enc.connected and enc.last_data_age_s < 0.2:
                time.sleep(1.0)
                break
        path = s.stop_episode("success", "")
    with Episode.open(path) as ep:
        gaps = ep.f["raw/encoder/gaps"][:]
    assert len(gaps) == 1 and gaps[0, 1] - gaps[0, 0] > 2.0
    return path, float(gaps[0, 1] - gaps[0, 0])


def test_gap_is_one_band_as_long_as_the_unplug(gap_episode):
    from apps.replay.data import ERROR_COLOR, GAP_COLOR, load

    path, seconds = gap_episode
    d = load(path)
    try:
        gaps = [iv for iv in d.intervals if iv.color == GAP_COLOR]
        assert len(gaps) == 1
        assert gaps[0].t1 - gaps[0].t0 == pytest.approx(seconds, abs=0.15)  # not 50 instants = 1.6 s
        n = int(d.in_gap.sum())
        assert n > 50 and abs(n / d.fps - seconds) < 0.2
        # the traces break: NaN on every gap frame, finite just around it
        tr = d.traces(d.action)
        assert np.isnan(tr[d.in_gap]).all() and np.isfinite(tr[~d.in_gap]).all()
        # no red instant markers left inside the band (the band says it whole)
        assert not [
            m
            for m in d.markers
            if d.in_gap[m.frame] and m.color == ERROR_COLOR and m.text.split(":")[0] in ("alignment", "gaps")
        ]
    finally:
        d.close()


def test_clip_shows_the_gap_state_not_a_hand(gap_episode, tmp_path):
    import av

    from apps.replay.data import load
    from apps.replay.render import CAM_H, HAND_W, render_video

    path, _ = gap_episode
    d = load(path)
    try:
        out = tmp_path / "clip.mp4"
        n = render_video(d, out)
        inside = int(np.flatnonzero(d.in_gap)[len(np.flatnonzero(d.in_gap)) // 2])
        outside = int(np.flatnonzero(~d.in_gap)[5])
        cam_w = None
        frames = {}
        with av.open(str(out)) as c:
            for k, fr in enumerate(c.decode(video=0)):
                if k in (inside, outside):
                    frames[k] = fr.to_ndarray(format="rgb24")
        assert n == len(d) and set(frames) == {inside, outside}
        width = frames[inside].shape[1]
        cam_w = width - HAND_W - (width - HAND_W) % 2
        for k, img in frames.items():
            hand = img[30:CAM_H, cam_w : cam_w + HAND_W].astype(int)
            bones = ((hand[..., 2] > 120) & (hand[..., 0] < 100) & (hand[..., 2] - hand[..., 0] > 60)).sum()
            grey = (
                (np.abs(hand[..., 0] - 150) < 20)
                & (np.abs(hand[..., 1] - 150) < 20)
                & (np.abs(hand[..., 2] - 150) < 20)
            ).mean()
            if k == inside:
                assert bones < 30 and grey > 0.6, (bones, grey)
            else:
                assert bones > 200 and grey < 0.1, (bones, grey)
    finally:
        d.close()


def test_chart_breaks_lines_at_missing_values():
    from dexumi.validate.chart import Chart

    t = np.linspace(0, 10, 1001)
    y = np.where((t > 4) & (t < 6), np.nan, 1.0)  # flat line with a hole
    c = Chart("x", width=600, height=200)
    c.line(t, y)
    img = c.render().astype(int)
    L, R = 70, 15
    col = lambda x: int(L + x / 10 * (600 - L - R))
    line = (np.abs(img[..., 0] - img[..., 2]) > 60).any(axis=0)  # coloured (not grey/black) pixels per column
    assert line[col(2)] and line[col(8)]
    assert not line[col(4.5) : col(5.5)].any(), "a straight segment bridges the gap"


def test_cursor_is_not_the_error_colour():
    from apps.replay.data import CURSOR_COLOR, DROP_COLOR, ERROR_COLOR, WARN_COLOR
    from apps.widgets import joint_plot

    assert joint_plot.CURSOR_COLOR == CURSOR_COLOR
    for other in (ERROR_COLOR, WARN_COLOR, DROP_COLOR):
        assert np.abs(np.subtract(CURSOR_COLOR, other)).sum() > 200
    assert (REPO / "apps" / "replay" / "render.py").read_text().count("CURSOR_COLOR") >= 2

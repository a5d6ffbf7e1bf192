"""Sync QA on real sim recordings: latency self-check, calibration drift, rank, TCP remote control.

One sim session (true camera latency 70 ms; the profile says 40 ms for wrist0 and 70 ms for wrist1) is
recorded through the TCP remote control; the other tests work on copies of its episodes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from dexumi.episode import schema as S
from dexumi.errors import DexumiError
from dexumi.validate import rank
from dexumi.episode.latency_check import check_open_file
from dexumi.quality.session_hook import A_DRIFT, EpisodeQA
from dexumi.validate import ValidateConfig, validate_paths

EPISODES = 3
SECONDS = 5.2  # >= 4.6 s: two blocks for the latency estimate's uncertainty
TOKEN = "s3cret-token"


def _record(
    out: Path,
    episodes: int,
    seconds: float,
    latency: float,
    profile: dict,
    tcp: dict | None = None,
    seed: int = 0,
    on_open=None,
    **extra,
) -> list[Path]:
    """Record through the TCP remote control; `on_open(session)` runs once the session is open."""
    from dexumi.session.config import SessionConfig
    from dexumi.session.server import Server
    from dexumi.session.session import RecordingSession
    from dexumi.session.tcp import TcpClient, TcpControl

    cfg = SessionConfig(
        out_dir=out,
        sim=True,
        sim_camera_size=(320, 240),
        sim_camera_latency_s=latency,
        latencies_s=dict(profile),
        sim_seed=seed,
        drift_every=4,
        **extra,
    )
    paths = []
    with RecordingSession(cfg) as s, open(os.devnull, "w") as replies:
        if on_open is not None:
            on_open(s)
        server = Server(replies)
        server.session = s
        ctl = TcpControl(server.handle, "127.0.0.1", 0, TOKEN, max_line=4096).start()
        try:
            c = TcpClient(*ctl.address, token=TOKEN)
            for k in range(episodes):
                n = c.call("start", require=["encoder", "wrist0"], notes=f"take {k}")["episode"]
                time.sleep(seconds)
                if tcp is not None and k == 0:
                    tcp["status_recording"] = c.call("status")["state"]
                    c.call("outcome", outcome="failure")
                    c.call("notes", notes="remote note")
                paths.append(Path(c.call("stop", outcome="success" if k else None)["path"]))
                assert n == k + 1
            if tcp is not None:
                tcp["qa_lines"] = list(s.qa_lines)
                tcp["after_stop_outcome"] = c.call("outcome", outcome="failure")
                try:
                    c.call("start", require=["lsl:not-there"])
                except DexumiError as exc:
                    tcp["gate"] = str(exc)
                tcp["state_after_gate"] = c.call("status")["state"]
                bad = TcpClient(*ctl.address, token="wrong")
                try:
                    bad.call("status")
                except DexumiError as exc:
                    tcp["wrong_token"] = str(exc)
                bad.close()
                tcp["streams"] = c.call("streams")
                try:
                    c.call("close")
                except DexumiError as exc:
                    tcp["close_refused"] = str(exc)
                # bounded: an over-long line is answered and the connection closed
                raw = socket.create_connection(ctl.address, timeout=10)
                raw.sendall(b'{"cmd": "status", "x": "' + b"a" * 10000 + b'"}\n')
                tcp["long_line"] = raw.makefile("rb").readline().decode()
                tcp["long_line_closed"] = raw.recv(10) == b""
                raw.close()
            c.close()
        finally:
            ctl.close()
    return paths


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """The session also records an LSL stream from another process (its own clock: +0.37 s, 50 ppm) and
    publishes dexumi's outlets, which inlets in this process collect (see test_syncqa_lsl.py)."""
    from test_syncqa_lsl import Collector, lsl_sim

    out = tmp_path_factory.mktemp("syncqa") / "day"
    tcp: dict = {}
    name, proc = lsl_sim(90)
    collector = Collector()
    try:
        paths = _record(
            out,
            EPISODES,
            SECONDS,
            0.07,
            {"wrist0": 0.04, "wrist1": 0.07},
            tcp,
            on_open=collector.start,
            lsl_streams=[f"lsl:{name}"],
            lsl_outlets=True,
        )
    finally:
        collector.stop()
        proc.kill()
        proc.wait(10)
        proc.stdout.close()
    tcp["lsl"] = {"name": name, "got": collector.got}
    return paths, tcp


def _report(path: Path) -> dict:
    with h5py.File(path) as f:
        return json.loads(f[S.SYNC_REPORT][0])


@pytest.mark.slow  # a real-time end-to-end run (>10 s): CI's `make test-slow` runs it
def test_wrong_profile_latency_flagged_in_every_episode_right_one_never(session):
    paths, tcp = session
    assert len(paths) == EPISODES
    for p in paths:
        lc = _report(p)["latency_check"]
        w0, w1 = lc["cameras"]["wrist0"], lc["cameras"]["wrist1"]
        assert w0["status"] == "error", w0
        assert abs(w0["difference_s"] - 0.030) < 0.003, w0  # 70 ms true − 40 ms profile
        assert abs(w0["estimate_s"] - 0.070) < 0.003 and w0["profile_s"] == pytest.approx(0.04)
        assert 0 < w0["uncertainty_s"] < 0.006  # two 2 s blocks: a rough figure, far below the 30 ms
        assert w1["status"] == "ok" and abs(w1["difference_s"]) < 0.005, w1
    run = validate_paths(paths, ValidateConfig(), workers=1, progress=False)
    for r in run.episodes:
        c = next(c for c in r.checks if c.check == "latency_drift")
        assert c.level == "error" and "wrist0" in c.message and "wrist1" not in c.message, c.message
    # configurable: with the error threshold above 30 ms it is a warning
    cfg = ValidateConfig(latency_warn_ms=10, latency_error_ms=40)
    r = validate_paths(paths[:1], cfg, workers=1, progress=False).episodes[0]
    assert next(c for c in r.checks if c.check == "latency_drift").level == "warn"
    # the recorder's line after each episode
    line = tcp["qa_lines"][0]
    m = re.search(r"wrist0 (\d+) ms \(profile 40, \+(\d+)\) ERROR", line)
    assert m and abs(int(m.group(1)) - 70) <= 3 and abs(int(m.group(2)) - 30) <= 3, line
    assert re.search(r"wrist1 \d+ ms \(profile 70, [+-]\d\)(;|$)", line), line


@pytest.mark.slow  # a real-time end-to-end run (>10 s): CI's `make test-slow` runs it
def test_tcp_round_trip_token_gate_and_bounds(session):
    paths, tcp = session
    with h5py.File(paths[0]) as f:
        assert f.attrs[S.A_OUTCOME] == "failure" and f.attrs[S.A_NOTES] == "remote note"
    with h5py.File(paths[1]) as f:
        assert f.attrs[S.A_OUTCOME] == "success"
    with h5py.File(paths[-1]) as f:  # outcome after stop edits the last episode
        assert f.attrs[S.A_OUTCOME] == "failure"
    assert tcp["status_recording"] == "recording"
    assert "required stream(s) missing: lsl:not-there" in tcp["gate"]
    assert tcp["state_after_gate"] == "idle"
    assert "refused" in tcp["wrong_token"]
    assert "not allowed over TCP" in tcp["close_refused"]
    assert {s["name"] for s in tcp["streams"]} == {"encoder", "wrist0", "wrist1", f"lsl:{tcp['lsl']['name']}"}
    assert "longer than 4096 bytes" in tcp["long_line"] and tcp["long_line_closed"]


@pytest.mark.slow  # a real-time end-to-end run (>10 s): CI's `make test-slow` runs it
def test_session_records_lsl_stream_and_publishes_outlets(session):
    """The `lsl:NAME` stream (+0.37 s, 50 ppm, another process) lands within 0.5 ms RMS of its true times;
    an LSL inlet receives dexumi's encoder samples, frame indices and markers with the file's counts."""
    paths, info = session
    name, got = info["lsl"]["name"], info["lsl"]["got"]
    for k, path in enumerate(paths):
        with h5py.File(path) as f:
            g = f[f"raw/extra/lsl:{name}"]
            values, t = g["values"][:], g["time"][:]
            clock = json.loads(g.attrs["clock"])
            enc_t = f["raw/encoder/mapped_time"][:]
            frames = f["raw/cameras/wrist0/index"][:]
        assert len(t) > 4.5 * 250 * 0.7
        err = t - values[:, 0]  # channel 0: the sample's true host time
        rms = float(np.sqrt(np.mean(err**2)) * 1e3)
        print(f"episode {k + 1}: LSL stream {rms:.3f} ms RMS, clock {clock}")
        assert rms <= 0.5, rms
        # every encoder sample stamped within the episode went out, and no other
        ts = np.concatenate([x[1] for x in got["encoder"]])
        inside = (ts >= enc_t[0] - 1e-9) & (ts <= enc_t[-1] + 1e-9)
        assert inside.sum() == len(enc_t)
        fi = np.concatenate([np.asarray(x[0]).ravel() for x in got["frames.wrist0"]]).astype(np.int64)
        assert set(frames.tolist()) <= set(fi.tolist())
        marks = [m for x in got["markers"] for m in np.asarray(x[0]).ravel().tolist()]
        assert f"start episode_{k + 1:04d}" in marks
        at_stop = "failure" if k == 0 else "success"  # the last one's outcome was edited after its stop
        assert f"stop episode_{k + 1:04d} {at_stop} stopped" in marks, marks
    marks = [m for x in got["markers"] for m in np.asarray(x[0]).ravel().tolist()]
    assert len(marks) == 2 * len(paths)


def test_tcp_refuses_remote_bind_without_token():
    from dexumi.session.tcp import TcpControl

    with pytest.raises(DexumiError, match="only loopback"):
        TcpControl(lambda r: r, "0.0.0.0", 0)
    with pytest.raises(DexumiError, match="needs a token"):
        TcpControl(lambda r: r, "0.0.0.0", 0, allow_remote=True)


def _fixed_copies(paths: list[Path], out: Path, n: int) -> list[Path]:
    """n copies (numbered 1..n) of the session's episodes, with wrist0 as if its profile had been right: its
    frame times shifted by the 30 ms the profile got wrong, and the self-check redone."""
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for k in range(n):
        dst = out / f"episode_{k + 1:04d}.h5"
        shutil.copyfile(paths[k % len(paths)], dst)
        with h5py.File(dst, "r+") as f:
            g = f[f"{S.CAMERAS}/wrist0"]
            g["mapped_time"][...] = g["mapped_time"][:] - 0.03
            g.attrs["latency_s"] = 0.07
            f.attrs[S.A_NUMBER] = k + 1
            _store_check(f)
        made.append(dst)
    return made


def _store_check(f: h5py.File) -> None:
    rep = json.loads(f[S.SYNC_REPORT][0])
    rep["latency_check"] = check_open_file(f)
    f[S.SYNC_REPORT][0] = json.dumps(rep)


def _offset_channel(path: Path, j: int, deg: float) -> None:
    with h5py.File(path, "r+") as f:
        a = f[f"{S.ENCODER}/angles"]
        v = a[:]
        v[:, j] += np.radians(deg)
        a[...] = v
        e = f[S.EXO_JOINTS]
        x = e[:]
        x[:, j] += np.radians(deg)
        e[...] = x


@pytest.mark.slow  # a real-time end-to-end run (>10 s): CI's `make test-slow` runs it
def test_calibration_drift_of_3_degrees_named_stable_session_quiet(session, tmp_path):
    paths, _ = session
    stable = _fixed_copies(paths, tmp_path / "stable", 6)
    drifting = _fixed_copies(paths, tmp_path / "drift", 6)
    j = 2
    for k, p in enumerate(drifting):
        _offset_channel(p, j, 3.0 * k / (len(drifting) - 1))
    with h5py.File(drifting[0]) as f:
        name = [x.decode() if isinstance(x, bytes) else str(x) for x in f[f"{S.ENCODER}/angles"].attrs["names"]][j]
    cfg = ValidateConfig(severity={"images": "off", "fingertips": "off"})  # not what this test is about
    for folder, expect in ((tmp_path / "stable", None), (tmp_path / "drift", name)):
        run = validate_paths([folder], cfg, workers=1, progress=False)
        c = next(c for f in run.folders for c in f.checks if c.check == "calibration_drift")
        if expect is None:
            assert c.level == "pass", c.message
        else:
            assert c.level == "warn" and f"channel {expect} moved +3." in c.message, c.message
            assert list(c.details["channels"]) == [expect]
    # the session's tracker, every 6 episodes: the line, and the episode that found it carries it
    qa = EpisodeQA(every=6)
    lines = [qa.after(p) for p in drifting]
    assert f"channel {name} moved +3." in lines[-1][-1]
    with h5py.File(drifting[-1]) as f:
        assert name in f.attrs[A_DRIFT]
    qa = EpisodeQA(every=6)
    assert all(len(qa.after(p)) == 1 for p in stable)


def _plant(folder: Path, paths: list[Path], rng: np.random.Generator) -> dict[str, str]:
    """Plant a gap, a latency jump and a jerky stretch in three random episodes; returns name → defect."""
    chosen = rng.choice(len(paths), 3, replace=False)
    planted = {}
    for kind, k in zip(("gap", "latency", "jerk"), chosen):
        p = paths[int(k)]
        planted[p.name] = kind
        with h5py.File(p, "r+") as f:
            t = f[S.TIMESTAMPS][:]
            if kind == "gap":
                secs = float(rng.uniform(0.25, 0.6))
                a = int(rng.integers(10, len(t) - 40))
                b = int(np.searchsorted(t, t[a] + secs))
                v = f[S.VALID][:]
                v[a:b] = 0
                f[S.VALID][...] = v
                rep = json.loads(f[S.SYNC_REPORT][0])
                rep["encoder"]["gaps"].append(
                    {"start": float(t[a]), "end": float(t[b]), "seconds": secs, "reason": "planted"}
                )
                f[S.SYNC_REPORT][0] = json.dumps(rep)
            elif kind == "latency":
                g = f[f"{S.CAMERAS}/wrist{int(rng.integers(0, 2))}"]
                g["mapped_time"][...] = g["mapped_time"][:] + float(rng.uniform(0.04, 0.08))
                _store_check(f)
            else:
                a = int(rng.integers(10, len(t) - 30))
                x = f[S.EXO_JOINTS][:]
                x[a : a + 15] += rng.normal(0, 0.02, x[a : a + 15].shape).astype(x.dtype)  # 1.1° shaking, 0.5 s
                f[S.EXO_JOINTS][...] = x
    return planted


def _trials(session, tmp_path, seeds: range, n: int, fingertips: bool = False) -> list[bool]:
    paths, _ = session
    base = _fixed_copies(paths, tmp_path / "base", n)
    hits = []
    for seed in seeds:
        folder = tmp_path / f"trial{seed}"
        folder.mkdir()
        copies = [Path(shutil.copyfile(p, folder / p.name)) for p in base]
        planted = _plant(folder, copies, np.random.default_rng(seed))
        ranked = rank.rank_paths(copies, fingertips=fingertips)
        top = {r.episode for r in ranked[:3]}
        hits.append(top == set(planted))
        if top != set(planted):
            print("miss", seed, planted, [(r.episode, r.score, r.reasons) for r in ranked[:4]])
        shutil.rmtree(folder)
    return hits


@pytest.mark.slow  # a real-time end-to-end run (>10 s): CI's `make test-slow` runs it
def test_rank_puts_planted_defects_on_top(session, tmp_path):
    hits = _trials(session, tmp_path, range(1), 6, fingertips=True) + _trials(session, tmp_path, range(1, 3), 6)
    assert all(hits)


@pytest.mark.slow
def test_rank_planted_defects_top3_in_95_percent_of_seeded_trials(session, tmp_path):
    hits = _trials(session, tmp_path, range(100, 120), 8)
    print(f"rank: planted defects in the top 3 in {sum(hits)}/{len(hits)} trials")
    assert sum(hits) >= 0.95 * len(hits)


@pytest.mark.slow  # a real-time end-to-end run (>10 s): CI's `make test-slow` runs it
def test_rank_cli_json_reasons_and_suspects_file(session, tmp_path):
    paths, _ = session
    folder = tmp_path / "cli"
    base = _fixed_copies(paths, folder, 4)
    planted = _plant(folder, base, np.random.default_rng(7))
    sus = tmp_path / "suspects.txt"
    cmd = [
        sys.executable,
        "-m",
        "apps.cli.main",
        "rank",
        str(folder),
        "--json",
        "--suspects",
        str(sus),
        "--no-fingertips",
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    rows = doc["episodes"]
    assert [r["rank"] for r in rows] == list(range(1, 5))
    assert all(rows[i]["score"] <= rows[i + 1]["score"] for i in range(3))
    assert {r["episode"] for r in rows[:3]} == set(planted)
    by = {r["episode"]: r for r in rows}
    for name, kind in planted.items():
        text = " ".join(by[name]["reasons"])
        assert {"gap": "gap", "latency": "latency drift", "jerk": "jerky"}[kind] in text, (kind, text)
    print([(r["episode"], r["score"], r["reasons"]) for r in rows])
    names = [ln for ln in sus.read_text().splitlines() if ln and not ln.startswith("#")]
    assert set(names) == set(planted) == set(doc["suspects"])
    # bad input: one line, exit 2, nothing written
    p = subprocess.run(
        [sys.executable, "-m", "apps.cli.main", "rank", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "Traceback" not in p.stderr


@pytest.mark.slow
def test_twenty_normal_episodes_no_false_latency_flag(tmp_path):
    paths = _record(tmp_path / "normal", 20, SECONDS, 0.04, {"wrist0": 0.04, "wrist1": 0.04}, seed=3)
    flagged = []
    for p in paths:
        lc = _report(p)["latency_check"]
        for name, c in lc["cameras"].items():
            if c["status"] in ("warn", "error"):
                flagged.append((p.name, name, c["message"]))
            assert c["status"] == "ok", c
    assert not flagged
    run = validate_paths([tmp_path / "normal"], ValidateConfig(severity={"images": "off"}), workers=1, progress=False)
    assert len(run.episodes) == 20
    assert all(next(c for c in r.checks if c.check == "latency_drift").level == "pass" for r in run.episodes)
    c = next(c for f in run.folders for c in f.checks if c.check == "calibration_drift")
    assert c.level == "pass", c.message


@pytest.mark.slow
def test_recorder_session_process_serves_tcp(tmp_path):
    """The recorder window's session process (apps.recorder.session_host) with --tcp: remote start/stop."""
    from apps.recorder.options import RecorderOptions, host_argv, session_config
    from dexumi.session.client import SessionClient
    from dexumi.session.tcp import TcpClient

    opts = RecorderOptions(out=tmp_path / "day", sim=True, control="127.0.0.1:0", token=TOKEN)
    client = SessionClient(argv=[sys.executable, "-m", "apps.recorder.session_host", *host_argv(opts)])
    try:
        ev = client.events.get(timeout=60)
        assert ev["event"] == "tcp"
        client.call("open", config=session_config(opts), timeout=120)
        c = TcpClient(*ev["address"], token=TOKEN)
        assert c.call("start")["episode"] == 1
        time.sleep(1.0)
        path = Path(c.call("stop", outcome="success")["path"])
        c.close()
        assert path.is_file()
    finally:
        client.close()

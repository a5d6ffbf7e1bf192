"""Several devices in one session (issue 17): two exoskeleton emulators + a tactile emulator, each its own
process on its own pty, recorded by one session; every sample against the emulators' truth logs."""

from __future__ import annotations

import json
import time

import h5py
import numpy as np
import pytest

from dexumi.episode.aligned import refit_encoder_times
from dexumi.session.config import SessionConfig
from dexumi.session.session import RecordingSession
from firmware_bridge.emulator.truth import Fate, read_truth

DRIFT = {"exo_right": 30.0, "exo_left": -20.0, "tactile_right": 45.0}


def _sent(path) -> np.ndarray:
    _, rec = read_truth(path)
    return rec[rec["fate"] == Fate.SENT]


def _start(sim_device, tmp_path, role: str, rate: float, *more: object):
    args = ["--rate", rate, "--drift-ppm", DRIFT[role], "--link", tmp_path / f"tty_{role}", "--seed", len(role)]
    if role.startswith("tactile"):
        args += ["--protocol", "fsr"]
    else:
        args += ["--channels", 16]
    return sim_device(*args, *more)


def _session(tmp_path, right, left, tactile) -> RecordingSession:
    cfg = SessionConfig(
        out_dir=tmp_path / "out",
        protocol="v1",
        encoder_rate_hz=1000.0,
        devices=[
            f"exo_right={right.port}",
            f"exo_left={left.port},protocol=v1,rate=1000",
            f"tactile_right={tactile.port},protocol=fsr",
        ],
        poll_interval_s=0.02,
    )  # the primary exoskeleton comes from exo_right
    return RecordingSession(cfg)


def _device_data(f: h5py.File, role: str) -> dict[str, np.ndarray]:
    """Per sample of one device: raw values, final time, index, segment, device time."""
    g = f["raw/encoder"] if role == "exo_right" else f[f"raw/{role}"]
    n = g["index"].shape[0]
    d = {k: g[k][:n] for k in ("index", "segment", "raw", "device_time_us", "host_time")}
    if role == "exo_right":
        d["time"] = refit_encoder_times(d["device_time_us"], d["host_time"], d["segment"]).time
    else:
        d["time"] = g["time"][:n]
    return d


def _match(role: str, d: dict[str, np.ndarray], truth: np.ndarray, seg: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(rows of `d` of clock segment `seg`, the truth records they are): exoskeletons by sample index, the
    tactile board (no sample counter on its wire) by its 16-bit ms counter."""
    rows = np.flatnonzero(d["segment"] == seg)
    if role.startswith("tactile"):
        key = {int(t) // 1000 % 65536: k for k, t in enumerate(truth["device_time_us"])}
        want = [key.get(int(t) // 1000 % 65536, -1) for t in d["device_time_us"][rows]]
    else:
        key = {int(i): k for k, i in enumerate(truth["index"])}
        want = [key.get(int(i), -1) for i in d["index"][rows]]
    want = np.asarray(want)
    assert np.all(want >= 0), f"{role}: {np.sum(want < 0)} samples the emulator never sent"
    return rows, want


def _record(session: RecordingSession, seconds: float, during=None) -> str:
    session.start_episode(task="bimanual")
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        if during is not None:
            during(time.monotonic() - t0)
        time.sleep(0.05)
    return str(session.stop_episode("success"))


def _check_accuracy(path: str, truths: dict[str, np.ndarray]) -> dict[str, float]:
    with h5py.File(path) as f:
        rep = json.loads(f["meta/sync_report"][0])
        assert f["raw/encoder"].attrs["role"] == "exo_right"
        errors = {}
        for role, truth in truths.items():
            d = _device_data(f, role)
            rows, want = _match(role, d, truth)
            assert len(rows) == len(d["index"])  # one clock segment: nothing else
            tr = truth[want]
            assert np.array_equal(d["raw"][rows], tr["values"]), role  # every sample equals the truth
            if role.startswith("tactile"):
                assert np.all(np.diff(want) == 1), role  # none lost between the first and the last
                # contact truth: the FSR readings rise above their no-load 200 counts exactly while the
                # simulated thumb and index fingertips touch (truth 'angles' of a tactile board: forces in N)
                forces = tr["angles"][:, :2]
                assert (forces > 0).any() and (forces == 0).any()
                assert np.array_equal(d["raw"][rows][:, 12:] > 200, np.round(100 * forces) > 0)
            else:
                assert np.all(np.diff(d["index"]) == 1), role
            clock = rep["encoder"]["clock"]["0"] if role == "exo_right" else rep["devices"][role]["clock"]["0"]
            # 5 ppm, plus what the machine's own delays let any lower envelope see: how far the quickest
            # arrival (receive stamp − true sample time, from the truth log) moves over the run
            quickest = [x.min() for x in np.array_split(d["host_time"][rows] - tr["true_time"], 10)]
            span = tr["true_time"][-1] - tr["true_time"][0]
            allowed = 5.0 + (max(quickest) - min(quickest)) / span * 1e6
            assert abs(clock["drift_ppm"] - DRIFT[role]) < allowed, (role, clock, allowed)
            errors[role] = (tr["true_time"], d["time"][rows] - tr["true_time"])
        lo = max(t[0] for t, _ in errors.values())
        hi = min(t[-1] for t, _ in errors.values())
        grid = np.linspace(lo, hi, 2000)
        e = {r: np.interp(grid, t, err) for r, (t, err) in errors.items()}
        roles = list(e)
        rms = {
            f"{a}-{b}": float(np.sqrt(np.mean((e[a] - e[b]) ** 2)) * 1e3)
            for i, a in enumerate(roles)
            for b in roles[i + 1 :]
        }
        assert max(rms.values()) <= 0.5, rms  # cross-device alignment error, ms RMS
        # the aligned per-side view exists and is mostly valid on this clean run
        assert f["observations/left/valid"][:].mean() > 0.95
        assert f["observations/right/tactile_valid"][:].mean() > 0.95
        assert f["observations/right/qpos"].shape == f["observations/qpos"].shape  # the primary's soft link
        assert f["actions/left"].shape[0] == f["timestamps"].shape[0]
        return rms


def _run_accuracy(sim_device, tmp_path, seconds: float) -> None:
    right = _start(sim_device, tmp_path, "exo_right", 1000)
    left = _start(sim_device, tmp_path, "exo_left", 1000)
    tactile = _start(sim_device, tmp_path, "tactile_right", 1000)
    with _session(tmp_path, right, left, tactile) as s:
        path = _record(s, seconds)
        rows = {st.name: st for st in s.status().streams}
        assert {"encoder", "exo_left", "tactile_right"} <= set(rows)  # one health row per device
        assert rows["tactile_right"].kind == "tactile" and rows["exo_left"].connected
    for p in (right, left, tactile):
        p.stop()
    _check_accuracy(
        path, {"exo_right": _sent(right.truth), "exo_left": _sent(left.truth), "tactile_right": _sent(tactile.truth)}
    )


@pytest.mark.slow  # a real-time end-to-end run (>10 s): CI's `make test-slow` runs it
def test_two_exoskeletons_and_a_tactile_board_equal_their_truth_10s(sim_device, tmp_path):
    _run_accuracy(sim_device, tmp_path, 10.0)


@pytest.mark.slow
def test_two_exoskeletons_and_a_tactile_board_equal_their_truth_60s(sim_device, tmp_path):
    _run_accuracy(sim_device, tmp_path, 60.0)


@pytest.mark.slow
def test_unplugging_one_device_leaves_the_others_and_records_its_gap(sim_device, tmp_path):
    right = _start(sim_device, tmp_path, "exo_right", 1000)
    left = _start(sim_device, tmp_path, "exo_left", 1000)
    tactile = _start(sim_device, tmp_path, "tactile_right", 500)
    state = {"replug": None}

    def unplug_then_replug(t: float) -> None:
        if t > 2.5 and left.proc.poll() is None and state["replug"] is None:
            left.stop()  # the process dies: its pty goes away
            state["replug"] = time.monotonic()
        if state["replug"] is not None and state.get("new") is None and time.monotonic() - state["replug"] > 1.0:
            state["new"] = _start(sim_device, tmp_path, "exo_left", 1000)  # same --link path: plugged back

    with _session(tmp_path, right, left, tactile) as s:
        path = _record(s, 7.0, unplug_then_replug)
        row = {st.name: st for st in s.status().streams}["exo_left"]
        assert row.connected and row.reconnects == 1
    for p in (right, tactile, state["new"]):
        p.stop()
    with h5py.File(path) as f:
        rep = json.loads(f["meta/sync_report"][0])
        gaps = f["raw/exo_left/gaps"][:]
        assert len(gaps) == 1 and 0.9 < gaps[0, 1] - gaps[0, 0] < 6.0, gaps  # its gap is recorded
        d = _device_data(f, "exo_left")
        assert set(np.unique(d["segment"])) == {0, 1}
        for seg, proc in ((0, left), (1, state["new"])):  # both connections: every sample equals its truth
            rows, want = _match("exo_left", d, _sent(proc.truth), seg)
            assert len(rows) > 1000 and np.array_equal(d["raw"][rows], _sent(proc.truth)["values"][want])
        assert d["host_time"][d["segment"] == 1][0] >= gaps[0, 1] - 0.5  # it came back, after the gap
        for role in ("exo_right", "tactile_right"):  # the others went on: one segment, nothing missing
            other = _device_data(f, role)
            assert set(np.unique(other["segment"])) == {0}
            step = np.diff(other["host_time"])
            assert step.max() < 0.5, (role, step.max())
        assert rep["encoder"]["missing_samples"] == 0 and not rep["encoder"]["gaps"]
        assert rep["devices"]["tactile_right"]["missing_samples"] == 0 and not rep["devices"]["tactile_right"]["gaps"]
        ts, valid = f["timestamps"][:], f["observations/left/valid"][:]
        in_gap = (ts > gaps[0, 0] + 0.05) & (ts < gaps[0, 1] - 0.05)
        assert in_gap.any() and not valid[in_gap].any() and valid[~in_gap].mean() > 0.8

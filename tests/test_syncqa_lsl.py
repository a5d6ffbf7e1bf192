"""Lab Streaming Layer: a foreign-clock outlet in another process recorded as `lsl:NAME`, dexumi's outlets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid

import h5py
import numpy as np
import pytest

pytest.importorskip("mne_lsl")

from dexumi.devices.lsl import LslInletStream, map_times  # noqa: E402


def _sim(name: str, seconds: float, offset: float = 0.37, ppm: float = 50.0) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-m", "dexumi.devices.lsl_sim", "--name", name, "--offset", str(offset),
                          "--drift-ppm", str(ppm), "--duration", str(seconds), "--rate", "250"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert p.stdout.readline().startswith("ready")
    return p


def _collect(stream: LslInletStream, seconds: float) -> dict[str, np.ndarray]:
    bs = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        bs += stream.read()
        time.sleep(0.05)
    return {"values": np.concatenate([b.values for b in bs]), "stamp": np.concatenate([b.stamp for b in bs]),
            "host": np.concatenate([b.host_time for b in bs]),
            "segment": np.concatenate([np.full(len(b), b.segment) for b in bs])}


@pytest.mark.slow
def test_foreign_clock_mapped_within_half_ms_and_drift_found():
    """+0.37 s offset, 50 ppm drift, 20 s: the final fit puts samples within 0.5 ms RMS of their true time."""
    name = "dexumi-test-" + uuid.uuid4().hex[:8]
    p = _sim(name, 24)
    try:
        s = LslInletStream("lsl:" + name).start()
        d = _collect(s, 20)
        s.close()
    finally:
        p.wait(30)
    t, fits = map_times(d["stamp"], d["host"], d["segment"])
    err = t - d["values"][:, 0]  # channel 0 is the sample's true host time
    rms = float(np.sqrt(np.mean(err ** 2)) * 1e3)
    print(f"LSL mapping {rms:.3f} ms RMS over {len(err)} samples, fit {fits}")
    assert len(err) > 20 * 250 * 0.7
    assert rms <= 0.5, rms
    assert abs(fits["0"]["drift_ppm"] - 50) < 15, fits
    # without the mapping the samples would be 0.37 s off
    assert abs(np.median(d["stamp"] - d["values"][:, 0]) - 0.37) < 0.01


def _pull_all(inlet, out: list, stop: threading.Event) -> None:
    while not stop.is_set():
        data, ts = inlet.pull_chunk(timeout=0.1, max_samples=4096)
        if len(ts):
            out.append((data.copy() if hasattr(data, "copy") else [list(x) for x in data], np.array(ts)))


def test_session_records_lsl_stream_and_publishes_outlets(tmp_path):
    """A session records an `lsl:NAME` stream mapped to within 0.5 ms RMS; an LSL inlet receives dexumi's
    encoder samples, frame indices and episode markers with the counts the episode file holds."""
    from mne_lsl import lsl

    from dexumi.session.config import SessionConfig
    from dexumi.session.session import RecordingSession

    name = "dexumi-test-" + uuid.uuid4().hex[:8]
    p = _sim(name, 40)
    cfg = SessionConfig(out_dir=tmp_path / "day", sim=True, sim_camera_size=(160, 120), lsl_streams=[f"lsl:{name}"],
                        lsl_outlets=True, required_streams=[f"lsl:{name}"])
    got: dict[str, list] = {}
    stop = threading.Event()
    threads = []
    try:
        with RecordingSession(cfg) as s:
            src = s.lsl.outlets.source
            for stream in ("encoder", "frames.wrist0", "markers"):
                infos = lsl.resolve_streams(timeout=5, source_id=f"{src}.{stream}", minimum=1)
                assert infos, stream
                inlet = lsl.StreamInlet(infos[0])
                inlet.open_stream(timeout=5)
                got[stream] = []
                th = threading.Thread(target=_pull_all, args=(inlet, got[stream], stop), daemon=True)
                th.start()
                threads.append(th)
            time.sleep(1.0)
            s.start_episode()
            time.sleep(4.0)
            path = s.stop_episode("success")
            time.sleep(1.0)
            assert any(x.name == f"lsl:{name}" and x.kind == "lsl" for x in s.status().streams)
    finally:
        stop.set()
        for th in threads:
            th.join(5)
        p.kill()
        p.wait(10)
    with h5py.File(path) as f:
        g = f[f"raw/extra/lsl:{name}"]
        values, t = g["values"][:], g["time"][:]
        clock = json.loads(g.attrs["clock"])
        enc_t = f["raw/encoder/mapped_time"][:]
        frames = f["raw/cameras/wrist0/index"][:]
    assert len(t) > 3.5 * 250 * 0.7
    err = t - values[:, 0]
    rms = float(np.sqrt(np.mean(err ** 2)) * 1e3)
    print(f"session LSL stream: {rms:.3f} ms RMS, clock {clock}")
    assert rms <= 0.5, rms
    # the encoder outlet carries every sample: those stamped within the episode are exactly its samples
    ts = np.concatenate([x[1] for x in got["encoder"]])
    inside = (ts >= enc_t[0] - 1e-9) & (ts <= enc_t[-1] + 1e-9)
    assert inside.sum() == len(enc_t)
    fi = np.concatenate([np.asarray(x[0]).ravel() for x in got["frames.wrist0"]]).astype(np.int64)
    assert set(frames.tolist()) <= set(fi.tolist())
    marks = [m for x in got["markers"] for m in np.asarray(x[0]).ravel().tolist()]
    assert marks == ["start episode_0001", "stop episode_0001 success stopped"], marks


def test_missing_lsl_stream_is_one_line(tmp_path):
    from dexumi.errors import DexumiError

    s = LslInletStream("lsl:dexumi-nobody-" + uuid.uuid4().hex[:6], resolve_timeout_s=0.5, floor=False)
    with pytest.raises(DexumiError, match="not found"):
        s.start()
    assert os.environ.get("DEXUMI_NO_SUCH") is None

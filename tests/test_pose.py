"""Wrist pose sources (pose:sim, pose:udp), clock mapping and alignment, measured against the truth."""

from __future__ import annotations

import socket
import sys
import threading
import time

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from dexumi.devices.pose import LOST, TRACKING, make_pose, samples_to_arrays
from dexumi.devices.pose.sim import SimPose, SimPoseConfig
from dexumi.devices.pose.udp import UdpPose, encode_message, parse_message
from dexumi.errors import DexumiError
from dexumi.pose import align_poses, pose_action, pose_matrices, pose_times, relative_to_first


def read_all(src, timeout: float = 2.0) -> list:
    out = []
    while (s := src.read(timeout)) is not None:
        out.append(s)
    return out


def angle_deg(q_a: np.ndarray, q_b: np.ndarray) -> np.ndarray:
    return np.degrees((Rotation.from_quat(q_a).inv() * Rotation.from_quat(q_b)).magnitude())


# ---------------------------------------------------------------------------------------------- specs


def test_spec_grammar():
    s = make_pose(
        "pose:sim:rate=200,latency=20ms,jitter=1ms,drift=50,drop=0.01,loss=0.002,loss_s=80ms,"
        "noise=0.5,seed=3,script=still,samples=10,name=tracker"
    )
    assert isinstance(s, SimPose) and s.name == "tracker"
    c = s.config
    assert (c.rate, c.latency_s, c.jitter_s, c.drift_ppm, c.drop, c.loss, c.loss_s, c.seed, c.samples) == (
        200.0,
        0.02,
        0.001,
        50.0,
        0.01,
        0.002,
        0.08,
        3,
        10,
    )
    assert c.noise_m == pytest.approx(0.0005)
    u = make_pose("pose:udp:9870:name=phone,host=127.0.0.1,batch=5ms")
    assert isinstance(u, UdpPose) and (u.port, u.name, u.host, u.batch_s) == (9870, "phone", "127.0.0.1", 0.005)
    assert make_pose("sim").name == "sim"


@pytest.mark.parametrize(
    "spec, words",
    [
        ("pose:kinect", "unknown pose spec"),
        ("pose:sim:rate=fast", "not a number"),
        ("pose:sim:latency=20", "needs a number with a unit"),
        ("pose:sim:drop=1.5", "drop must be in"),
        ("pose:sim:colour=red", "unknown sim option"),
        ("pose:sim:script=dance", "script="),
        ("pose:udp:http", "needs a port"),
        ("pose:udp:99999", "port must be"),
        ("pose:udp:9870:ttl=3", "unknown udp"),
        ("pose:udp:9870:batch=1s", "batch must be"),
        ("pose:sim:rate", "is not key=value"),
    ],
)
def test_bad_specs_are_one_line_errors(spec, words):
    with pytest.raises(DexumiError) as e:
        make_pose(spec)
    assert words in str(e.value) and "\n" not in str(e.value)


# -------------------------------------------------------------------------------------------- pose:sim


def test_sim_pose_is_the_worlds_wrist_pose():
    from dexumi.sim.world import World

    src = SimPose(SimPoseConfig(rate=100, samples=400, epoch=0.0)).open(start_time=0.0)  # all in the past
    samples = read_all(src)
    src.close()
    assert [s.index for s in samples] == list(range(400))
    picks = samples[::37]
    truth = World().truth(np.array([src.device_to_capture(s.device_time) for s in picks]))
    for s, T in zip(picks, truth.wrist):
        assert np.abs(s.position - T[:3, 3]).max() < 1e-9
        assert angle_deg(s.orientation, Rotation.from_matrix(T[:3, :3]).as_quat()) < 1e-6


def test_sim_dropouts_and_tracking_loss_counted_never_interpolated():
    cfg = SimPoseConfig(rate=200, samples=3000, drop=0.01, loss=0.002, loss_s=0.06, seed=7, script="pick")
    src = SimPose(cfg).open(start_time=time.monotonic() - 30.0)  # delivered at once: a fast test
    samples = read_all(src)
    src.close()
    truth = src.truth()
    assert len(truth) == 3000
    a = samples_to_arrays(samples)
    # every dropped sample is counted by the sequence numbers, every lost one by its state
    dropped_seen = int(np.sum(np.diff(np.concatenate([[-1], a["index"]])) - 1))
    assert dropped_seen == int(truth["dropped"].sum()) > 10
    delivered = truth[truth["dropped"] == 0]
    assert np.array_equal(a["index"], delivered["index"])
    assert np.array_equal(a["state"], delivered["state"])
    assert int((a["state"] == LOST).sum()) == int(((truth["state"] == LOST) & (truth["dropped"] == 0)).sum()) > 10
    assert np.isnan(a["position"][a["state"] == LOST]).all()

    times = src.device_to_capture(a["device_time"])
    ft = src.start_time + np.arange(0.013, 14.9, 1 / 30)
    tl = align_poses(times, a["position"], a["orientation"], a["state"], ft, index=a["index"])
    # expected validity from the truth: both truth samples around the frame delivered and tracking
    good = (truth["dropped"] == 0) & (truth["state"] == TRACKING)
    i = np.floor((ft - src.start_time) * cfg.rate + 1e-9).astype(int)
    expected = good[i] & good[i + 1]
    assert np.array_equal(tl.valid, expected)
    assert (~tl.valid).sum() >= 10 and tl.valid.sum() > 300
    assert np.isnan(tl.position[~tl.valid]).all() and np.isnan(tl.orientation[~tl.valid]).all()
    T = src.pose_at(ft[tl.valid])
    assert np.abs(tl.position[tl.valid] - T[:, :3, 3]).max() < 1e-4
    assert angle_deg(tl.orientation[tl.valid], Rotation.from_matrix(T[:, :3, :3]).as_quat()).max() < 0.05


def test_sim_clock_mapping_with_latency_jitter_drift():
    """Real time: 200 Hz for 2.6 s; final fit − calibrated latency vs the truth's capture times."""
    cfg = SimPoseConfig(rate=200, samples=520, latency_s=0.02, jitter_s=0.001, drift_ppm=50, offset_s=5000.0)
    src = SimPose(cfg).open()
    samples = read_all(src)
    src.close()
    a = samples_to_arrays(samples)
    t, timing = pose_times(a["device_time"], a["host_time"], src.clock.final(), latency_s=cfg.latency_s)
    truth = src.truth()
    err = t - truth["capture_time"][a["index"]]
    assert timing.method == "final clock fit" and len(t) == 520
    assert np.sqrt(np.mean(err**2)) < 0.5e-3, err


# -------------------------------------------------------------------------------------------- pose:udp


def test_message_format():
    seq, t, p, q, state, quality = parse_message(encode_message(3, 12.5, [1, 2, 3], [0, 0, 0, 1], quality=0.75))
    assert (seq, t, state, quality) == (3, 12.5, TRACKING, 0.75) and list(p) == [1, 2, 3] and list(q) == [0, 0, 0, 1]
    assert parse_message(b'{"t": 1, "state": "lost"}')[4] == LOST
    for bad in (
        b"\xff",
        b"[1]",
        b'{"p": [0,0,0], "q": [0,0,0,1]}',
        b'{"t": 1, "p": [0,0], "q": [0,0,0,1]}',
        b'{"t": 1, "p": [0,0,0], "q": [0,0,0,3]}',
        b'{"t": 1, "state": "fine"}',
        b'{"t": "now"}',
    ):
        with pytest.raises(ValueError):
            parse_message(bad)


def test_udp_offset_and_drift_mapped_within_half_a_millisecond():
    src = UdpPose(0, "phone", "127.0.0.1").open()
    offset, drift, rate, n = 12345.678, 50e-6, 200.0, 560
    sent: dict[int, float] = {}
    t0 = time.monotonic()

    def phone() -> None:
        out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        out.sendto(b"not json", ("127.0.0.1", src.port))
        for k in range(n):
            while time.monotonic() < t0 + k / rate:
                time.sleep(0.0005)
            now = time.monotonic()
            sent[k] = now
            R = Rotation.from_euler("z", 0.01 * k)
            msg = encode_message(
                k,
                offset + (now - t0) * (1 + drift),
                [0.001 * k, 0, 0.5],
                R.as_quat(),
                "lost" if k % 97 == 50 else "tracking",
            )
            out.sendto(msg, ("127.0.0.1", src.port))
        out.close()

    th = threading.Thread(target=phone)
    th.start()
    samples = []
    while len(samples) < n and (s := src.read(2.0)) is not None:
        samples.append(s)
    th.join()
    src.close()
    assert src.bad == 1
    assert src.kernel_timestamps == sys.platform.startswith("linux")
    a = samples_to_arrays(samples)
    assert list(a["index"]) == list(range(n)) and int((a["state"] == LOST).sum()) == len(range(50, n, 97))
    est = src.clock.final()
    t, _ = pose_times(a["device_time"], a["host_time"], est)
    err = t - np.array([sent[k] for k in a["index"]])
    assert np.sqrt(np.mean(err**2)) < 0.5e-3, (est, err)
    assert abs(est.drift_ppm - 50) < 100  # 2.8 s can only roughly see 50 ppm; the mapping is what counts


def test_udp_port_in_use_is_one_line_error():
    a = UdpPose(0, host="127.0.0.1").open()
    try:
        with pytest.raises(DexumiError, match="cannot listen"):
            UdpPose(a.port, host="127.0.0.1").open()
    finally:
        a.close()


# ------------------------------------------------------------------------------- alignment, actions


def test_align_never_crosses_loss_and_slerps():
    t = np.array([0.0, 0.01, 0.02, 0.03, 0.04, 0.05])
    rots = Rotation.from_euler("z", np.array([0, 10, 20, 30, 40, 50])[:, None], degrees=True).as_quat()
    pos = np.array([[k * 0.01, 0, 0] for k in range(6)], float)
    state = np.array([TRACKING, TRACKING, LOST, TRACKING, TRACKING, TRACKING])
    pos[2], rots[2] = np.nan, np.nan
    index = np.array([0, 1, 2, 3, 5, 6])  # sample 4 dropped between t=0.03 and t=0.04
    ft = np.array([0.005, 0.015, 0.025, 0.03, 0.035, 0.045, 0.06])
    tl = align_poses(t, pos, rots, state, ft, index=index)
    assert list(tl.valid) == [True, False, False, True, False, True, False]
    assert angle_deg(tl.orientation[0], Rotation.from_euler("z", 5, degrees=True).as_quat()) < 1e-9
    assert tl.position[5, 0] == pytest.approx(0.045)


def test_relative_to_first_and_action_names():
    rng = np.random.default_rng(1)
    p = rng.normal(size=(5, 3))
    q = Rotation.random(5, random_state=2).as_quat()
    valid = np.array([False, True, True, True, True])
    rp, rq = relative_to_first(p, q, valid)
    T = pose_matrices(p, q)
    want = np.linalg.inv(T[1]) @ T[3]
    assert np.isnan(rp[0]).all() and np.allclose(rp[1], 0) and angle_deg(rq[1], [0, 0, 0, 1]) < 1e-9
    assert np.allclose(rp[3], want[:3, 3])
    act, names = pose_action(p, q, valid, frame="relative", rotation="rot6d")
    assert names == [
        "wrist_x",
        "wrist_y",
        "wrist_z",
        "wrist_r00",
        "wrist_r10",
        "wrist_r20",
        "wrist_r01",
        "wrist_r11",
        "wrist_r21",
    ]
    assert np.allclose(act[3, 3:6], want[:3, 0]) and np.allclose(act[3, 6:9], want[:3, 1])
    act, names = pose_action(p, q, None, frame="absolute", rotation="quat")
    assert names[3:] == ["wrist_qx", "wrist_qy", "wrist_qz", "wrist_qw"] and np.allclose(act[:, :3], p)


def test_sim_close_is_prompt_and_reconnect_restarts():
    src = make_pose("pose:sim:rate=100,latency=50ms").open()
    first = src.read(2.0)
    assert first is not None and first.index == 0
    t = time.monotonic()
    src.reconnect()
    again = src.read(2.0)
    src.close()
    assert time.monotonic() - t < 1.5 and again is not None and again.index == 0 and not src.opened
    with pytest.raises(DexumiError, match="not open"):
        src.read(0.1)


def test_udp_limited_state_and_silence():
    src = UdpPose(0, host="127.0.0.1", batch_s=0.0).open()
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.sendto(encode_message(0, 1.0, [0, 0, 1], [0, 0, 0, 1], "limited"), ("127.0.0.1", src.port))
    s = src.read(2.0)
    assert s is not None and s.state == 1 and s.quality == 0.5 and s.position[2] == 1.0
    t = time.monotonic()
    assert src.read(0.2) is None and 0.15 < time.monotonic() - t < 1.0  # silence: None after the timeout
    out.close()
    src.close()

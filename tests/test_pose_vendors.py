"""pose:record3d and pose:openvr against fake vendor modules with the real APIs' shape (put on sys.path here),
and against the real devices (`hardware`)."""

from __future__ import annotations

import os
import sys
import textwrap
import time

import numpy as np
import pytest

from dexumi.devices.pose import LIMITED, LOST, TRACKING, PoseLost, make_pose
from dexumi.errors import DexumiError

FAKE_RECORD3D = '''
"""Fake `record3d` (the package's API shape): a device thread calling on_new_frame at 60 Hz."""
import threading, time, math

class DeviceInfo:
    def __init__(self, udid, product_id=4776):
        self.udid, self.product_id = udid, product_id

class CameraPose:
    def __init__(self, qx, qy, qz, qw, tx, ty, tz):
        self.qx, self.qy, self.qz, self.qw, self.tx, self.ty, self.tz = qx, qy, qz, qw, tx, ty, tz

DEVICES = [DeviceInfo("00008110-A")]
STATE = {"tracking_after": 3, "stop_after": None, "connects": 0, "sent": []}

def truth(k):
    a = 0.01 * k
    return CameraPose(0.0, 0.0, math.sin(a / 2), math.cos(a / 2), 0.1 * k, -0.05 * k, 1.0)

class Record3DStream:
    def __init__(self):
        self.on_new_frame = None
        self.on_stream_stopped = None
        self._pose = None
        self._run = False

    @staticmethod
    def get_connected_devices():
        return list(DEVICES)

    def connect(self, dev):
        if dev not in DEVICES:
            return False
        STATE["connects"] += 1
        self._run = True
        threading.Thread(target=self._loop, daemon=True).start()
        return True

    def _loop(self):
        k = 0
        while self._run:
            time.sleep(1 / 60)
            if STATE["stop_after"] is not None and k >= STATE["stop_after"]:
                STATE["stop_after"] = None
                self._run = False
                self.on_stream_stopped()
                return
            self._pose = truth(k) if k >= STATE["tracking_after"] else CameraPose(0, 0, 0, 1, 0, 0, 0)
            STATE["sent"].append((k, time.monotonic()))
            self.on_new_frame()
            k += 1

    def get_camera_pose(self):
        return self._pose

    def disconnect(self):
        self._run = False
'''

FAKE_OPENVR = '''
"""Fake `openvr` (pyopenvr's API shape): one tracker moving 1 m/s along x on the host clock."""
import time

VRApplication_Other = 4
TrackingUniverseStanding = 1
k_unMaxTrackedDeviceCount = 64
Prop_SerialNumber_String = 1002
TrackingResult_Running_OK = 200
TrackingResult_Running_OutOfRange = 201
STATE = {"serial": "LHR-FAKE01", "index": 3, "connected": True, "valid": True, "result": 200, "inits": 0,
         "t0": time.monotonic()}

def position(t):
    return (1.0 * (t - STATE["t0"]), 0.2, 1.1)

class Pose:
    def __init__(self, m, valid, result):
        self.mDeviceToAbsoluteTracking, self.bPoseIsValid, self.eTrackingResult = m, valid, result

class System:
    def isTrackedDeviceConnected(self, i):
        return i == STATE["index"] and STATE["connected"]

    def getStringTrackedDeviceProperty(self, i, prop):
        assert prop == Prop_SerialNumber_String
        return STATE["serial"] if i == STATE["index"] else ""

    def getDeviceToAbsoluteTrackingPose(self, universe, predict, count):
        t = time.monotonic()
        x, y, z = position(t)
        m = [[0.0, -1.0, 0.0, x], [1.0, 0.0, 0.0, y], [0.0, 0.0, 1.0, z]]  # 90 deg about z
        out = [Pose([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], False, 100) for _ in range(count)]
        out[STATE["index"]] = Pose(m, STATE["valid"], STATE["result"])
        STATE.setdefault("calls", []).append(t)
        return out

def init(kind):
    STATE["inits"] += 1
    return System()

def shutdown():
    pass
'''


@pytest.fixture
def fake(tmp_path, monkeypatch):
    def put(name: str, text: str):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(text))
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.delitem(sys.modules, name, raising=False)
        return __import__(name)

    yield put
    for name in ("record3d", "openvr"):
        sys.modules.pop(name, None)


def _read(src, n, timeout=5.0):
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n and time.monotonic() < deadline:
        s = src.read(0.5)
        if s is not None:
            out.append(s)
    return out


def test_record3d_poses_clock_loss_and_reconnect(fake):
    rec = fake("record3d", FAKE_RECORD3D)
    src = make_pose("pose:record3d")
    assert src.name == "record3d" and not src.counts_samples
    src.open()
    try:
        got = _read(src, 20)
        assert len(got) == 20
        # ARKit before tracking (identity at the origin) is LOST, never a pose at 0
        assert [s.state for s in got[:3]] == [LOST] * 3 and np.isnan(got[0].position).all()
        for s in got[3:]:
            p = rec.truth(s.index)
            assert np.allclose(s.position, [p.tx, p.ty, p.tz]) and np.allclose(s.orientation, [p.qx, p.qy, p.qz, p.qw])
            assert s.state == TRACKING
        # the arrival time is the device time: the fake's send instants within a few ms, mapped onto themselves
        sent = dict(rec.STATE["sent"])
        lag = np.array([s.host_time - sent[s.index] for s in got])
        assert (lag >= 0).all() and np.median(lag) < 0.005
        mapped = np.array([s.mapped_time - s.host_time for s in got[1:]])
        assert np.abs(mapped).max() < 1e-3
        # the app stops streaming → PoseLost once the queue is drained; reconnect streams again
        rec.STATE["stop_after"] = 0
        with pytest.raises(PoseLost, match="stopped"):
            for _ in range(200):
                src.read(0.05)
        src.reconnect()
        assert rec.STATE["connects"] == 2 and len(_read(src, 5)) == 5
    finally:
        src.close()
    rec.DEVICES.clear()
    with pytest.raises(DexumiError, match="no Record3D device"):
        make_pose("pose:record3d").open()


def test_record3d_missing_package_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "record3d", None)
    with pytest.raises(DexumiError, match="pip install record3d"):
        make_pose("pose:record3d:0").open()


def test_openvr_pose_states_disconnect_reconnect(fake):
    ovr = fake("openvr", FAKE_OPENVR)
    with pytest.raises(DexumiError, match="serial"):
        make_pose("pose:openvr:")
    with pytest.raises(DexumiError, match="rate=HZ"):
        make_pose("pose:openvr:LHR-FAKE01:rate=0")
    with pytest.raises(DexumiError, match="no tracked device with serial 'LHR-OTHER'"):
        make_pose("pose:openvr:LHR-OTHER").open()
    src = make_pose("pose:openvr:LHR-FAKE01:rate=100").open()
    try:
        got = _read(src, 30)
        assert len(got) == 30 and all(s.state == TRACKING for s in got)
        # the 3x4 matrix → position and a scalar-last quaternion (90° about z); sampled at the poll's host time
        assert np.allclose(got[0].orientation, [0, 0, np.sqrt(0.5), np.sqrt(0.5)])
        x_at_host = np.array([ovr.position(s.host_time)[0] for s in got])
        assert np.abs(np.array([s.position[0] for s in got]) - x_at_host).max() < 0.002  # < 2 ms at 1 m/s
        rate = (len(got) - 1) / (got[-1].host_time - got[0].host_time)
        assert 60 < rate < 110
        ovr.STATE["result"] = ovr.TrackingResult_Running_OutOfRange
        time.sleep(0.1)
        while src.read(0.0) is not None:
            pass
        assert _read(src, 3)[-1].state == LIMITED
        ovr.STATE["valid"] = False
        time.sleep(0.1)
        while src.read(0.0) is not None:
            pass
        s = _read(src, 1)[0]
        assert s.state == LOST and np.isnan(s.position).all()
        ovr.STATE.update(connected=False)
        with pytest.raises(PoseLost, match="disconnected"):
            for _ in range(100):
                src.read(0.05)
        ovr.STATE.update(connected=True, valid=True, result=200)
        inits = ovr.STATE["inits"]
        src.reconnect()
        assert ovr.STATE["inits"] == inits + 1 and _read(src, 3)[-1].state == TRACKING
    finally:
        src.close()


@pytest.mark.hardware
def test_record3d_real_device():
    """An iPhone with Record3D streaming over USB: poses arrive at tens of hertz and ARKit tracks."""
    pytest.importorskip("record3d")
    with make_pose("pose:record3d") as src:
        got = _read(src, 60, timeout=10.0)
    assert len(got) >= 30 and any(s.state == TRACKING for s in got)


@pytest.mark.hardware
def test_openvr_real_tracker():
    """DEXUMI_OPENVR_SERIAL=LHR-… with SteamVR running: 200 Hz poses of that tracker."""
    pytest.importorskip("openvr")
    serial = os.environ.get("DEXUMI_OPENVR_SERIAL")
    if not serial:
        pytest.skip("set DEXUMI_OPENVR_SERIAL to a tracker's serial")
    with make_pose(f"pose:openvr:{serial}") as src:
        got = _read(src, 200, timeout=5.0)
    assert len(got) >= 150 and any(s.state == TRACKING for s in got)

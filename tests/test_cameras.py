"""Camera sources, spec strings, the grabber's drop detection, and the file source — against ground truth."""

from __future__ import annotations

import json
import subprocess
import time

import av
import cv2
import h5py
import numpy as np
import pytest

from conftest import DEXUMI, REPO
from dexumi.devices.cameras import (
    CameraLost,
    CameraSource,
    FileCamera,
    FrameGrabber,
    GrabberConfig,
    OpenCVCamera,
    SimCamera,
    list_cameras,
    make_camera,
    open_camera,
)
from dexumi.devices.cameras.base import CameraSettings
from dexumi.finger_bars import finger_flexion, measure_flexion, read_frame_number
from dexumi.episode.frames import CameraFrameStore, frame_count, read_jpeg
from dexumi.errors import DexumiError
from dexumi.types import CameraFrame


# ------------------------------------------------------------------------------------------------ specs


def test_specs_select_sources():
    assert isinstance(make_camera("0"), OpenCVCamera) and make_camera("0").device == 0
    assert make_camera("/dev/video2").device == "/dev/video2"
    assert make_camera("/dev/v4l/by-id/usb-Cam-video-index0").name == "usb-Cam-video-index0"
    sim = make_camera("sim:latency=40ms,fps=60,width=1280,height=800,seed=3,epoch=12.5,drop=0.01,joints=12")
    assert isinstance(sim, SimCamera)
    c = sim.config
    assert (c.latency_s, c.fps, c.width, c.height, c.seed, c.epoch, c.drop, c.joints) == (
        0.04,
        60.0,
        1280,
        800,
        3,
        12.5,
        0.01,
        12,
    )
    assert make_camera("sim:latency=0.12s,size=320x240").config.latency_s == pytest.approx(0.12)
    assert isinstance(make_camera("file:clip.avi"), FileCamera)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("sim:latency=40", "needs a number with a unit"),
        ("sim:fps=fast", "is not a number"),
        ("sim:colour=red", "unknown sim option"),
        ("sim:drop=1.5", "drop must be in"),
        ("sim:size=big", "must look like 1280x800"),
        ("webcam", "unknown camera spec"),
        ("file:", "needs a path"),
    ],
)
def test_bad_specs_are_one_line_errors(spec, message):
    with pytest.raises(DexumiError, match=message) as exc:
        open_camera(spec)
    assert "\n" not in str(exc.value)


def test_a_camera_that_cannot_be_opened_lists_those_that_can():
    assert list_cameras() == []  # no /dev/video here
    for spec in ("0", "/dev/video7", "/dev/v4l/by-id/usb-Nope-video-index0"):
        with pytest.raises(DexumiError, match="no cameras found on this machine") as exc:
            open_camera(spec)
        assert "\n" not in str(exc.value)


def test_dexumi_devices_lists_cameras():
    p = subprocess.run([*DEXUMI, "devices", "--json", "--no-ble"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.strip().splitlines()[-1])["cameras"] == []


class FakeCapture:
    """Stands in for cv2.VideoCapture: a camera that grants 640x480 at 30 fps, whatever it is asked."""

    jpeg = cv2.imencode(".jpg", np.zeros((480, 640, 3), np.uint8))[1]

    def __init__(self, device, api):
        self.props = {
            cv2.CAP_PROP_FRAME_WIDTH: 640,
            cv2.CAP_PROP_FRAME_HEIGHT: 480,
            cv2.CAP_PROP_FPS: 30,
            cv2.CAP_PROP_FOURCC: cv2.VideoWriter_fourcc(*"MJPG"),
            cv2.CAP_PROP_CONVERT_RGB: 1,
            cv2.CAP_PROP_POS_MSEC: 0,
        }
        self.api, self.grabs = api, 0

    def isOpened(self):
        return True

    def set(self, prop, value):
        if prop in (cv2.CAP_PROP_CONVERT_RGB, cv2.CAP_PROP_FOURCC):
            self.props[prop] = value
        return True

    def get(self, prop):
        return float(self.props.get(prop, 0))

    def grab(self):
        self.grabs += 1
        self.props[cv2.CAP_PROP_POS_MSEC] = time.monotonic() * 1e3 - 2.0  # a V4L2 buffer time, 2 ms earlier
        return self.grabs <= 3

    def retrieve(self):
        raw = self.props[cv2.CAP_PROP_CONVERT_RGB] == 0
        return True, (self.jpeg.reshape(-1) if raw else np.zeros((480, 640, 3), np.uint8))

    def release(self):
        pass


def test_opencv_camera_reports_what_it_was_not_granted_and_passes_mjpg_through(monkeypatch, caplog):
    monkeypatch.setattr(cv2, "VideoCapture", FakeCapture)
    cam = OpenCVCamera(0, "wrist", 1280, 800, 60).open()
    assert cam.granted == CameraSettings(640, 480, 30.0, "MJPG")
    assert any("asked 1280x800, got 640x480" in m for m in cam.mismatches)
    assert any("asked 60 fps, got 30 fps" in m for m in cam.mismatches)
    assert "using what it granted" in caplog.text
    assert cam._cap.api == cv2.CAP_V4L2
    frame = cam.read()
    assert frame.encoding == "jpeg" and frame.data == FakeCapture.jpeg.tobytes()  # the camera's own bytes
    assert (frame.width, frame.height) == (640, 480)
    assert cam.device_time_is_host_clock and frame.grab_time - frame.device_time == pytest.approx(0.002, abs=1e-3)
    cam.read(), cam.read()
    with pytest.raises(CameraLost):
        cam.read()
    cam.close()


# ----------------------------------------------------------------------------------------------- sim


def test_sim_frames_show_the_motion_at_capture_time_and_arrive_latency_later():
    cam = open_camera("sim:latency=30ms,fps=60,size=640x400,seed=4,joints=10,frames=40")
    frames = []
    while (f := cam.read()) is not None:
        frames.append(f)
    truth = cam.truth()
    assert len(frames) == 40 and not truth["lost"].any()
    np.testing.assert_allclose(truth["deliver_time"] - truth["capture_time"], 0.03)
    grab = np.array([f.grab_time for f in frames])
    assert np.all(grab >= truth["deliver_time"]) and np.median(grab - truth["deliver_time"]) < 2e-3
    for f in frames[::7]:
        img = cv2.imdecode(np.frombuffer(f.data, np.uint8), cv2.IMREAD_COLOR)
        assert img.shape == (400, 640, 3) and f.data[:2] == b"\xff\xd8"
        assert read_frame_number(img) == f.index
        shown = finger_flexion(cam.motion.angles(np.array([truth["capture_time"][f.index] - cam.epoch])))[0]
        np.testing.assert_allclose(measure_flexion(img), shown, atol=0.02)


def test_sim_camera_dropping_one_percent_every_drop_detected_none_invented():
    grabber = FrameGrabber(open_camera("sim:fps=120,size=160x120,drop=0.01,seed=11")).start()
    frames = []
    end = time.monotonic() + 8.0
    while time.monotonic() < end:
        frames += grabber.read(timeout=0.05)
    grabber.close()
    frames += grabber.read()
    truth = grabber.source.truth()
    got = np.array([f.index for f in frames])
    lost = truth["index"][truth["lost"] == 1]
    assert len(frames) > 800 and len(lost) >= 4
    assert np.array_equal(got, truth["index"][truth["lost"] == 0])  # in order, all delivered ones
    s = grabber.stats()
    assert s.missing_samples == len(lost) and s.overflows == 0
    found = sorted(i for f, g in zip(frames[1:], np.diff(got)) for i in range(f.index - g + 1, f.index))
    assert found == lost.tolist()
    assert sum(e.missing_samples for e in s.gap_events if e.reason == "dropped frames") == len(lost)


class UncountedSim(CameraSource):
    """A sim camera that hides its frame counter (like V4L2 through OpenCV): drops only show as time gaps."""

    counts_frames = False

    def __init__(self, spec: str) -> None:
        self.inner = make_camera(spec)
        super().__init__("uncounted", spec)
        self.n = 0
        self.original: list[int] = []

    def open(self):
        self.inner.open()
        self.granted = self.inner.granted
        self.opened = True
        return self

    def read(self):
        f = self.inner.read()
        if f is None:
            return None
        self.original.append(f.index)
        f.index, self.n = self.n, self.n + 1
        return f

    def close(self):
        self.inner.close()
        self.opened = False


def test_drops_found_from_timestamp_gaps_when_the_source_has_no_counter():
    src = UncountedSim("sim:fps=100,size=160x120,drop=0.03,seed=5,frames=500")
    grabber = FrameGrabber(src).start()
    assert grabber.finished.wait(15)
    frames = grabber.read()
    grabber.close()
    truth = src.inner.truth()
    assert grabber.stats().missing_samples == int(truth["lost"].sum()) > 5
    # the grabber renumbered the frames so the jumps show downstream: the camera's true indices come back
    assert [f.index for f in frames] == src.original


def test_overflow_is_counted_never_silent(caplog):
    source = open_camera("sim:fps=200,size=160x120,frames=60,buffers=100")
    grabber = FrameGrabber(source, GrabberConfig(buffer_frames=10)).start()
    assert grabber.finished.wait(10)
    s = grabber.stats()
    assert s.frames == 60 and s.overflows == 50 and len(grabber.read()) == 10
    assert "buffer full" in caplog.text
    grabber.close()


class FlakySource(CameraSource):
    """Delivers 5 frames, is 'unplugged' once, then delivers 5 more."""

    def __init__(self) -> None:
        super().__init__("flaky", "flaky")
        self.k, self.opens = 0, 0

    def open(self):
        self.opens += 1
        self.granted, self.opened = CameraSettings(64, 48, 100.0), True
        return self

    def read(self):
        if self.k == 5 and self.opens == 1:
            raise CameraLost("unplugged")
        if self.k >= 10:
            return None
        time.sleep(0.01)
        self.k += 1
        return CameraFrame("flaky", self.k - 1, time.monotonic(), b"\xff\xd8", "jpeg", 64, 48)

    def close(self):
        self.opened = False


def test_a_lost_camera_is_reopened_and_the_outage_recorded():
    grabber = FrameGrabber(FlakySource(), GrabberConfig(reconnect_interval_s=0.05)).start()
    assert grabber.finished.wait(5)
    s = grabber.stats()
    assert s.frames == 10 and s.reconnects == 1 and s.missing_samples == 0
    assert [e.reason for e in s.gap_events] == ["camera lost: unplugged"]
    grabber.close()


def _two_cameras_at_1280x800_60fps(tmp_path, seconds: float) -> None:
    specs = [f"sim:name=cam{i},fps=60,size=1280x800,seed={i}" for i in range(2)]
    grabbers = [FrameGrabber(open_camera(s)).start() for s in specs]
    with h5py.File(tmp_path / "two.h5", "w", libver="latest") as f:
        stores = [CameraFrameStore(f, g.name, 1280, 800) for g in grabbers]
        end = time.monotonic() + seconds
        last = {}
        while time.monotonic() < end:
            for g, store in zip(grabbers, stores):
                frames = g.read(timeout=0.01)
                if frames:
                    store.append(frames, [x.grab_time for x in frames])
                    last[g.name] = frames[-1]
        for g, store in zip(grabbers, stores):
            g.close()
            rest = g.read()
            store.append(rest, [x.grab_time for x in rest])
            store.flush()
        for g, store in zip(grabbers, stores):
            truth = g.source.truth()
            delivered = int((truth["lost"] == 0).sum())
            s = g.stats()
            assert s.frames == delivered == store.count == frame_count(f[g.name])
            assert s.missing_samples == int(truth["lost"].sum())  # zero undetected drops
            # frames the 'camera' lost itself (its 4-frame queue overran while this 2-core machine was busy)
            # are counted above; the sim must still keep up with 2 × 1280×800 × 60 fps on the whole
            assert s.overflows == 0 and delivered > seconds * 60 * 0.9
            assert np.array_equal(f[g.name]["index"][:], truth["index"][truth["lost"] == 0])
            last = np.frombuffer(read_jpeg(f[g.name], store.count - 1), np.uint8)
            img = cv2.imdecode(last, cv2.IMREAD_REDUCED_COLOR_4)
            assert read_frame_number(img) == f[g.name]["index"][-1]


def test_two_sim_cameras_1280x800_60fps_short(tmp_path):
    _two_cameras_at_1280x800_60fps(tmp_path, 4.0)


@pytest.mark.slow
def test_two_sim_cameras_1280x800_60fps_20s(tmp_path):
    _two_cameras_at_1280x800_60fps(tmp_path, 20.0)


# ---------------------------------------------------------------------------------------------- file


def _write_clip(path, fourcc: str, frames: int = 90, fps: float = 30.0, size=(320, 240)) -> None:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    for i in range(frames):
        im = np.full((size[1], size[0], 3), (i * 3) % 255, np.uint8)
        cv2.putText(im, str(i), (20, 120), 0, 2, (255, 255, 255), 3)
        w.write(im)
    w.release()


def test_file_source_paces_at_native_rate_and_passes_mjpeg_through(tmp_path):
    clip = tmp_path / "clip.avi"
    _write_clip(clip, "MJPG", frames=90, fps=30.0)
    with av.open(str(clip)) as c:
        packets = [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]
    cam = open_camera(f"file:{clip}")
    assert cam.granted == CameraSettings(320, 240, 30.0, "MJPG") and cam.passthrough
    frames = []
    while (f := cam.read()) is not None:
        frames.append(f)
    cam.close()
    assert [f.data for f in frames] == packets  # byte-identical
    assert [f.index for f in frames] == list(range(90))
    grab = np.array([f.grab_time for f in frames])
    rate = (len(grab) - 1) / (grab[-1] - grab[0])
    assert abs(rate / 30.0 - 1) < 0.02, rate
    assert np.median(np.abs(np.diff(grab) - 1 / 30)) < 0.002


def test_file_source_reencodes_other_codecs_and_feeds_the_grabber(tmp_path):
    clip = tmp_path / "clip.mp4"
    _write_clip(clip, "mp4v", frames=20, fps=50.0)
    grabber = FrameGrabber(open_camera(f"file:{clip}")).start()
    assert not grabber.source.passthrough
    assert grabber.finished.wait(5)
    frames = grabber.read()
    assert len(frames) == 20 and grabber.stats().missing_samples == 0
    img = cv2.imdecode(np.frombuffer(frames[-1].data, np.uint8), cv2.IMREAD_COLOR)
    assert img.shape == (240, 320, 3) and abs(int(img[5, 5, 0]) - 57) < 8
    grabber.close()


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 100, b"RIFF\x00\x00\x00\x00AVI LIST" + bytes(500)])
def test_a_file_that_cannot_be_decoded_is_a_one_line_error(tmp_path, content):
    bad = tmp_path / "bad.avi"
    bad.write_bytes(content)
    with pytest.raises(DexumiError, match="cannot decode video file|has no frames") as exc:
        open_camera(f"file:{bad}")
    assert "\n" not in str(exc.value) and str(bad) in str(exc.value)
    with pytest.raises(DexumiError, match="does not exist"):
        open_camera(f"file:{tmp_path / 'missing.avi'}")

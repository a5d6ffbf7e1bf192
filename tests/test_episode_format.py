"""Episode files without devices: writer → reader round trip, HDF5 tools, versions, numbering, no overwrite."""

from __future__ import annotations

import shutil
import subprocess

import cv2
import h5py
import numpy as np
import pytest

from dexumi.episode import numbering
from dexumi.episode import schema as S
from dexumi.episode.layout import CameraLayout, EncoderLayout, EpisodeMeta
from dexumi.episode.reader import Episode
from dexumi.episode.recover import recover_file
from dexumi.episode.writer import EpisodeWriter, publish
from dexumi.errors import DexumiError
from dexumi.types import CameraFrame, EncoderBatch


def _jpeg(i: int) -> bytes:
    img = np.full((96, 128, 3), (i * 7) % 255, np.uint8)
    cv2.putText(img, str(i), (10, 60), 0, 1.5, (255, 255, 255), 2)
    return cv2.imencode(".jpg", img)[1].tobytes()


def write_episode(path, seconds=2.0, finalize=True):
    w = EpisodeWriter(
        path,
        EpisodeMeta(number=S.episode_number(path) or 1, task="t", nominal_fps=30, main_camera="a"),
        EncoderLayout(3, ("j0", "j1", "j2"), 500.0),
        [CameraLayout("a", 128, 96, fps=30), CameraLayout("b", 128, 96, fps=30)],
    )
    t0 = 100.0
    for k in range(int(seconds * 10)):  # 100 ms ticks: 50 samples, 3 frames per camera
        idx = np.arange(k * 50, (k + 1) * 50)
        t = t0 + idx / 500.0
        ang = np.stack([np.sin(t), np.cos(t), t - t0], 1)
        w.append_encoder([EncoderBatch(idx, idx * 2000, t, t, (ang * 1e4).astype(np.int32), ang, 0)])
        for cam, shift in (("a", 0.0), ("b", 0.011)):
            fr = [
                CameraFrame(cam, 3 * k + j, t0 + (3 * k + j) / 30 + shift, _jpeg(3 * k + j), "jpeg", 128, 96)
                for j in range(3)
            ]
            w.append_frames(cam, fr)
        w.flush()
    return w.finalize("success", "note", "test", None) if finalize else w


def test_round_trip_and_tools(tmp_path):
    path = write_episode(tmp_path / "episode_0001.h5.partial")
    assert path.name == "episode_0001.h5" and not (tmp_path / "episode_0001.h5.partial").exists()
    with Episode.open(path) as ep:
        a = ep.attrs
        assert a["format"] == "dexumi-episode" and a["format_version"] == S.VERSION and a["state"] == "final"
        assert a["outcome"] == "success" and a["notes"] == "note" and a["task"] == "t"
        t = ep.timestamps
        assert np.all(np.diff(t) > 0) and 55 <= len(t) <= 60
        # exo joints are the encoder's angles interpolated at the frame instants: j2 = t - t0
        assert np.allclose(ep.exo_joints[:, 2], t - 100.0, atol=1e-5)
        assert ep.action_names == ["j0", "j1", "j2"]  # no retargeter: action = exoskeleton joints
        assert np.abs(ep.f["observations/image_offset_s/b"][:] - 0.011).max() < 1e-6
        frames = list(ep.frames(reduce=2))
        assert len(frames) == len(t) and frames[3].images["a"].shape == (48, 64, 3)
        assert ep.image_indices("a")[0] == 0 and ep.raw_image("a", 5).shape == (96, 128, 3)
        rep = ep.sync_report
        assert rep["aligned_frames"] == len(t) and rep["cameras"]["a"]["dropped"] == 0
    for tool in ("h5ls", "h5dump"):
        if shutil.which(tool):
            args = [tool, "-r", str(path)] if tool == "h5ls" else [tool, "-H", str(path)]
            r = subprocess.run(args, capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, r.stderr
    if shutil.which("h5dump"):  # the 1.10 tools read the data too, not only the header
        r = subprocess.run(["h5dump", "-d", "/timestamps", str(path)], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0 and "DATA" in r.stdout


def test_newer_version_refused(tmp_path):
    path = write_episode(tmp_path / "episode_0001.h5.partial", 1.0)
    with h5py.File(path, "r+") as f:
        f.attrs[S.A_VERSION] = S.VERSION + 1
    with pytest.raises(DexumiError, match="newer") as e:
        Episode.open(path)
    assert "\n" not in str(e.value)


def test_recover_unflushed_tail_and_rename_only(tmp_path):
    w = write_episode(tmp_path / "episode_0004.h5.partial", 1.0, finalize=False)
    w.close_partial()  # as after a crash: no aligned view, state 'recording'
    res = recover_file(tmp_path / "episode_0004.h5.partial")
    assert res.action == "recovered" and res.encoder_samples == 500 and res.camera_frames == {"a": 30, "b": 30}
    with Episode.open(res.path) as ep:
        assert ep.state == "recovered" and len(ep) > 25


def test_numbering_never_reuses(tmp_path):
    for name in ("episode_0001.h5", "episode_0002.h5.discarded", "episode_0003.h5.failed", "notes.txt"):
        (tmp_path / name).write_text("")
    n, p = numbering.reserve(tmp_path)
    assert n == 4 and p.name == "episode_0004.h5.partial"
    n2, _ = numbering.reserve(tmp_path)
    assert n2 == 5
    for x in tmp_path.glob("episode_000[45]*"):
        x.unlink()
    (tmp_path / "episode_0003.h5.failed").unlink()  # deleting files by hand frees no number
    assert numbering.reserve(tmp_path)[0] == 6


def test_publish_refuses_to_overwrite(tmp_path):
    (tmp_path / "episode_0001.h5").write_text("precious")
    w = write_episode(tmp_path / "episode_0001.h5.partial", 0.5, finalize=False)
    w.close_partial()
    with pytest.raises(DexumiError, match="refusing to overwrite"):
        publish(tmp_path / "episode_0001.h5.partial")
    assert (tmp_path / "episode_0001.h5").read_text() == "precious"
    assert (tmp_path / "episode_0001.h5.partial").exists()

"""The image check's shortcut (dexumi.validate.jpeg_fast) gives the verdicts of decoding every frame."""

from __future__ import annotations

import cv2
import h5py
import numpy as np
import pytest

from dexumi.validate import validate_file
from dexumi.validate.jpeg import structure_ok
from dexumi.validate.jpeg_fast import DecodeChecker
from test_validate_util import copy, recorded

FLAG, WANT = cv2.IMREAD_REDUCED_COLOR_8, (60, 80)


def decodes(buf: np.ndarray, flag: int = FLAG, want: tuple[int, int] | None = WANT) -> bool:
    """The check before the shortcut: structure, then a full decode at the declared size."""
    img = cv2.imdecode(buf, flag) if structure_ok(buf) else None
    return img is not None and (want is None or img.shape[:2] == want)


def damaged(good: np.ndarray, rng: np.random.Generator, kind: int) -> np.ndarray:
    b = good.copy()
    if kind == 0:  # random bytes anywhere
        for _ in range(int(rng.integers(1, 20))):
            b[rng.integers(0, len(b))] = rng.integers(0, 256)
    elif kind == 1:  # truncated, EOI put back
        b = np.concatenate([b[: rng.integers(2, len(b))], [0xFF, 0xD9]]).astype(np.uint8)
    elif kind == 2:  # one header byte
        b[rng.integers(2, 700)] = rng.integers(0, 256)
    else:  # a marker inside the scan data
        i = int(rng.integers(700, len(b) - 2))
        b[i : i + 2] = [0xFF, rng.integers(0, 256)]
    return b


def test_fuzzed_frames_same_verdict_as_full_decode():
    rng = np.random.default_rng(7)
    img = cv2.add(np.full((480, 640, 3), 40, np.uint8), rng.integers(0, 25, (480, 640, 3), dtype=np.uint8))
    good = np.frombuffer(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes(), np.uint8)
    progressive = np.frombuffer(cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1].tobytes(), np.uint8)
    checker = DecodeChecker(FLAG, WANT)
    verdicts = []
    for trial in range(800):
        b = damaged(progressive if trial % 7 == 0 else good, rng, trial % 4)
        expect = decodes(b)
        verdicts.append(expect)
        assert checker.ok(b) == expect, f"trial {trial}"
    assert 50 < sum(not v for v in verdicts) < 750  # both verdicts were exercised
    assert checker.decoded < 600  # and the shortcut was taken


def test_clean_stream_decodes_once_wrong_size_still_fails():
    rng = np.random.default_rng(3)
    frames = [
        np.frombuffer(cv2.imencode(".jpg", rng.integers(0, 255, (480, 640, 3), dtype=np.uint8))[1].tobytes(), np.uint8)
        for _ in range(20)
    ]
    checker = DecodeChecker(FLAG, WANT)
    assert all(checker.ok(b) for b in frames)
    assert checker.decoded == 1
    wrong = DecodeChecker(FLAG, (120, 160))  # the camera declares another size: every frame fails, as before
    assert not any(wrong.ok(b) for b in frames)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return recorded(tmp_path_factory)


def test_episode_image_verdict_matches_full_decode(folder, tmp_path):
    """A recorded episode with damaged frames of every kind: the frames the check names are exactly those a
    decode of every frame rejects."""
    ep = copy(sorted(folder.glob("episode_*.h5"))[0], tmp_path / "episode_0001.h5")
    rng = np.random.default_rng(11)
    expect: dict[str, list[int]] = {}
    with h5py.File(ep, "r+") as f:
        for cam in ("wrist0", "wrist1"):
            ds = f[f"raw/cameras/{cam}/jpeg"]
            w, h = int(f[f"raw/cameras/{cam}"].attrs["width"]), int(f[f"raw/cameras/{cam}"].attrs["height"])
            for k in range(0, min(ds.shape[0], 60), 3):
                ds[k] = damaged(ds[k].copy(), rng, k % 4)
            bad = [k for k in range(ds.shape[0]) if not decodes(ds[k], FLAG, (-(-h // 8), -(-w // 8)))]
            if bad:
                expect[cam] = bad
    assert expect
    rep = validate_file(ep)
    img = next(c for c in rep.checks if c.check == "images")
    assert img.level == "error"
    assert img.details["frames"] == {k: v[:50] for k, v in expect.items()}

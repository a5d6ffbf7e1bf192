"""Reading episodes for export: compatibility of a set of files, resampling onto an exact 1/fps grid, images."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from dexumi.episode import schema as S
from dexumi.episode.reader import Episode, decode_jpeg
from dexumi.errors import DexumiError


@dataclass
class SourceInfo:
    """What an export needs to know about an episode before reading it."""

    path: Path
    number: int | None
    hand: str
    exoskeleton: str
    task: str
    outcome: str
    action_names: tuple[str, ...]
    exo_names: tuple[str, ...]
    cameras: dict[str, tuple[int, int]]  # name → (width, height)
    frames: int
    nominal_fps: float

    def signature(self) -> tuple:
        """Episodes can share one export only when these agree."""
        return (self.hand, self.action_names, self.exo_names, tuple(sorted(self.cameras)))


def inspect(path: str | Path) -> SourceInfo:
    """Open and describe an episode; DexumiError (one line) if it is foreign, truncated or unfinished."""
    p = Path(path)
    try:
        ep = Episode.open(p)
    except DexumiError:
        raise
    except Exception as exc:  # noqa: BLE001 - h5py raises several types on damaged files
        raise DexumiError(f"{p}: unreadable HDF5 ({str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__})"
                          ) from None
    try:
        if not ep.finalized:
            raise DexumiError(f"{p}: unfinished episode (state {ep.state!r}); run `dexumi recover` first")
        a = ep.attrs
        cams = {}
        for c in ep.cameras:
            g = ep.f[f"{S.CAMERAS}/{c}"]
            cams[c] = (int(g.attrs.get("width", 0)), int(g.attrs.get("height", 0)))
        exo_names = tuple(str(x) for x in ep.f[S.EXO_JOINTS].attrs.get("names", []))
        n = len(ep)
        if n < 2:
            raise DexumiError(f"{p}: only {n} aligned frame(s); nothing to export")
        return SourceInfo(p, a.get(S.A_NUMBER), str(a.get(S.A_HAND, "")), str(a.get(S.A_EXO, "")),
                          str(a.get(S.A_TASK, "")), str(a.get(S.A_OUTCOME, "unknown")), tuple(ep.action_names),
                          exo_names, cams, n, float(a.get(S.A_FPS, 0.0) or 0.0))
    except DexumiError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise DexumiError(f"{p}: damaged episode ({type(exc).__name__}: {str(exc)[:100]})") from None
    finally:
        ep.close()


@dataclass
class Resampled:
    """An episode on an exact grid: instant k is at k / fps seconds from the first aligned frame."""

    fps: float
    t: np.ndarray  # (K,) float64 seconds from the start, exactly k / fps
    action: np.ndarray  # (K, A) float32
    qpos: np.ndarray  # (K, A) float32
    exo: np.ndarray  # (K, J) float32
    valid: np.ndarray  # (K,) bool
    images: dict[str, np.ndarray] = field(default_factory=dict)  # cam → (K,) raw frame indices

    def __len__(self) -> int:
        return len(self.t)


def _interp(grid: np.ndarray, t: np.ndarray, x: np.ndarray) -> np.ndarray:
    out = np.empty((len(grid), x.shape[1]), np.float32)
    for j in range(x.shape[1]):
        out[:, j] = np.interp(grid, t, x[:, j])
    return out


def nearest(t: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Index into sorted `t` of the instant nearest each grid time."""
    j = np.clip(np.searchsorted(t, grid), 1, len(t) - 1)
    return np.where(np.abs(t[j - 1] - grid) <= np.abs(t[j] - grid), j - 1, j)


def resample(ep: Episode, fps: float) -> Resampled:
    """Joints interpolated linearly at k / fps; each camera's image is the aligned frame nearest in time."""
    ts = ep.timestamps
    if len(ts) < 2 or np.any(np.diff(ts) <= 0) or not np.all(np.isfinite(ts)):
        raise DexumiError(f"{ep.path}: timestamps are not strictly increasing; run `dexumi validate` on it")
    span = float(ts[-1] - ts[0])
    K = int(np.floor(span * fps + 1e-6)) + 1
    rel = np.arange(K, dtype=np.float64) / fps
    grid = ts[0] + rel
    act, q, exo = ep.action, ep.qpos, ep.exo_joints
    for name, a in (("action", act), ("qpos", q), ("exo_joints", exo)):
        if not np.all(np.isfinite(a)):
            raise DexumiError(f"{ep.path}: {name} holds NaN/inf; run `dexumi validate` on it")
    near = nearest(ts, grid)
    images = {}
    for cam in ep.cameras:
        idx = ep.image_indices(cam)
        ok = np.flatnonzero(idx >= 0)
        if not len(ok):
            raise DexumiError(f"{ep.path}: camera {cam} has no frames on the aligned timeline")
        k = near if len(ok) == len(idx) else ok[nearest(ts[ok], grid)] if len(ok) > 1 else np.full(K, ok[0])
        images[cam] = idx[k]
    return Resampled(fps, rel, _interp(grid, ts, act), _interp(grid, ts, q), _interp(grid, ts, exo),
                     ep.valid[near], images)


def decode_reduce(src: tuple[int, int], dst: tuple[int, int]) -> int:
    """The largest JPEG DCT scale (1, 2, 4, 8) that still decodes at least `dst` (width, height)."""
    for r in (8, 4, 2):
        if src[0] // r >= dst[0] and src[1] // r >= dst[1]:
            return r
    return 1


class ImageSource:
    """RGB uint8 frames of one camera at the export size, decoded at the cheapest sufficient scale."""

    def __init__(self, ep: Episode, camera: str, size: tuple[int, int]) -> None:
        self.ep, self.camera, self.size = ep, camera, size
        g = ep.f[f"{S.CAMERAS}/{camera}"]
        self.reduce = decode_reduce((int(g.attrs.get("width", size[0])), int(g.attrs.get("height", size[1]))), size)
        self._ds = g[S.FRAMES]
        self._last: tuple[int, np.ndarray] | None = None

    def get(self, raw_index: int) -> np.ndarray:
        if self._last is not None and self._last[0] == raw_index:
            return self._last[1]
        try:
            bgr = decode_jpeg(self._ds[raw_index], self.reduce)
        except DexumiError:
            raise DexumiError(f"{self.ep.path}: camera {self.camera} frame {raw_index} does not decode") from None
        if (bgr.shape[1], bgr.shape[0]) != self.size:
            bgr = cv2.resize(bgr, self.size, interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        self._last = (raw_index, rgb)
        return rgb

    def block(self, indices: np.ndarray) -> np.ndarray:
        """(n, H, W, 3) RGB frames for raw indices."""
        out = np.empty((len(indices), self.size[1], self.size[0], 3), np.uint8)
        for i, j in enumerate(indices):
            out[i] = self.get(int(j))
        return out

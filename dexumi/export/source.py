"""Reading episodes for export: compatibility of a set of files, resampling onto an exact 1/fps grid, images."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from dexumi.episode import schema as S
from dexumi.episode.aligned import ACTION_HORIZON, next_step_action
from dexumi.episode.reader import Episode, decode_jpeg
from dexumi.errors import DexumiError


#: the wrist pose in exported state/action vectors (`dexumi.pose.pose_action(..., "relative", "rot6d")`)
POSE_VECTOR_NAMES = (
    "wrist_x",
    "wrist_y",
    "wrist_z",
    "wrist_r00",
    "wrist_r10",
    "wrist_r20",
    "wrist_r01",
    "wrist_r11",
    "wrist_r21",
)


@dataclass
class SourceInfo:
    """What an export needs to know about an episode before reading it."""

    path: Path
    number: int | None
    hand: str
    exoskeleton: str
    task: str
    outcome: str
    operator: str
    action_names: tuple[str, ...]
    exo_names: tuple[str, ...]
    cameras: dict[str, tuple[int, int]]  # name → (width, height)
    frames: int
    nominal_fps: float
    span_s: float = 0.0  # first to last aligned instant
    part: tuple[int, int] | None = None  # [i0, i1) of the stored aligned view (trim/split); None: all of it
    part_index: int = 0  # which split part of the file this is
    parts: list[tuple[int, int, float]] | None = None  # a trimmed/split file's parts: (i0, i1, span_s)
    pose: str = ""  # the wrist-pose stream exported in front of the joints ("" : none)
    tactile: tuple[str, ...] = ()  # tactile boards as role:protocol (observation.tactile.<role>; export.tactile)

    def signature(self) -> tuple:
        """Episodes can share one export only when these agree."""
        return (self.hand, self.action_names, self.exo_names, tuple(sorted(self.cameras)), self.pose, self.tactile)

    @property
    def vector_names(self) -> tuple[str, ...]:
        """Names of the exported state/action vector: the wrist pose (when recorded) then the hand joints."""
        return (*POSE_VECTOR_NAMES, *self.action_names) if self.pose else tuple(self.action_names)


def split_parts(info: SourceInfo) -> tuple[list[SourceInfo], str | None]:
    """A file with a trim/split → one SourceInfo per part (trimmed frames left out); (parts, why none)."""
    if info.parts is None:
        return [info], None
    out = [
        replace(info, part=(i0, i1), part_index=k, frames=i1 - i0, span_s=span, parts=None)
        for k, (i0, i1, span) in enumerate(info.parts)
        if i1 - i0 >= 2
    ]
    return out, None if out else f"{info.path}: its trim/split keeps no part of 2 or more aligned frames"


def inspect(path: str | Path) -> SourceInfo:
    """Open and describe an episode; DexumiError (one line) if it is foreign, truncated or unfinished."""
    p = Path(path)
    try:
        ep = Episode.open(p)
    except DexumiError:
        raise
    except Exception as exc:  # noqa: BLE001 - h5py raises several types on damaged files
        raise DexumiError(
            f"{p}: unreadable HDF5 ({str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__})"
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
        check_sizes(ep, n)
        parts = None
        if ep.view_edited:  # non-destructive trim / split: each part is exported as its own episode
            ts = ep.f[S.TIMESTAMPS][:]
            parts = [(i0, i1, float(ts[i1 - 1] - ts[i0])) for i0, i1 in ep.parts()]
        poses = ep.poses
        return SourceInfo(
            p,
            a.get(S.A_NUMBER),
            str(a.get(S.A_HAND, "")),
            str(a.get(S.A_EXO, "")),
            str(a.get(S.A_TASK, "")),
            str(a.get(S.A_OUTCOME, "unknown")),
            str(a.get(S.A_OPERATOR, "")),
            tuple(ep.action_names),
            exo_names,
            cams,
            n,
            float(a.get(S.A_FPS, 0.0) or 0.0),
            float(ep.f[S.TIMESTAMPS][n - 1] - ep.f[S.TIMESTAMPS][0]),
            parts=parts,
            pose=poses[0] if poses else "",
            tactile=_tactile_roles(ep.f),
        )
    except DexumiError:
        raise
    except Exception as exc:  # noqa: BLE001 - h5py raises several types on damage: one DexumiError
        raise DexumiError(f"{p}: damaged episode ({type(exc).__name__}: {str(exc)[:100]})") from None
    finally:
        ep.close()


def _tactile_roles(f) -> tuple[str, ...]:
    from dexumi.export.tactile import tactile_roles

    return tactile_roles(f)


MAX_FRAMES = 20_000_000  # aligned frames: > 7 days at 30 fps
MAX_WIDTH = 1024  # joints per row
MAX_RATIO = 64  # claimed bytes of a float dataset against the whole file's size (real data never compresses so)


def check_sizes(ep: Episode, n: int) -> None:
    """Refuse, before anything is read, a file whose aligned datasets claim sizes it cannot hold (1e8-1e12 rows
    in a small file): reading them would allocate terabytes."""
    p = ep.path
    if n > MAX_FRAMES:
        raise DexumiError(f"{p}: claims {n} aligned frames (more than {MAX_FRAMES}); a damaged file")
    try:
        file_bytes = p.stat().st_size
    except OSError:
        file_bytes = 0
    names = [S.ACTION, S.QPOS, S.EXO_JOINTS, S.VALID] + [f"{S.IMAGES}/{c}" for c in ep.cameras]
    for name in [S.TIMESTAMPS, *names]:
        ds = ep.f.get(name)
        if ds is None or not hasattr(ds, "shape"):
            raise DexumiError(f"{p}: no {name} dataset; a damaged or foreign file")
        if ds.ndim == 0 or ds.shape[0] != n:
            raise DexumiError(f"{p}: {name} has {ds.shape[0] if ds.ndim else 0} rows, timestamps {n}; a damaged file")
        if ds.ndim > 2 or (ds.ndim == 2 and not 0 < ds.shape[1] <= MAX_WIDTH):
            raise DexumiError(f"{p}: {name} has shape {ds.shape}; a damaged file")
        claimed = int(np.prod(ds.shape, dtype=np.float64)) * ds.dtype.itemsize
        if ds.dtype.kind == "f" and claimed > MAX_RATIO * file_bytes + (1 << 20):
            raise DexumiError(
                f"{p}: {name} claims {claimed / 2**20:.0f} MB in a {file_bytes / 2**20:.1f} MB file; a damaged file"
            )
    for c in ep.cameras:
        frames = ep.f[f"{S.CAMERAS}/{c}/{S.FRAMES}"]
        if frames.ndim != 1 or frames.shape[0] > MAX_FRAMES:
            raise DexumiError(f"{p}: camera {c} claims {frames.shape} frames; a damaged file")


@dataclass
class Resampled:
    """An episode on an exact grid: instant k is at k / fps seconds from the first aligned frame."""

    fps: float
    t: np.ndarray  # (K,) float64 seconds from the start, exactly k / fps
    action: np.ndarray  # (K, A) float32: qpos[k + horizon] (the next control step's command)
    qpos: np.ndarray  # (K, A) float32
    exo: np.ndarray  # (K, J) float32
    valid: np.ndarray  # (K,) bool: both aligned frames around instant k are valid (no encoder gap)
    images: dict[str, np.ndarray] = field(default_factory=dict)  # cam → (K,) raw frame indices
    tactile: dict[str, np.ndarray] = field(default_factory=dict)  # role → (K, C) float32 (dexumi.export.tactile)

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


def grid_valid(ts: np.ndarray, valid: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """An instant is valid when the aligned frames bracketing it are both valid."""
    j = np.clip(np.searchsorted(ts, grid, side="right"), 1, len(ts) - 1)
    exact = np.abs(ts[j - 1] - grid) < 1e-9
    return np.where(exact, valid[j - 1], valid[j - 1] & valid[j]).astype(bool)


def pose_vector(ep: Episode, name: str, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The wrist pose at grid instants as (K, 9) [x, y, z, rot6d] relative to the window's first valid
    instant (the UMI / DexUMI convention, `dexumi.pose.pose_action`), and its validity. Instants not
    bracketed by two valid aligned frames are invalid and hold the nearest valid value (trainers take no NaN)."""
    from dexumi.pose_sample import LOST
    from dexumi.pose import align_poses, pose_action

    wp = ep.wrist_pose(name)
    ts = ep.timestamps
    state = np.where(wp["valid"], 0, LOST)
    tl = align_poses(ts, wp["position"], wp["orientation"], state, grid, max_gap_s=np.inf)
    vec, _ = pose_action(tl.position, tl.orientation, tl.valid, "relative", "rot6d")
    ok = tl.valid
    if ok.any():
        j = np.flatnonzero(ok)
        near = j[np.clip(np.searchsorted(j, np.arange(len(grid))), 0, len(j) - 1)]
        vec = vec[near]
    else:
        vec = np.zeros((len(grid), len(POSE_VECTOR_NAMES)))
    return vec.astype(np.float32), ok


def resample(
    ep: Episode,
    fps: float,
    horizon: int = ACTION_HORIZON,
    motor=None,
    pose: str = "",
    tactile: tuple[str, ...] = (),
    opts=None,
) -> Resampled:
    """Joints interpolated linearly at k / fps; each camera's image is the aligned frame nearest in time;
    action[k] = qpos[k + horizon] on this grid (dexumi.episode.aligned.next_step_action). `pose`: a wrist-pose
    stream put in front of the joints in both (`pose_vector`; its invalid instants are invalid)."""
    ts = ep.timestamps
    if len(ts) < 2 or np.any(np.diff(ts) <= 0) or not np.all(np.isfinite(ts)):
        raise DexumiError(f"{ep.path}: timestamps are not strictly increasing; run `dexumi validate` on it")
    span = float(ts[-1] - ts[0])
    K = int(np.floor(span * fps + 1e-6)) + 1
    rel = np.arange(K, dtype=np.float64) / fps
    grid = ts[0] + rel
    q, exo = ep.qpos, ep.exo_joints
    for name, a in (("qpos", q), ("exo_joints", exo)):
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
    qg = _interp(grid, ts, q)
    action = next_step_action(qg, horizon)
    if motor is not None:  # --action-units motor: the vendor's units (dexumi.export.units.MotorScale)
        action = motor.apply(action)
    valid = grid_valid(ts, ep.valid, grid)
    if pose:
        pv, pok = pose_vector(ep, pose, grid)
        action = np.concatenate([next_step_action(pv, horizon), action], axis=1)
        qg = np.concatenate([pv, qg], axis=1)
        valid &= pok
    touch = {}
    for entry in tactile:  # each board at the nearest aligned frame; its invalid instants are invalid
        from dexumi.export.tactile import tactile_at

        touch[entry], tok = tactile_at(
            ep, entry, near, bool(getattr(opts, "tactile_baseline", False)), bool(getattr(opts, "tactile_total", False))
        )
        valid &= tok
    return Resampled(fps, rel, action, qg, _interp(grid, ts, exo), valid, images, touch)


def decode_reduce(src: tuple[int, int], dst: tuple[int, int]) -> int:
    """The largest JPEG DCT scale (1, 2, 4, 8) that still decodes at least `dst` (width, height)."""
    for r in (8, 4, 2):
        if src[0] // r >= dst[0] and src[1] // r >= dst[1]:
            return r
    return 1


def fit_plan(src: tuple[int, int], dst: tuple[int, int], fit: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """(resized size, offset) for `fit`: crop = scale to cover then centre-crop; pad = scale to fit then centre on
    black; stretch = resize to `dst` ignoring the aspect ratio. Offset is where the resized image's (0, 0) lands."""
    (w, h), (W, H) = src, dst
    if fit == "stretch" or w <= 0 or h <= 0:
        return dst, (0, 0)
    s = max(W / w, H / h) if fit == "crop" else min(W / w, H / h)
    rw, rh = max(1, round(w * s)), max(1, round(h * s))
    if fit == "crop":
        rw, rh = max(rw, W), max(rh, H)
    else:
        rw, rh = min(rw, W), min(rh, H)
    return (rw, rh), ((W - rw) // 2, (H - rh) // 2)


class ImageSource:
    """RGB uint8 frames of one camera at the export size, decoded at the cheapest sufficient scale; a size of
    another aspect ratio is reached by `fit` (crop, default; pad; stretch)."""

    def __init__(self, ep: Episode, camera: str, size: tuple[int, int], fit: str = "crop", visual: str = "raw") -> None:
        self.ep, self.camera, self.size = ep, camera, size
        g = ep.f[f"{S.CAMERAS}/{camera}"]
        src = (int(g.attrs.get("width", size[0])), int(g.attrs.get("height", size[1])))
        self.resized, self.offset = fit_plan(src, size, fit)
        self.reduce = decode_reduce(src, self.resized)
        self._ds = g[S.FRAMES]
        if visual != "raw":  # the visual bridge's frames (dexumi render), indexed like the raw frames
            from dexumi.visual.bridge import open_visual

            self._visual_file, self._ds = open_visual(ep.path, visual, camera)
        self._n = self._ds.shape[0]
        self._last: tuple[int, np.ndarray] | None = None

    def _fit(self, bgr: np.ndarray) -> np.ndarray:
        if (bgr.shape[1], bgr.shape[0]) != self.resized:
            # the JPEG DCT scaling has already averaged down by 2/4/8: what is left is < 2x, where bilinear is
            # as good and several times faster than area averaging at a non-integer ratio
            big = bgr.shape[1] >= 2 * self.resized[0] or bgr.shape[0] >= 2 * self.resized[1]
            bgr = cv2.resize(bgr, self.resized, interpolation=cv2.INTER_AREA if big else cv2.INTER_LINEAR)
        (W, H), (ox, oy) = self.size, self.offset
        if (W, H) == self.resized:
            return bgr
        if ox <= 0 and oy <= 0:  # crop
            return bgr[-oy : -oy + H, -ox : -ox + W]
        out = np.zeros((H, W, 3), np.uint8)  # pad
        out[oy : oy + bgr.shape[0], ox : ox + bgr.shape[1]] = bgr
        return out

    def get(self, raw_index: int) -> np.ndarray:
        if self._last is not None and self._last[0] == raw_index:
            return self._last[1]
        if not 0 <= raw_index < self._n:
            raise DexumiError(
                f"{self.ep.path}: camera {self.camera} frame {raw_index} is outside its {self._n} stored frames"
            )
        try:
            buf = self._ds[raw_index]
            if buf.size > 64 << 20:
                raise DexumiError("larger than 64 MB")
            bgr = decode_jpeg(buf, self.reduce)
        except (DexumiError, OSError, ValueError):
            raise DexumiError(f"{self.ep.path}: camera {self.camera} frame {raw_index} does not decode") from None
        rgb = cv2.cvtColor(np.ascontiguousarray(self._fit(bgr)), cv2.COLOR_BGR2RGB)
        self._last = (raw_index, rgb)
        return rgb

    def _decode(self, raw_index: int, buf: np.ndarray) -> np.ndarray:
        try:
            if buf.size > 64 << 20:
                raise DexumiError("larger than 64 MB")
            bgr = decode_jpeg(buf, self.reduce)
        except (DexumiError, OSError, ValueError):
            raise DexumiError(f"{self.ep.path}: camera {self.camera} frame {raw_index} does not decode") from None
        return cv2.cvtColor(np.ascontiguousarray(self._fit(bgr)), cv2.COLOR_BGR2RGB)

    def _read(self, uniq: list[int]) -> dict[int, np.ndarray]:
        """Bytes of these frames: one slice read when they are (nearly) contiguous - a fifth of the per-frame
        cost of h5py's single-element reads - else (or if a frame in between is unreadable) one read each."""
        if len(uniq) > 1:
            lo, hi = min(uniq), max(uniq)
            step = uniq[1] - uniq[0]
            if step > 1 and all(b - a == step for a, b in zip(uniq, uniq[1:])):
                # every step-th frame (15 fps out of 30): one strided hyperslab, the frames in between unread
                try:
                    arr = self._ds[lo : hi + 1 : step]
                    return {j: arr[(j - lo) // step] for j in uniq}
                except (OSError, ValueError):
                    pass
            if hi - lo + 1 <= 2 * len(uniq) + 8:
                try:
                    arr = self._ds[lo : hi + 1]
                    return {j: arr[j - lo] for j in uniq}
                except (OSError, ValueError):
                    pass
        return {j: self._ds[j] for j in uniq}

    def block(self, indices: np.ndarray) -> np.ndarray:
        """(n, H, W, 3) RGB frames for raw indices: bytes read in order (h5py is serial), decoded in threads
        (OpenCV releases the GIL), each distinct frame once."""
        idx = [int(j) for j in indices]
        for j in idx:
            if not 0 <= j < self._n:
                raise DexumiError(
                    f"{self.ep.path}: camera {self.camera} frame {j} is outside its {self._n} stored frames"
                )
        uniq = list(dict.fromkeys(idx))
        if self._last is not None and self._last[0] in uniq:
            uniq.remove(self._last[0])
        bufs = self._read(uniq)
        done = dict(zip(uniq, _pool().map(lambda j: self._decode(j, bufs[j]), uniq)))
        if self._last is not None:
            done.setdefault(self._last[0], self._last[1])
        out = np.empty((len(idx), self.size[1], self.size[0], 3), np.uint8)
        for i, j in enumerate(idx):
            out[i] = done[j]
        if idx:
            self._last = (idx[-1], out[-1].copy())
        return out


_POOL: ThreadPoolExecutor | None = None


@contextmanager
def opencv_serial() -> Iterator[None]:
    """OpenCV's own worker threads off while an export runs (restored after): frames are decoded one a
    thread in `_pool()` already, and OpenCV splitting each small decode and resize over its threads as well
    costs ~15 % more CPU (its workers wait and wake per call) for nothing on 2 cores."""
    n = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(n)


def _pool() -> ThreadPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=max(2, min(8, os.cpu_count() or 2)), thread_name_prefix="decode")
    return _POOL


def _forget_pool() -> None:
    """In a forked child: the parent's decode threads do not exist here, so work queued on its pool would wait
    forever (a batch worker forked after a one-process export in the same process)."""
    global _POOL
    _POOL = None


os.register_at_fork(after_in_child=_forget_pool)

"""Reading episodes: metadata, arrays, lazily decoded images and aligned frames.

    with Episode.open("episode_0003.h5") as ep:
        ep.timestamps, ep.action, ep.qpos, ep.exo_joints, ep.cameras
        img = ep.image("wrist0", t, reduce=2)          # BGR uint8, decoded on demand
        for frame in ep.frames(reduce=4): ...           # AlignedFrame(t, action, qpos, exo, images)

The aligned arrays are the whole recorded view unless a *window* is selected: `Episode.open(p, edited=True)`
applies the file's non-destructive trim (`dexumi edit --trim`), `ep.parts()` lists the trim/split ranges and
`ep.select(i0, i1)` shows one of them. The file itself is never changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from dexumi.episode import schema as S
from dexumi.episode.h5open import check_version, open_h5  # noqa: F401 - re-exported: readers open episodes here
from dexumi.errors import DexumiError
from dexumi.jpeg import REDUCE_FLAGS as REDUCE_FLAGS  # re-exported: the readers' decode flags
from dexumi.jpeg import decode_jpeg as decode_jpeg  # re-exported: readers decode frames from here
from dexumi.vocab import EpisodeState


def _guarded(fn):
    """Reading a damaged file: one DexumiError line naming the file, not an h5py traceback."""
    import functools

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        from dexumi.episode.integrity import damage_as_error

        with damage_as_error(self.path):
            return fn(self, *args, **kwargs)

    return wrapper


@dataclass
class AlignedFrame:
    i: int
    t: float
    action: np.ndarray
    qpos: np.ndarray
    exo_joints: np.ndarray
    valid: bool
    images: dict[str, np.ndarray]


class Episode:
    """One episode file, read lazily."""

    def __init__(self, f: h5py.File, path: Path) -> None:
        self.f = f
        self.path = path
        from dexumi.episode.integrity import check_structure

        check_structure(f, path)  # every dataset present, typed and sized as the readers below assume
        self._frames = {name: g[S.FRAMES] for name, g in f.get(S.CAMERAS, {}).items()}
        self.window: tuple[int, int] | None = None  # [i0, i1) of the stored aligned view; None: all of it

    @classmethod
    def open(cls, path: str | Path, edited: bool = False) -> Episode:
        """`edited`: show the aligned view as trimmed by `dexumi edit --trim` (split parts: `parts()`)."""
        p = Path(path)
        f = open_h5(p)
        try:
            ep = cls(f, p)
            if edited:
                ep.select_edited()
            return ep
        except BaseException:
            f.close()
            raise

    # ---- non-destructive trim / split ----------------------------------------------------------------
    @property
    def view_edited(self) -> bool:
        """Whether the file carries a trim or split of its aligned view."""
        from dexumi.episode.metadata import A_SPLITS, A_TRIM

        return A_TRIM in self.f.attrs or A_SPLITS in self.f.attrs

    def parts(self) -> list[tuple[int, int]]:
        """The edited view's ranges [i0, i1) into the stored aligned view: one per split part, trimmed frames left
        out; `[(0, T)]` for an unedited episode, `[]` when the trim keeps nothing."""
        if S.TIMESTAMPS not in self.f:
            return []
        n = self.f[S.TIMESTAMPS].shape[0]
        if not self.view_edited:
            return [(0, n)] if n else []
        from dexumi.episode.metadata import view_ranges

        return view_ranges(self.f[S.TIMESTAMPS][:], self.attrs)

    def select(self, i0: int | None = None, i1: int | None = None) -> Episode:
        """Show only stored aligned instants [i0, i1) (None, None: all); returns self."""
        n = self.f[S.TIMESTAMPS].shape[0] if S.TIMESTAMPS in self.f else 0
        if i0 is None and i1 is None:
            self.window = None
        else:
            a = 0 if i0 is None else max(0, min(int(i0), n))
            self.window = (a, max(a, min(n if i1 is None else int(i1), n)))
        return self

    def select_edited(self) -> Episode:
        """Show the trimmed view: from the first part's start to the last part's end (splits stay inside)."""
        if not self.view_edited:
            return self.select()
        parts = self.parts()
        return self.select(parts[0][0], parts[-1][1]) if parts else self.select(0, 0)

    def _view(self, name: str) -> np.ndarray:
        ds = self.f[name]
        return ds[:] if self.window is None else ds[self.window[0] : self.window[1]]

    def _stored(self, i: int) -> int:
        """Instant `i` of the shown view → index into the stored aligned datasets."""
        if self.window is None:
            return i
        n = self.window[1] - self.window[0]
        if not -n <= i < n:
            raise IndexError(i)
        return self.window[0] + (i % n)

    def close(self) -> None:
        self.f.close()

    def __enter__(self) -> Episode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- metadata ------------------------------------------------------------------------------
    @property
    def attrs(self) -> dict[str, Any]:
        out = {}
        for k, v in self.f.attrs.items():
            out[k] = v.decode() if isinstance(v, bytes) else v.item() if isinstance(v, np.generic) else v
        return out

    @property
    def version(self) -> int:
        return int(self.f.attrs[S.A_VERSION])

    @property
    def state(self) -> str:
        return str(self.attrs.get(S.A_STATE, ""))

    @property
    def finalized(self) -> bool:
        return self.state in (EpisodeState.FINAL, EpisodeState.RECOVERED) and S.TIMESTAMPS in self.f

    def text(self, name: str) -> str:
        from dexumi.episode.finalize import read_text

        return read_text(self.f, name)

    def json(self, name: str) -> dict:
        t = self.text(name)
        return json.loads(t) if t else {}

    @property
    def sync_report(self) -> dict:
        return self.json(S.SYNC_REPORT)

    @property
    def stats(self) -> dict:
        return self.json(S.STATS)

    # ---- aligned arrays ----------------------------------------------------------------------------
    def _need_view(self) -> None:
        if S.TIMESTAMPS not in self.f:
            raise DexumiError(f"{self.path}: no aligned view (an unfinished episode: run `dexumi recover`)")

    @property
    @_guarded
    def timestamps(self) -> np.ndarray:
        self._need_view()
        return self._view(S.TIMESTAMPS)

    @property
    @_guarded
    def action(self) -> np.ndarray:
        self._need_view()
        return self._view(S.ACTION)

    @property
    def action_names(self) -> list[str]:
        return [str(x) for x in self.f[S.ACTION].attrs["names"]]

    @property
    @_guarded
    def qpos(self) -> np.ndarray:
        self._need_view()
        return self._view(S.QPOS)

    @property
    @_guarded
    def exo_joints(self) -> np.ndarray:
        self._need_view()
        return self._view(S.EXO_JOINTS)

    @property
    @_guarded
    def valid(self) -> np.ndarray:
        self._need_view()
        return self._view(S.VALID).astype(bool)

    @property
    def cameras(self) -> list[str]:
        return sorted(self._frames)

    @property
    def poses(self) -> list[str]:
        """Names of the wrist-pose streams with an aligned view (format v2; none in v1 files)."""
        from dexumi.episode.pose_view import pose_names

        return pose_names(self.f)

    @_guarded
    def wrist_pose(self, name: str | None = None) -> dict[str, np.ndarray]:
        """The aligned wrist pose (`name` default: the first stream) in the selected window: position (T, 3),
        orientation (T, 4) x, y, z, w, valid (T,), action_absolute / action_relative (T, 7), action_valid.
        `action_relative` is relative to the recording's first valid frame (exports re-base it on a window)."""
        from dexumi.episode.pose_view import read_pose_view

        names = self.poses
        if not names:
            raise DexumiError(f"{self.path}: no wrist pose recorded")
        name = names[0] if name is None else name
        if name not in names:
            raise DexumiError(f"{self.path}: no wrist pose {name!r} (has {', '.join(names)})")
        self._need_view()
        return read_pose_view(self.f, name, self.window)

    @_guarded
    def raw_pose(self, name: str) -> dict[str, np.ndarray]:
        """`/raw/pose/<name>`: every sample as it arrived (see dexumi.episode.pose_stream)."""
        g = self.f.get(f"{S.POSE}/{name}")
        if g is None:
            raise DexumiError(f"{self.path}: no raw pose stream {name!r}")
        return {k: g[k][:] for k in g if isinstance(g[k], h5py.Dataset)}

    @property
    def tactile_boards(self) -> list[str]:
        """`role:protocol` of the tactile boards with an aligned view (multi-device episodes; sorted by role)."""
        from dexumi.episode.device_stream import tactile_boards

        return list(tactile_boards(self.f))

    @_guarded
    def tactile(self, role: str) -> tuple[np.ndarray, np.ndarray]:
        """One tactile board's aligned readings in the selected window: ((T, C) float32 in the board's unit,
        (T,) bool valid), from `observations/<side>/tactile` and `tactile_valid`."""
        from dexumi.episode.device_stream import view_group

        self._need_view()
        o = view_group(role)
        if f"{o}/tactile" not in self.f:
            raise DexumiError(f"{self.path}: no tactile board {role!r}")
        return self._view(f"{o}/tactile").astype(np.float32), self._view(f"{o}/tactile_valid").astype(bool)

    def tactile_channels(self, role: str) -> list[str]:
        """Channel names of one tactile board's aligned readings (FSR: adc0…adc11, fsr_low, fsr_high)."""
        from dexumi.episode.device_stream import view_group

        return [str(x) for x in self.f[f"{view_group(role)}/tactile"].attrs.get("names", [])]

    @_guarded
    def image_indices(self, camera: str) -> np.ndarray:
        self._need_view()
        return self._view(f"{S.IMAGES}/{camera}")

    def __len__(self) -> int:
        if self.window is not None:
            return self.window[1] - self.window[0]
        return self.f[S.TIMESTAMPS].shape[0] if S.TIMESTAMPS in self.f else 0

    # ---- raw streams ---------------------------------------------------------------------------------
    @_guarded
    def encoder(self) -> dict[str, np.ndarray]:
        """Raw encoder stream: host_time, device_time_us, mapped_time, index, segment, raw, angles."""
        g = self.f[S.ENCODER]
        n = min(g[k].shape[0] for k in S.ENCODER_FIELDS)
        return {k: g[k][:n] for k in S.ENCODER_FIELDS}

    @_guarded
    def camera_times(self, camera: str) -> dict[str, np.ndarray]:
        g = self.f[f"{S.CAMERAS}/{camera}"]
        n = min(g[k].shape[0] for k in (*S.CAMERA_FIELDS, S.FRAMES))
        return {k: g[k][:n] for k in S.CAMERA_FIELDS}

    @_guarded
    def frame_count(self, camera: str) -> int:
        """Stored frames; for an unfinished file, those whose bytes are readable (a full disk can tear the last)."""
        n = self._frames[camera].shape[0]
        if self.finalized:
            return n
        from dexumi.episode.heapcheck import readable_frames

        return readable_frames(self._frames[camera], n)

    @_guarded
    def jpeg(self, camera: str, raw_index: int) -> bytes:
        """The stored JPEG bytes of raw frame `raw_index`."""
        self._check_frame(camera, raw_index)
        return self._frames[camera][raw_index].tobytes()

    def _check_frame(self, camera: str, raw_index: int) -> None:
        """An unfinished file may be torn: only frames known to be whole are read."""
        if not self.finalized:
            if not hasattr(self, "_safe"):
                self._safe = {c: self.frame_count(c) for c in self._frames}
            if not 0 <= raw_index < self._safe[camera]:
                raise DexumiError(
                    f"{self.path}: frame {raw_index} of {camera} is not readable "
                    "(an unfinished or torn file: run `dexumi recover`)"
                )

    @_guarded
    def raw_image(self, camera: str, raw_index: int, reduce: int = 1) -> np.ndarray:
        self._check_frame(camera, raw_index)
        return decode_jpeg(self._frames[camera][raw_index], reduce)

    @_guarded
    def image(self, camera: str, i: int, reduce: int = 1) -> np.ndarray:
        """The camera's image at aligned instant `i` (BGR uint8; `reduce` 2/4/8 for training sizes)."""
        j = int(self.f[f"{S.IMAGES}/{camera}"][self._stored(i)])
        if j < 0:
            raise DexumiError(f"{self.path}: camera {camera} has no frame for instant {i}")
        return self.raw_image(camera, j, reduce)

    @_guarded
    def frame(self, i: int, reduce: int = 1, cameras: list[str] | None = None) -> AlignedFrame:
        f, k = self.f, self._stored(i)
        return AlignedFrame(
            i,
            float(f[S.TIMESTAMPS][k]),
            f[S.ACTION][k],
            f[S.QPOS][k],
            f[S.EXO_JOINTS][k],
            bool(f[S.VALID][k]),
            {c: self.image(c, i, reduce) for c in (self.cameras if cameras is None else cameras)},
        )

    def frames(self, reduce: int = 1, cameras: list[str] | None = None) -> Iterator[AlignedFrame]:
        """Every aligned instant in order; arrays are read once, images decoded one frame at a time."""
        self._need_view()
        ts, act, q, exo, val = self.timestamps, self.action, self.qpos, self.exo_joints, self.valid
        cams = self.cameras if cameras is None else cameras
        idx = {c: self.image_indices(c) for c in cams}
        for i in range(len(ts)):
            yield AlignedFrame(
                i,
                float(ts[i]),
                act[i],
                q[i],
                exo[i],
                bool(val[i]),
                {c: self.raw_image(c, int(idx[c][i]), reduce) for c in cams},
            )


def open_episode(path: str | Path) -> Episode:
    return Episode.open(path)

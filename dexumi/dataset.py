"""A numpy-only training dataset over episode files: windows of observation history and action chunks.

    ds = EpisodeDataset(["day1/"], obs_horizon=2, action_horizon=16, image_reduce=4)
    item = ds[i]   # dict of numpy arrays, see `EpisodeDataset.__getitem__`

Works as a map-style dataset for PyTorch's DataLoader (it only needs `__len__`/`__getitem__`; dexumi does not
import torch). HDF5 files are opened lazily in each process, so it is safe with `num_workers > 0`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from dexumi.episode.aligned import next_step_action
from dexumi.episode.device_stream import subtract_first_valid
from dexumi.episode.reader import Episode
from dexumi.errors import DexumiError


@dataclass
class _EpisodeArrays:
    path: Path
    timestamps: np.ndarray
    action: np.ndarray
    qpos: np.ndarray
    exo: np.ndarray
    images: dict[str, np.ndarray]  # cam → raw frame index per aligned instant
    tactile: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)
    # role → (values (T, C), baseline-subtracted values (T, C), valid (T,)), as the exports compute them


def _touch(ep: Episode, role: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """As `dexumi.export.tactile.board_view`, without and with the baseline (the shown part's first valid reading)."""
    vals, valid = ep.tactile(role)
    return vals, subtract_first_valid(vals, valid).astype(np.float32), valid


def _episode_files(paths: list[str | Path]) -> list[Path]:
    from dexumi.validate.paths import expand

    inputs = expand(paths, include_unfinished=False)
    if inputs.problems:
        raise DexumiError(inputs.problems[0])
    return inputs.files


class EpisodeDataset:
    """Sample i is instant t of an episode: `obs_horizon` observations ending at t and `action_horizon` actions
    starting at t. Windows running over an episode's start or end repeat the first/last value and are flagged
    in the `*_is_pad` masks (True = padding). A trimmed episode (`dexumi edit --trim`) gives only its kept
    frames; each split part is an episode of its own (`self.episodes[e].part`)."""

    def __init__(
        self,
        paths: list[str | Path] | str | Path,
        obs_horizon: int = 1,
        action_horizon: int = 16,
        cameras: list[str] | None = None,
        image_reduce: int = 4,
        image_size: tuple[int, int] | None = None,
        include_exo: bool = True,
        include_tactile: bool = True,
    ) -> None:
        if obs_horizon < 1 or action_horizon < 1:
            raise DexumiError("obs_horizon and action_horizon must be at least 1")
        files = _episode_files([paths] if isinstance(paths, (str, Path)) else list(paths))
        if not files:
            raise DexumiError("no episode files")
        self.obs_horizon, self.action_horizon = obs_horizon, action_horizon
        self.image_reduce, self.image_size, self.include_exo = image_reduce, image_size, include_exo
        self.episodes: list[_EpisodeArrays] = []
        names = None
        boards: list[str] | None = None
        for p in files:
            with Episode.open(p) as ep:
                if names is None:
                    names = ep.action_names
                    self.cameras = list(ep.cameras) if cameras is None else list(cameras)
                    boards = ep.tactile_boards if include_tactile else []
                    roles = [b.split(":")[0] for b in boards]
                    self.tactile_names = {r: [f"{r}.{c}" for c in ep.tactile_channels(r)] for r in roles}
                elif ep.action_names != names:
                    raise DexumiError(f"{p}: action joints {ep.action_names} differ from {names}")
                if include_tactile and ep.tactile_boards != boards:
                    raise DexumiError(f"{p}: tactile boards {ep.tactile_boards} differ from {boards}")
                missing = [c for c in self.cameras if c not in ep.cameras]
                if missing:
                    raise DexumiError(f"{p}: no camera {missing[0]!r}")
                # the edited view: trimmed frames left out, each split part its own episode (the file is unchanged)
                for i0, i1 in ep.parts():
                    ep.select(i0, i1)
                    # action[t] = qpos[t+1] (dexumi.episode.aligned's rule), also for files made before the rule
                    self.episodes.append(
                        _EpisodeArrays(
                            p,
                            ep.timestamps,
                            next_step_action(ep.qpos).astype(np.float32),
                            ep.qpos.astype(np.float32),
                            ep.exo_joints.astype(np.float32),
                            {c: ep.image_indices(c) for c in self.cameras},
                            {r: _touch(ep, r) for r in roles},
                        )
                    )
        self.action_names = list(names or [])
        lengths = np.array([len(e.timestamps) for e in self.episodes])
        self._starts = np.concatenate([[0], np.cumsum(lengths)])
        self._open: dict[int, Episode] = {}

    def __len__(self) -> int:
        return int(self._starts[-1])

    def locate(self, i: int) -> tuple[int, int]:
        """Sample index → (episode number in this dataset, instant)."""
        if not 0 <= i < len(self):
            raise IndexError(i)
        e = int(np.searchsorted(self._starts, i, side="right") - 1)
        return e, int(i - self._starts[e])

    def _episode(self, e: int) -> Episode:
        ep = self._open.get(e)
        if ep is None:
            ep = self._open[e] = Episode.open(self.episodes[e].path)
        return ep

    def _image(self, e: int, cam: str, raw: int) -> np.ndarray:
        bgr = self._episode(e).raw_image(cam, raw, self.image_reduce)
        if self.image_size is not None and (bgr.shape[1], bgr.shape[0]) != self.image_size:
            bgr = cv2.resize(bgr, self.image_size, interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def __getitem__(self, i: int) -> dict[str, Any]:
        """`obs.qpos` (K, A), `obs.exo_joints` (K, J), `obs.images.<cam>` (K, H, W, 3) uint8 RGB, `obs_is_pad` (K,),
        `action` (H, A), `action_is_pad` (H,), `timestamp` (seconds from the episode start), `episode`, `frame`;
        per tactile board (role, e.g. tactile_right; channels `self.tactile_names[role]`): `obs.tactile.<role>`
        (K, C) float32 as recorded, `obs.tactile.<role>.zeroed` (K, C) minus the episode's first valid reading
        (export `--tactile-baseline`), `obs.tactile.<role>.valid` (K,) bool."""
        e, t = self.locate(int(i))
        ep = self.episodes[e]
        T = len(ep.timestamps)
        hist = np.arange(t - self.obs_horizon + 1, t + 1)
        fut = np.arange(t, t + self.action_horizon)
        hist_c, fut_c = np.clip(hist, 0, T - 1), np.clip(fut, 0, T - 1)
        out: dict[str, Any] = {
            "obs.qpos": ep.qpos[hist_c],
            "obs_is_pad": hist < 0,
            "action": ep.action[fut_c],
            "action_is_pad": fut >= T,
            "timestamp": np.float64(ep.timestamps[t] - ep.timestamps[0]),
            "episode": np.int64(e),
            "frame": np.int64(t),
        }
        if self.include_exo:
            out["obs.exo_joints"] = ep.exo[hist_c]
        for role, (vals, zeroed, ok) in ep.tactile.items():
            out[f"obs.tactile.{role}"] = vals[hist_c]
            out[f"obs.tactile.{role}.zeroed"] = zeroed[hist_c]
            out[f"obs.tactile.{role}.valid"] = ok[hist_c]
        for cam in self.cameras:
            raw = ep.images[cam][hist_c]
            out[f"obs.images.{cam}"] = np.stack([self._image(e, cam, int(r)) for r in raw])
        return out

    def close(self) -> None:
        for ep in self._open.values():
            ep.close()
        self._open.clear()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_open"] = {}  # h5py handles stay in their process
        return state

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

"""Touch in exports (issue 17): each tactile board of an episode as its own observation vector.

LeRobot `observation.tactile.<role>`, robomimic `obs/<role>`, ACT `observations/tactile/<role>`, zarr
`data/tactile_<role>`. Values are the episode's aligned `observations/<side>/tactile` (physical units: XHand N,
FSR counts) at the export grid's nearest aligned frame. Options:
- `baseline` (DexUMI's `--force-adjust`): subtract each channel's first valid reading of the episode (of the
  part, for a trimmed / split one), so a board that reads a no-load offset starts at zero;
- `total`: per-finger totals instead of every channel (`dexumi.devices.tactile.finger_totals`: FSR → thumb,
  index; XHand → the fingertip's summed normal-force map).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import h5py
import numpy as np

from dexumi.devices.tactile import channel_names, finger_totals
from dexumi.episode.device_stream import subtract_first_valid, tactile_boards

if TYPE_CHECKING:
    from dexumi.episode.reader import Episode


def tactile_roles(f: h5py.File) -> tuple[str, ...]:
    """`role:protocol` of the tactile boards whose aligned view an episode holds, sorted by role."""
    return tactile_boards(f)


def feature_key(entry: str, prefix: str = "observation.tactile.") -> str:
    """`tactile_right:xhand-tactile` → `observation.tactile.tactile_right` (or another prefix)."""
    return prefix + entry.split(":")[0]


def _protocol(f: h5py.File, role: str) -> str:
    v = f[f"raw/{role}"].attrs.get("protocol", "")
    return v.decode() if isinstance(v, bytes) else str(v)


def names(entry: str, total: bool) -> list[str]:
    """Channel names of one board's exported vector (`entry`: role:protocol, as `tactile_roles` gives)."""
    role, _, proto = entry.partition(":")
    if total:
        return [f"{role}.{n}" for n in finger_totals(proto, np.zeros((1, len(channel_names(proto)))))[1]]
    return [f"{role}.{n}" for n in channel_names(proto)]


def board_view(ep: Episode, entry: str, baseline: bool = False, total: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """((T, C) float64 values, (T,) valid) of one board (`entry`: role:protocol) over the episode's selected
    window; `baseline` subtracts the window's first valid reading, `total` gives per-finger totals."""
    role, _, proto = entry.partition(":")
    raw, valid = ep.tactile(role)
    vals = subtract_first_valid(raw, valid) if baseline else raw.astype(np.float64)
    if total:
        vals, _ = finger_totals(proto or _protocol(ep.f, role), vals)
    return vals, valid


def tactile_at(
    ep: Episode, entry: str, near: np.ndarray, baseline: bool = False, total: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """((K, C) float32 values at the aligned frames `near` of the selected window, (K,) valid) of one board."""
    vals, valid = board_view(ep, entry, baseline, total)
    return vals[near].astype(np.float32), valid[near]

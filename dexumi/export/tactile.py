"""Touch in exports (issue 17): each tactile board of an episode as its own observation vector.

LeRobot `observation.tactile.<role>`, robomimic `obs/<role>`, ACT `observations/tactile/<role>`, zarr
`data/tactile_<role>`. Values are the episode's aligned `observations/<side>/tactile` (physical units: XHand N,
FSR counts) at the export grid's nearest aligned frame. Options:
- `baseline` (DexUMI's `--force-adjust`): subtract each channel's first valid reading of the episode, so a
  board that reads a no-load offset starts at zero;
- `total`: per-finger totals instead of every channel (`dexumi.devices.tactile.finger_totals`: FSR → thumb,
  index; XHand → the fingertip's summed normal-force map).
"""

from __future__ import annotations

import h5py
import numpy as np

from dexumi.devices.tactile import channel_names, finger_totals
from dexumi.episode.device_stream import OBS, device_groups, split_role


def tactile_roles(f: h5py.File) -> tuple[str, ...]:
    """`role:protocol` of the tactile boards whose aligned view an episode holds, sorted by role."""
    out = []
    for role in device_groups(f):
        kind, side = split_role(role)
        if kind == "tactile" and f"{OBS}/{side or role}/tactile" in f:
            out.append(f"{role}:{_protocol(f, role)}")
    return tuple(sorted(out))


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


def tactile_at(f: h5py.File, entry: str, near: np.ndarray, baseline: bool = False, total: bool = False
               ) -> tuple[np.ndarray, np.ndarray]:
    """((K, C) float32 values at the aligned frames `near`, (K,) valid) of one board (`entry`: role:protocol)."""
    role = entry.split(":")[0]
    _, side = split_role(role)
    o = f"{OBS}/{side or role}"
    vals = f[f"{o}/tactile"][:].astype(np.float64)
    valid = f[f"{o}/tactile_valid"][:].astype(bool)
    if baseline and valid.any():
        vals = vals - vals[np.flatnonzero(valid)[0]]
    if total:
        vals, _ = finger_totals(_protocol(f, role), vals)
    return vals[near].astype(np.float32), valid[near]

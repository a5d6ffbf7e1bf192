"""Reference poses of the range-of-motion capture, derived from the exoskeleton model's joint limits.

Each pose gives every encoder joint a reference angle (radians, the model's convention):

- ``flat``: every joint at 0 (clipped into its limits) — hand flat on a table, fingers together;
- ``fist``: flexion joints at 75 % of their upper limit, thumb rotation (``yaw``/``rot``) at 50 %,
  abduction (``abd``) joints at 0 — a fist with the exoskeleton against the documented stops;
- ``spread`` (only if the model has abduction joints): abduction joints at 90 % of their upper limit;
- ``opposition``: thumb rotation at 90 %, other thumb joints at 50 % of their upper limit, fingers flat.

Finger sweeps move one finger from flat to 90 % of each joint's upper limit and back; they give the observed
range, not the fit. The same poses script the emulator (`CalibrationMotion`), so simulated captures have
exact references.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dexumi.hands import registry
from dexumi.retarget.mapfile import load_map
from firmware_bridge.emulator.motion import FINGERS, CalibrationMotion

FIST_FLEXION = 0.75
FIST_THUMB_ROTATION = 0.5
SPREAD = 0.9
OPPOSITION_ROTATION = 0.9
OPPOSITION_FLEXION = 0.5
SWEEP = 0.9
MAPS_DIR = registry.MODELS_DIR.parent / "maps"
_FINGER_WORDS = {"thumb": 0, "index": 1, "middle": 2, "ring": 3, "pinky": 4, "little": 4}


@dataclass(frozen=True)
class HandPoses:
    """Per-joint reference poses of one exoskeleton model (arrays in the model's joint order)."""

    model: str
    joints: tuple[str, ...]
    lower: np.ndarray
    upper: np.ndarray
    fingers: tuple[int, ...]
    flat: np.ndarray
    fist: np.ndarray
    spread: np.ndarray
    opposition: np.ndarray
    sweep: np.ndarray

    def pose(self, name: str) -> np.ndarray:
        return getattr(self, name)

    @property
    def hold_poses(self) -> tuple[str, ...]:
        """The held poses the fit uses, in capture order."""
        names = ["flat", "fist"]
        if np.any(self.spread != self.flat):
            names.append("spread")
        return (*names, "opposition")

    def motion(
        self, hold_s: float = 1.5, move_s: float = 0.5, sweep_s: float = 1.5, wave_s: float = 6.0, seed: int = 0
    ) -> CalibrationMotion:
        """The scripted motion that plays these poses (for the emulator and the sim cameras)."""
        tup = lambda a: tuple(float(x) for x in a)
        return CalibrationMotion(
            len(self.joints),
            tup(self.fist),
            tup(self.spread),
            tup(self.opposition),
            tup(self.sweep),
            self.fingers,
            hold_s,
            move_s,
            sweep_s,
            wave_s,
            seed,
        )


def finger_of(name: str) -> int:
    low = name.lower()
    for word, f in _FINGER_WORDS.items():
        if word in low:
            return f
    return len(FINGERS) - 1


def _kind(name: str) -> str:
    low = name.lower()
    if "abd" in low or "spread" in low:
        return "abduction"
    if finger_of(name) == 0 and ("yaw" in low or "rot" in low):
        return "rotation"
    return "flexion"


def bundled_map(exoskeleton: str) -> Path | None:
    """The bundled retargeting map of a bundled exoskeleton's paired robot hand (inspire_exo: inspire.yaml), if
    any. By the pair, not by the maps' `exoskeleton` key: several maps start from one exoskeleton (allegro.yaml
    also reads inspire_exo) and the channel order must not depend on which file sorts first."""
    from dexumi.bundled_maps import MAP_OF_HAND

    pair = next((m.pair for m in registry.bundled() if m.name == exoskeleton), None)
    return MAPS_DIR / MAP_OF_HAND[pair] if pair in MAP_OF_HAND else None


def channel_order(exoskeleton: str) -> tuple[str, ...]:
    """Encoder channel order: the bundled map's `channels` if there is one, else the model's joint order."""
    path = bundled_map(exoskeleton)
    return load_map(path).channels if path else registry.load(exoskeleton).joint_names


def hand_poses(model: str, channels: Sequence[str] | None = None) -> HandPoses:
    """The reference poses of a bundled exoskeleton (by name) or any URDF (by path), in encoder channel
    order (`channels`, default `channel_order(model)`)."""
    kin = registry.load(model)
    names = tuple(channels) if channels is not None else channel_order(model)
    cols = kin.indices(names)
    lo, hi = kin.lower[cols].copy(), kin.upper[cols].copy()
    kinds = [_kind(n) for n in names]
    fingers = tuple(finger_of(n) for n in names)
    flat = np.clip(np.zeros(len(names)), lo, hi)
    fist, spread, opp, sweep = flat.copy(), flat.copy(), flat.copy(), flat.copy()
    for j, (k, f) in enumerate(zip(kinds, fingers)):
        up = hi[j]
        sweep[j] = SWEEP * up
        if k == "flexion":
            fist[j] = FIST_FLEXION * up
            if f == 0:
                opp[j] = OPPOSITION_FLEXION * up
        elif k == "rotation":
            fist[j] = FIST_THUMB_ROTATION * up
            opp[j] = OPPOSITION_ROTATION * up
        else:
            spread[j] = SPREAD * up
    return HandPoses(kin.name, names, lo, hi, fingers, flat, fist, spread, opp, sweep)

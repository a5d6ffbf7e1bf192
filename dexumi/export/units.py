"""Action units: URDF radians (default) or the vendor's motor units from the retarget map's `motor:` section.

`motor: {joint: {min: M0, max: M1}}` maps the joint's URDF range [lower, upper] linearly onto [M0, M1] (M0 > M1
for a motor counting the other way); `{scale: s, offset: o}` is motor = o + s * rad. The map is the one stored
in each episode (meta/retarget_map) unless `--motor-map FILE` names another; every action joint needs an entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dexumi.episode import schema as S
from dexumi.episode.reader import Episode
from dexumi.errors import DexumiError
from dexumi.retarget.mapfile import RetargetMap, load_map, parse_map
from dexumi.validate import models

UNITS = ("rad", "motor")


@dataclass(frozen=True)
class MotorScale:
    """motor = offset + scale * rad, per action joint."""

    names: tuple[str, ...]
    scale: np.ndarray
    offset: np.ndarray
    source: str

    def apply(self, rad: np.ndarray) -> np.ndarray:
        return (self.offset + self.scale * np.asarray(rad, dtype=np.float64)).astype(np.float32)

    def to_dict(self) -> dict:
        return {
            "names": list(self.names),
            "scale": self.scale.tolist(),
            "offset": self.offset.tolist(),
            "rule": "motor = offset + scale * rad",
            "source": self.source,
        }


def motor_scale(rmap: RetargetMap, names: tuple[str, ...], hand: str, source: str) -> MotorScale:
    """The per-joint linear map of `names` from the map's `motor:` section."""
    spec = {m.joint: m for m in rmap.motor}
    if not spec:
        raise DexumiError(f"--action-units motor: {source} has no 'motor:' section (vendor units per joint)")
    missing = [n for n in names if n not in spec]
    if missing:
        raise DexumiError(f"--action-units motor: {source}: no motor units for joint '{missing[0]}'")
    kin = None
    scale, offset = [], []
    for n in names:
        m = spec[n]
        if m.scale is not None:
            scale.append(m.scale)
            offset.append(m.offset)
            continue
        kin = kin or (models.hand(hand) if hand else None)
        if kin is None or n not in kin.joint_names:
            raise DexumiError(
                f"--action-units motor: joint '{n}': min/max need the hand model's limits "
                f"(hand {hand!r} unknown); give scale/offset instead"
            )
        lo, hi = float(kin.lower[kin.index(n)]), float(kin.upper[kin.index(n)])
        if hi <= lo:
            raise DexumiError(f"--action-units motor: joint '{n}' has no range in the hand model")
        if m.min is None or m.max is None:
            raise DexumiError(f"--action-units motor: joint '{n}' needs min and max, or scale/offset")
        s = (m.max - m.min) / (hi - lo)
        scale.append(s)
        offset.append(m.min - s * lo)
    return MotorScale(tuple(names), np.asarray(scale, float), np.asarray(offset, float), source)


def for_episodes(paths: list[Path], names: tuple[str, ...], hand: str, motor_map: Path | None) -> MotorScale:
    """One motor scale for the whole export: from --motor-map, else each episode's stored map (all must agree)."""
    if motor_map is not None:
        return motor_scale(load_map(motor_map), names, hand, str(motor_map))
    found: MotorScale | None = None
    for p in paths:
        with Episode.open(p) as ep:
            text = ep.text(S.RETARGET_MAP)
        if not text:
            raise DexumiError(f"--action-units motor: {p} stores no retarget map; pass --motor-map FILE")
        ms = motor_scale(parse_map(text, f"{p}:meta/retarget_map"), names, hand, f"{p.name}:meta/retarget_map")
        if found is not None and not (np.allclose(found.scale, ms.scale) and np.allclose(found.offset, ms.offset)):
            raise DexumiError(
                f"--action-units motor: {p} has other motor units than {found.source}; "
                "pass --motor-map FILE or export them separately"
            )
        found = found or ms
    assert found is not None
    return found

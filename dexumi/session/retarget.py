"""The session's retargeter: the chosen map (`dexumi.bundled_maps`: an explicit file, the bundled map of a hand, or by
joint count) loaded and checked against the encoder's joints."""

from __future__ import annotations

from pathlib import Path

from dexumi.bundled_maps import MAP_OF_HAND, MAP_OF_JOINTS, MAPS_DIR, bundled_map, choose_map
from dexumi.errors import DexumiError

# the bundled maps and the choice among them live in dexumi.bundled_maps (the simulated rig chooses too)
__all__ = ["MAPS_DIR", "MAP_OF_HAND", "MAP_OF_JOINTS", "bundled_map", "choose_map", "load_retargeter"]


def load_retargeter(map_path: Path | None, joints: int):
    """(retargeter or None, map text): None means action = exoskeleton joints (no map for this joint count)."""
    if map_path is None:
        return None, ""
    from dexumi.retarget import Retargeter, load_map

    rmap = load_map(map_path)
    if len(rmap.channels) != joints:
        raise DexumiError(
            f"{map_path}: the map has {len(rmap.channels)} channels but the encoder has {joints} "
            "joints; pick the map (--map/--hand) made for this exoskeleton"
        )
    return Retargeter.from_map(rmap), Path(map_path).read_text()

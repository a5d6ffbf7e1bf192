"""Choosing the retargeting map for a session: an explicit file, the bundled map of a hand, or by joint count."""

from __future__ import annotations

from pathlib import Path

from dexumi.errors import DexumiError

MAPS_DIR = Path(__file__).resolve().parents[1] / "hands" / "maps"
MAP_OF_HAND = {"inspire_like": "inspire.yaml", "inspire": "inspire.yaml", "xhand_like": "xhand.yaml",
               "xhand": "xhand.yaml"}
MAP_OF_JOINTS = {6: "inspire.yaml", 12: "xhand.yaml"}


def bundled_map(hand: str) -> Path:
    """The retargeting map bundled for a robot hand (`inspire_like`, `xhand_like`, ...); one-line error if none."""
    path = choose_map(None, hand, 0)
    assert path is not None
    return path


def choose_map(map_path: Path | None, hand: str | None, joints: int) -> Path | None:
    if map_path is not None:
        p = Path(map_path).expanduser()
        if not p.is_file():
            raise DexumiError(f"--map {p}: no such file")
        return p
    if hand:
        if hand not in MAP_OF_HAND:
            raise DexumiError(f"no bundled retargeting map for hand '{hand}' (bundled: inspire_like, xhand_like); "
                              "give one with --map FILE")
        return MAPS_DIR / MAP_OF_HAND[hand]
    name = MAP_OF_JOINTS.get(joints)
    return MAPS_DIR / name if name else None


def load_retargeter(map_path: Path | None, joints: int):
    """(retargeter or None, map text): None means action = exoskeleton joints (no map for this joint count)."""
    if map_path is None:
        return None, ""
    from dexumi.retarget import Retargeter, load_map

    rmap = load_map(map_path)
    if len(rmap.channels) != joints:
        raise DexumiError(f"{map_path}: the map has {len(rmap.channels)} channels but the encoder has {joints} "
                          "joints; pick the map (--map/--hand) made for this exoskeleton")
    return Retargeter.from_map(rmap), Path(map_path).read_text()

"""The retargeting maps bundled with dexumi (`dexumi/hands/maps`) and which one a session uses: an explicit file,
the bundled map of a hand, or the one for a joint count. Light (no kinematics), below the session and the
simulated rig that both choose maps."""

from __future__ import annotations

from pathlib import Path

from dexumi.errors import DexumiError

__all__ = ["MAPS_DIR", "MAP_OF_HAND", "MAP_OF_JOINTS", "bundled_map", "choose_map"]

MAPS_DIR = Path(__file__).resolve().parent / "hands" / "maps"
MAP_OF_HAND = {
    "inspire_like": "inspire.yaml",
    "inspire": "inspire.yaml",
    "xhand_like": "xhand.yaml",
    "xhand": "xhand.yaml",
    "allegro_right": "allegro.yaml",  # the packaged Allegro (dexumi.hands.packaged); left and right share joints
    "allegro_left": "allegro.yaml",
}
MAP_OF_JOINTS = {6: "inspire.yaml", 12: "xhand.yaml"}


def bundled_map(hand: str) -> Path:
    """The retargeting map bundled for a robot hand (`inspire_like`, `xhand_like`, ...); one-line error if none."""
    path = choose_map(None, hand, 0)
    assert path is not None
    return path


def choose_map(map_path: Path | None, hand: str | None, joints: int) -> Path | None:
    """`map_path` if it is a file, else the bundled map of `hand`, else the one for `joints` channels (None: none)."""
    if map_path is not None:
        p = Path(map_path).expanduser()
        if not p.is_file():
            raise DexumiError(f"--map {p}: no such file")
        return p
    if hand:
        if hand not in MAP_OF_HAND:
            raise DexumiError(
                f"no bundled retargeting map for hand '{hand}' (bundled: inspire_like, xhand_like, allegro_right, "
                "allegro_left); "
                "give one with --map FILE"
            )
        return MAPS_DIR / MAP_OF_HAND[hand]
    name = MAP_OF_JOINTS.get(joints)
    return MAPS_DIR / name if name else None

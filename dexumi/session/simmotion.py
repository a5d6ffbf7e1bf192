"""The simulated exoskeleton's motion: grasp cycles inside the exoskeleton model's joint ranges.

`--sim` claims to simulate the exoskeleton the session's retargeting map is made for; its joints must then
stay inside that model's limits (from the URDF), or the first recording of a new user already fails
validation. The ranges go to the emulator and to the sim cameras as one motion spec, so both show the same
hand.
"""

from __future__ import annotations

import logging
from pathlib import Path

from dexumi.errors import DexumiError

log = logging.getLogger(__name__)


def exo_joint_ranges(map_path: Path | None, hand: str | None, joints: int) -> tuple[list[float], list[float]] | None:
    """(lower, upper) of each encoder channel from the exoskeleton model of the session's map, or None when
    there is no map, no exoskeleton model or a channel is not a joint of it."""
    from dexumi import hands
    from dexumi.retarget import load_map
    from dexumi.session.retarget import choose_map

    path = choose_map(map_path, hand, joints)
    if path is None:
        return None
    rmap = load_map(path)
    if not rmap.exoskeleton or len(rmap.channels) != joints:
        return None
    try:
        kin = hands.load(rmap.resolve(rmap.exoskeleton))
    except DexumiError as exc:
        log.warning("sim motion: exoskeleton model %s not loaded (%s); default motion", rmap.exoskeleton, exc)
        return None
    if not all(c in kin.joint_names for c in rmap.channels):
        return None
    idx = [kin.index(c) for c in rmap.channels]
    return [float(kin.lower[i]) for i in idx], [float(kin.upper[i]) for i in idx]


def sim_motion_spec(map_path: Path | None, hand: str | None, joints: int, seed: int = 0) -> str:
    """The emulator's `--motion` (and sim cameras' `motion=`) for a session: grasp cycles within the ranges."""
    from firmware_bridge.emulator.motion import GraspCycleMotion

    ranges = exo_joint_ranges(map_path, hand, joints)
    if ranges is None:
        return "grasp"
    return GraspCycleMotion(joints, seed, lower=tuple(ranges[0]), upper=tuple(ranges[1])).spec()

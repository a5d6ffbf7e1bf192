"""Retargeting exoskeleton joint angles onto a robot hand: map files, joint and fingertip modes, metrics."""

from dexumi.retarget.curves import LinearCurve, PiecewiseCurve, PolyCurve, fit_curve
from dexumi.retarget.mapfile import RetargetMap, load_map, map_to_dict, parse_map
from dexumi.retarget.retargeter import Retargeter

__all__ = [
    "LinearCurve",
    "PiecewiseCurve",
    "PolyCurve",
    "RetargetMap",
    "Retargeter",
    "fit_curve",
    "load_map",
    "map_to_dict",
    "parse_map",
]

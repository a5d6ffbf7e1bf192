"""Fit the exoskeleton → robot joint-mode map from paired samples, with residuals, written as a map file.

Pairs come from either
- the hand models' geometry: exoskeleton poses spread over its joint limits, each solved in fingertip mode
  (the robot pose whose fingertips best match the exoskeleton's), or
- a robot hand commanded through set points while the calibrated exoskeleton follows: a CSV whose header
  names the exoskeleton channels and the robot joints (`read_pairs`).
Each robot joint of the base map keeps its source channel (`from`); its curve is refitted with
`dexumi.retarget.curves.fit_curve` and the residuals (RMS, max) are reported per joint.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import yaml

from dexumi.errors import DexumiError
from dexumi.retarget.curves import Curve, fit_curve
from dexumi.joint_files import read_joints
from dexumi.retarget.mapfile import JointRule, RetargetMap, load_map, map_to_dict, parse_map
from dexumi.retarget.retargeter import Retargeter
from dexumi.safe_output import write_atomic

log = logging.getLogger(__name__)


@dataclass
class PairedSamples:
    """Exoskeleton channels (N, C) in map channel order and robot joints (N, R) in robot joint order."""

    exo: np.ndarray
    robot: np.ndarray
    robot_joints: tuple[str, ...]
    source: str


@dataclass
class JointFit:
    robot: str
    exo: str
    curve: Curve
    rms_rad: float
    max_rad: float
    samples: int


@dataclass
class JointMapFit:
    rmap: RetargetMap
    fits: list[JointFit]
    source: str

    @property
    def worst(self) -> JointFit:
        return max(self.fits, key=lambda f: f.max_rad)

    def residuals(self) -> dict[str, dict[str, float]]:
        return {
            f.robot: {"rms_deg": round(math.degrees(f.rms_rad), 4), "max_deg": round(math.degrees(f.max_rad), 4)}
            for f in self.fits
        }

    def to_yaml(self) -> str:
        head = [
            f"# Retargeting map fitted by `dexumi calibrate` from {self.source}. See docs/retargeting.md.",
            "# Fit residuals (robot joint: RMS / max, degrees):",
        ]
        head += [f"#   {f.robot}: {math.degrees(f.rms_rad):.3f} / {math.degrees(f.max_rad):.3f}" for f in self.fits]
        return "\n".join(head) + "\n" + yaml.safe_dump(map_to_dict(self.rmap), sort_keys=False)

    def write(self, path: str | Path) -> Path:
        """Write the map (atomically); it is parsed back first so that a written map always loads."""
        path = Path(path)
        text = self.to_yaml()
        rmap = parse_map(text, str(path), ".yaml", path.resolve())
        if self.rmap.robot != rmap.robot:
            raise DexumiError("internal: the written map does not read back")
        return write_atomic(path, text)


def geometry_pairs(base: RetargetMap, samples: int = 160, seed: int = 0, margin: float = 0.02) -> PairedSamples:
    """Exoskeleton poses over its limits (a sweep of every joint together plus random poses) and the robot
    poses fingertip mode finds for them."""
    rt = Retargeter.from_map(base, mode="fingertip")
    exo = rt.exo
    if exo is None:
        raise DexumiError("geometry pairs need the map's exoskeleton model")
    cols = exo.indices(base.channels)
    lo, hi = exo.lower[cols], exo.upper[cols]
    span = hi - lo
    lo, hi = lo + margin * span, hi - margin * span
    rng = np.random.default_rng(seed)
    sweep = lo + np.linspace(0, 1, samples // 2)[:, None] * (hi - lo)
    rand = rng.uniform(lo, hi, (samples - len(sweep), len(lo)))
    x = np.concatenate([sweep, rand])
    rt.reset()
    q = np.concatenate([rt.retarget(x[i : i + 1]) for i in range(len(x))])  # one by one: warm start per pose
    return PairedSamples(x, q, rt.robot.joint_names, f"the geometry of {base.exoskeleton} and {base.robot}")


def read_pairs(path: str | Path, base: RetargetMap) -> PairedSamples:
    """Set-point pairs from a CSV/HDF5 with named columns: every map channel and every mapped robot joint."""
    rec = read_joints(path)
    if rec.names is None:
        raise DexumiError(f"{path}: the pairs file needs a header naming exoskeleton channels and robot joints")
    names = list(rec.names)
    missing = [c for c in base.channels if c not in names]
    if missing:
        raise DexumiError(f"{path}: no column for exoskeleton channel '{missing[0]}'")
    robot_joints = tuple(r.robot for r in base.joints)
    missing = [j for j in robot_joints if j not in names]
    if missing:
        raise DexumiError(f"{path}: no column for robot joint '{missing[0]}'")
    exo = rec.values[:, [names.index(c) for c in base.channels]]
    robot = rec.values[:, [names.index(j) for j in robot_joints]]
    return PairedSamples(exo, robot, robot_joints, f"set points in {Path(path).name}")


def fit_joint_map(base: RetargetMap, pairs: PairedSamples, kind: str = "linear") -> JointMapFit:
    """Refit every joint rule of `base` (same channel → joint assignments) on the pairs."""
    if not base.joints:
        raise DexumiError("the base map has no joint rules to fit (mode 'joint' maps list them under 'joints')")
    fits, rules = [], []
    for rule in base.joints:
        x = pairs.exo[:, base.channels.index(rule.exo)]
        if rule.robot not in pairs.robot_joints:
            raise DexumiError(f"the pairs have no values for robot joint '{rule.robot}'")
        y = pairs.robot[:, pairs.robot_joints.index(rule.robot)]
        try:
            curve = fit_curve(x, y, kind)
        except DexumiError as exc:
            raise DexumiError(f"robot joint '{rule.robot}' (from '{rule.exo}'): {exc}") from None
        res = curve(x) - y
        fits.append(
            JointFit(rule.robot, rule.exo, curve, float(np.sqrt(np.mean(res**2))), float(np.max(np.abs(res))), len(x))
        )
        rules.append(JointRule(rule.robot, rule.exo, curve))
    rmap = replace(base, mode="joint", joints=tuple(rules), path=None)
    fit = JointMapFit(rmap, fits, pairs.source)
    log.info(
        "joint map fitted from %s; worst joint %s: max residual %.2f°",
        pairs.source,
        fit.worst.robot,
        math.degrees(fit.worst.max_rad),
    )
    return fit


def base_map(path_or_exoskeleton: str | Path) -> RetargetMap:
    """A map file, or the bundled map of an exoskeleton model name."""
    from calibration.poses import bundled_map

    p = Path(path_or_exoskeleton)
    if p.suffix.lower() in (".yaml", ".yml", ".toml") or p.is_file():
        return load_map(p)
    found = bundled_map(str(path_or_exoskeleton))
    if found is None:
        raise DexumiError(f"no bundled retargeting map for exoskeleton '{path_or_exoskeleton}'; give --map FILE")
    return load_map(found)

"""Author the bundled hand URDFs from a table of published overall dimensions.

The bundled models carry joint placement, axes, limits and linkage couplings, plus simple visual/collision
geometry generated from the same table (a box palm, a cylinder per link; no meshes, no inertia). They are
approximations authored here from published facts (overall sizes, joint ranges, linkage coefficients), not
copies of any vendor file. `link_segments` gives the same geometry to the MuJoCo world (dexumi/sim), where
links are capsules. Regenerate with ``python -m dexumi.hands.author``;
a test checks that the committed files equal the generated text.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

MODELS_DIR = Path(__file__).resolve().parent / "models"

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Mimic:
    """URDF mimic: this joint = multiplier * joint + offset."""

    joint: str
    multiplier: float
    offset: float = 0.0


@dataclass(frozen=True)
class Joint:
    """One revolute joint: placement in the parent link, axis, limits, optional mimic."""

    name: str
    xyz: Vec3
    axis: Vec3
    lower: float
    upper: float
    rpy: Vec3 = (0.0, 0.0, 0.0)
    mimic: Mimic | None = None


@dataclass(frozen=True)
class Finger:
    """A serial chain from the palm to a fingertip frame named ``<name>_tip``."""

    name: str
    joints: tuple[Joint, ...]
    tip: Vec3


@dataclass(frozen=True)
class HandSpec:
    """A whole hand: name, comment header and fingers hanging from the ``base`` link."""

    name: str
    comment: str
    fingers: tuple[Finger, ...]
    effort: float = 10.0
    velocity: float = 5.0
    extra: dict[str, str] = field(default_factory=dict)


def _f(x: float) -> str:
    return f"{x:.6g}"


def _v(v: Vec3) -> str:
    return " ".join(_f(x) for x in v)


# Geometry of the generated models (metres): link radius by finger, the palm box from the finger bases.
LINK_RADIUS = {"thumb": 0.0095, "index": 0.0085, "middle": 0.0088, "ring": 0.0083, "pinky": 0.0075}
PALM_THICKNESS = 0.026


@dataclass(frozen=True)
class Segment:
    """A link's geometry in its own frame: a rod from the origin to `end` of `radius` (end == 0: a sphere)."""

    link: str
    end: Vec3
    radius: float


def link_segments(spec: HandSpec) -> list[Segment]:
    """Each finger link's rod: from its joint to the next joint (or to the fingertip), in the link's frame."""
    out = []
    for finger in spec.fingers:
        r = LINK_RADIUS.get(finger.name, 0.008)
        for k, j in enumerate(finger.joints):
            end = finger.joints[k + 1].xyz if k + 1 < len(finger.joints) else finger.tip
            out.append(Segment(f"{j.name}_link", end, r))
    return out


def palm_box(spec: HandSpec) -> tuple[Vec3, Vec3]:
    """(centre, half sizes) of the palm box in the base frame: from the wrist to the finger bases."""
    ys = [f.joints[0].xyz[1] for f in spec.fingers]
    zs = [f.joints[0].xyz[2] for f in spec.fingers if f.name != "thumb"] or [0.1]
    top = min(zs)
    half_y = (max(ys) - min(ys)) / 2 + 0.008
    return (0.0, (max(ys) + min(ys)) / 2, top / 2), (PALM_THICKNESS / 2, half_y, top / 2)


def _rod_urdf(seg: Segment) -> list[str]:
    """URDF visual + collision of a rod: a cylinder along the segment (URDF has no capsule)."""
    import math

    x, y, z = seg.end
    length = math.sqrt(x * x + y * y + z * z)
    if length < 1e-9:
        return []
    # rotate +z onto the segment: pitch about y, then yaw about z (URDF rpy = fixed-axis roll, pitch, yaw)
    pitch = math.acos(max(-1.0, min(1.0, z / length)))
    yaw = math.atan2(y, x)
    origin = f'<origin xyz="{_v((x / 2, y / 2, z / 2))}" rpy="0 {_f(pitch)} {_f(yaw)}"/>'
    geom = f'<geometry><cylinder radius="{_f(seg.radius)}" length="{_f(length)}"/></geometry>'
    return [f"    <{tag}>{origin}{geom}</{tag}>" for tag in ("visual", "collision")]


def _link(name: str, body: list[str]) -> list[str]:
    return [f'  <link name="{name}">', *body, "  </link>"] if body else [f'  <link name="{name}"/>']


def render(spec: HandSpec) -> str:
    """URDF text of a hand spec (deterministic, so the committed files can be checked)."""
    centre, half = palm_box(spec)
    palm = (
        f'<origin xyz="{_v(centre)}" rpy="0 0 0"/><geometry><box size="{_v((2 * half[0], 2 * half[1], 2 * half[2]))}"/>'
        "</geometry>"
    )
    out = [
        '<?xml version="1.0"?>',
        f"<!-- {spec.comment} -->",
        f'<robot name="{spec.name}">',
        *_link("base", [f"    <visual>{palm}</visual>", f"    <collision>{palm}</collision>"]),
    ]
    rods = {seg.link: seg for seg in link_segments(spec)}
    for finger in spec.fingers:
        parent = "base"
        out.append(f"  <!-- {finger.name} -->")
        for j in finger.joints:
            child = f"{j.name}_link"
            out.extend(_link(child, _rod_urdf(rods[child])))
            out.append(f'  <joint name="{j.name}" type="revolute">')
            out.append(f'    <parent link="{parent}"/>')
            out.append(f'    <child link="{child}"/>')
            out.append(f'    <origin xyz="{_v(j.xyz)}" rpy="{_v(j.rpy)}"/>')
            out.append(f'    <axis xyz="{_v(j.axis)}"/>')
            out.append(
                f'    <limit lower="{_f(j.lower)}" upper="{_f(j.upper)}" effort="{_f(spec.effort)}" '
                f'velocity="{_f(spec.velocity)}"/>'
            )
            if j.mimic is not None:
                out.append(
                    f'    <mimic joint="{j.mimic.joint}" multiplier="{_f(j.mimic.multiplier)}" '
                    f'offset="{_f(j.mimic.offset)}"/>'
                )
            out.append("  </joint>")
            parent = child
        tip = f"{finger.name}_tip"
        out.append(f'  <link name="{tip}"/>')
        out.append(f'  <joint name="{tip}_joint" type="fixed">')
        out.append(f'    <parent link="{parent}"/>')
        out.append(f'    <child link="{tip}"/>')
        out.append(f'    <origin xyz="{_v(finger.tip)}" rpy="0 0 0"/>')
        out.append("  </joint>")
    out.append("</robot>")
    return "\n".join(out) + "\n"


# Frame of every bundled model (same as the MediaPipe-style wrist frame of the human data):
# origin at the wrist, +z from wrist to fingers, +y towards the thumb/index side, +x out of the palm
# (fingers flex towards +x). Finger flexion axes are +y, the thumb's rotation axis is -z.
FLEX: Vec3 = (0.0, 1.0, 0.0)
THUMB_ROT: Vec3 = (0.0, 0.0, -1.0)
THUMB_FLEX: Vec3 = (1.0, 0.0, 0.0)
ABD: Vec3 = (1.0, 0.0, 0.0)

# Inspire RH56 class linkage (published coefficients): finger intermediate = 1.06399 * proximal - 0.04545;
# thumb intermediate = 1.334 * pitch, distal = 0.667 * pitch. Ranges: proximal 0-1.47, yaw 0-1.308, pitch 0-0.6.
FINGER_MULT, FINGER_OFFSET = 1.06399, -0.04545
THUMB_INTER_MULT, THUMB_DISTAL_MULT = 1.334, 0.667
PROX_MAX, YAW_MAX, PITCH_MAX = 1.47, 1.308, 0.6


def _linkage_finger(
    name: str, prefix: str, mcp: Vec3, l1: float, tip: Vec3, mult: float, offset: float, prox_max: float
) -> Finger:
    act = f"{prefix}{name}_proximal" if prefix == "" else f"{prefix}{name}"
    inter = f"{prefix}{name}_intermediate"
    lo, hi = sorted((offset, mult * prox_max + offset))
    return Finger(
        name,
        (
            Joint(act, mcp, FLEX, 0.0, prox_max),
            Joint(inter, (0.0, 0.0, l1), FLEX, lo, hi, mimic=Mimic(act, mult, offset)),
        ),
        tip,
    )


def _linkage_thumb(
    prefix: str,
    base: Vec3,
    l0: Vec3,
    l1: Vec3,
    l2: Vec3,
    tip: Vec3,
    mults: tuple[float, float],
    yaw_max: float,
    pitch_max: float,
) -> Finger:
    yaw, pitch = f"{prefix}thumb_yaw", f"{prefix}thumb_pitch"
    return Finger(
        "thumb",
        (
            Joint(yaw, base, THUMB_ROT, 0.0, yaw_max),
            Joint(pitch, l0, THUMB_FLEX, 0.0, pitch_max),
            Joint(
                f"{prefix}thumb_intermediate", l1, THUMB_FLEX, 0.0, mults[0] * pitch_max, mimic=Mimic(pitch, mults[0])
            ),
            Joint(f"{prefix}thumb_distal", l2, THUMB_FLEX, 0.0, mults[1] * pitch_max, mimic=Mimic(pitch, mults[1])),
        ),
        tip,
    )


def inspire_like() -> HandSpec:
    """Inspire RH56-class linkage hand: 6 actuated, 12 joints (6 mimic)."""
    fingers = (
        _linkage_thumb(
            "",
            (0.012, 0.022, 0.045),
            (0.0, 0.012, 0.008),
            (0.0, 0.036, 0.022),
            (0.0, 0.018, 0.008),
            (0.0, 0.020, 0.006),
            (THUMB_INTER_MULT, THUMB_DISTAL_MULT),
            YAW_MAX,
            PITCH_MAX,
        ),
        _linkage_finger(
            "index", "", (0.0, 0.0275, 0.115), 0.032, (0.006, 0.0, 0.044), FINGER_MULT, FINGER_OFFSET, PROX_MAX
        ),
        _linkage_finger(
            "middle", "", (0.0, 0.0095, 0.118), 0.034, (0.006, 0.0, 0.046), FINGER_MULT, FINGER_OFFSET, PROX_MAX
        ),
        _linkage_finger(
            "ring", "", (0.0, -0.0095, 0.115), 0.032, (0.006, 0.0, 0.043), FINGER_MULT, FINGER_OFFSET, PROX_MAX
        ),
        _linkage_finger(
            "pinky", "", (0.0, -0.0275, 0.110), 0.028, (0.005, 0.0, 0.037), FINGER_MULT, FINGER_OFFSET, PROX_MAX
        ),
    )
    return HandSpec(
        "inspire_like",
        "Inspire RH56-class linkage hand authored by dexumi from published dimensions "
        "and linkage coefficients (kinematic model: no meshes). Frame: +z wrist->fingers, +y thumb side, "
        "+x palm normal.",
        fingers,
    )


def inspire_exo() -> HandSpec:
    """Exoskeleton for the Inspire-class hand: same topology and encoder per actuated joint, human-fitted
    link lengths (within a few mm of the robot's) and its own linkage coefficients."""
    p = "exo_"
    fingers = (
        _linkage_thumb(
            p,
            (0.014, 0.024, 0.043),
            (0.0, 0.013, 0.008),
            (0.0, 0.035, 0.021),
            (0.0, 0.019, 0.008),
            (0.0, 0.021, 0.005),
            (1.30, 0.70),
            1.35,
            0.65,
        ),
        _linkage_finger("index", p, (0.002, 0.0265, 0.112), 0.034, (0.005, 0.0, 0.045), 1.02, -0.03, 1.5),
        _linkage_finger("middle", p, (0.002, 0.0085, 0.116), 0.036, (0.005, 0.0, 0.047), 1.02, -0.03, 1.5),
        _linkage_finger("ring", p, (0.002, -0.0100, 0.112), 0.033, (0.005, 0.0, 0.044), 1.02, -0.03, 1.5),
        _linkage_finger("pinky", p, (0.002, -0.0270, 0.106), 0.029, (0.004, 0.0, 0.036), 1.02, -0.03, 1.5),
    )
    return HandSpec(
        "inspire_exo",
        "Exoskeleton matching the inspire_like hand (dexumi-authored kinematic model): "
        "one encoder per actuated joint, human-fitted links, its own linkage couplings. Same frame as "
        "inspire_like.",
        fingers,
    )


def _full_finger(name: str, prefix: str, mcp: Vec3, l1: float, tip: Vec3, abd: float | None) -> Finger:
    joints: list[Joint] = []
    if abd is not None:
        joints.append(Joint(f"{prefix}{name}_abd", mcp, ABD, -abd, abd))
        mcp = (0.0, 0.0, 0.0)
    joints.append(Joint(f"{prefix}{name}_mcp", mcp, FLEX, 0.0, 1.92))
    joints.append(Joint(f"{prefix}{name}_pip", (0.0, 0.0, l1), FLEX, 0.0, 1.92))
    return Finger(name, tuple(joints), tip)


def _full_thumb(prefix: str, base: Vec3, l0: Vec3, l1: Vec3, tip: Vec3) -> Finger:
    return Finger(
        "thumb",
        (
            Joint(f"{prefix}thumb_rot", base, THUMB_ROT, 0.0, 1.83),
            Joint(f"{prefix}thumb_mcp", l0, THUMB_FLEX, -0.35, 1.05),
            Joint(f"{prefix}thumb_ip", l1, THUMB_FLEX, 0.0, 1.57),
        ),
        tip,
    )


def xhand_like(prefix: str = "", name: str = "xhand_like", d: float = 0.0) -> HandSpec:
    """XHand-class fully actuated hand: 12 joints (thumb 3, index 3 with abduction, others 2).

    ``d`` perturbs link lengths (metres) for the matching exoskeleton."""
    fingers = (
        _full_thumb(
            prefix, (0.010, 0.024, 0.040 + d), (0.0, 0.030 + d, 0.022), (0.0, 0.032 - d, 0.014), (0.0, 0.026, 0.006)
        ),
        _full_finger("index", prefix, (0.0, 0.027, 0.105 + d), 0.045 + d, (0.004, 0.0, 0.048 - d), 0.17),
        _full_finger("middle", prefix, (0.0, 0.008, 0.108 + d), 0.048, (0.004, 0.0, 0.051 + d), None),
        _full_finger("ring", prefix, (0.0, -0.011, 0.105), 0.045 - d, (0.004, 0.0, 0.047), None),
        _full_finger("pinky", prefix, (0.0, -0.029, 0.098 - d), 0.038, (0.004, 0.0, 0.040 + d), None),
    )
    if prefix:
        comment = (
            "Exoskeleton matching the xhand_like hand (dexumi-authored kinematic model): one encoder per "
            "joint, human-fitted links. Same frame as xhand_like."
        )
    else:
        comment = (
            "XHand-class fully actuated 12-joint hand authored by dexumi from published dimensions and "
            "joint ranges (kinematic model: no meshes). Frame: +z wrist->fingers, +y thumb side, +x palm normal."
        )
    return HandSpec(name, comment, fingers)


def bundled_specs() -> dict[str, HandSpec]:
    """File stem -> spec of every bundled model."""
    return {
        "inspire_like": inspire_like(),
        "inspire_exo": inspire_exo(),
        "xhand_like": xhand_like(),
        "xhand_exo": xhand_like("exo_", "xhand_exo", 0.002),
    }


def write_all(directory: Path = MODELS_DIR) -> list[Path]:
    """Write every bundled model to ``directory``; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for stem, spec in bundled_specs().items():
        path = directory / f"{stem}.urdf"
        path.write_text(render(spec), encoding="utf-8")
        paths.append(path)
        log.info("wrote %s", path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=MODELS_DIR)
    logging.basicConfig(level=logging.INFO)
    write_all(parser.parse_args().dir)


if __name__ == "__main__":
    main()

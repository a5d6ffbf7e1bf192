"""The two hand models the visual bridge renders: the exoskeleton as worn, and the robot hand.

- `exo_model(name)`: a bundled exoskeleton (`inspire_exo`, `xhand_exo`) is drawn from the same dimension
  table and geometry rules as the simulated rig (`dexumi.sim.scene.wearer_lines`: the exoskeleton's bars,
  encoder caps, back plate and cuff, and the hand inside it), flat-coloured so one render labels every pixel:
  red = exoskeleton, green = the wearer's hand and forearm. Any other exoskeleton is a URDF whose visual
  geometry is all "exoskeleton".
- `robot_model(ref)`: a robot hand's URDF visual geometry (bundled geometry or the user's meshes), lit as the
  rig is lit (MuJoCo headlight, same settings), so its pixels match the rig's rendering of the same hand.
"""

from __future__ import annotations

import re
from typing import TypedDict

from dexumi.errors import DexumiError
from dexumi.visual.view import HandModel

FLAT = 'ambient="1 1 1" diffuse="0 0 0" specular="0 0 0"'  # unlit: a pixel is its geom's colour exactly
EXO_RGBA = "1 0 0 1"
HAND_RGBA = "0 1 0 1"
_RGBA = re.compile(r'rgba="[^"]*"')


class _ModelOptions(TypedDict, total=False):
    """HandModel keyword arguments given only when set (the dataclass defaults apply otherwise)."""

    headlight: str


def _clipped(ranges: dict[str, tuple[float, float]], values: dict[str, float]) -> dict[str, float]:
    return {k: min(max(v, ranges[k][0]), ranges[k][1]) if k in ranges else v for k, v in values.items()}


def exo_model(ref: str) -> HandModel:
    """The exoskeleton as worn (bundled name) or an exoskeleton URDF (path)."""
    from dexumi.hands import author

    specs = author.bundled_specs()
    if ref in specs:
        from dexumi.sim.scene import wearer_lines

        spec = specs[ref]
        lines = []
        for line in wearer_lines(spec, ""):
            if 'name="exo:' in line:
                line = _RGBA.sub(f'rgba="{EXO_RGBA}"', line)
            elif "<geom" in line:
                line = _RGBA.sub(f'rgba="{HAND_RGBA}"', line)
            lines.append(line)
        joints = [j for f in spec.fingers for j in f.joints]
        ranges = {j.name: (j.lower, j.upper) for j in joints}

        def couple(values: dict[str, float]) -> dict[str, float]:
            out = {}
            for j in joints:
                src = j.mimic.joint if j.mimic is not None else j.name
                v = float(values.get(src, 0.0))
                out[j.name] = v * j.mimic.multiplier + j.mimic.offset if j.mimic is not None else v
            return _clipped(ranges, out)

        return HandModel(ref, lines, [], {}, [j.name for j in joints], couple, headlight=FLAT)
    return _urdf_model(ref, "exo:", EXO_RGBA, FLAT)


def robot_model(ref: str) -> HandModel:
    """A robot hand by bundled name or URDF path, as the rig draws it (`prefix robot:`)."""
    return _urdf_model(ref, "robot:", None, None)


def _urdf_model(ref: str, prefix: str, rgba: str | None, headlight: str | None) -> HandModel:
    from dexumi.hands import registry
    from dexumi.sim.urdf_mjcf import hand_bodies

    try:
        path = registry.resolve(ref)
    except DexumiError as exc:
        raise DexumiError(f"hand model: {exc}") from None
    b = hand_bodies(path, prefix, tuple(float(x) for x in rgba.split()) if rgba else None)

    def couple(values: dict[str, float]) -> dict[str, float]:
        return {prefix + k: v for k, v in b.full_q(values).items()}

    kw: _ModelOptions = {"headlight": headlight} if headlight else {}
    return HandModel(b.name, b.xml, b.asset_xml, b.assets, [prefix + j for j in b.joints], couple, **kw)

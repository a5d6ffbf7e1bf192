"""A URDF's visual geometry as MJCF bodies, for rendering a hand with MuJoCo.

`hand_bodies(urdf_path, prefix)` reads the URDF's links, joints and `<visual>` elements (box, cylinder, sphere,
mesh: STL/OBJ, with `scale` and `package://` paths resolved beside the file) and returns MJCF body text that
can be put inside any body (the hand's base link becomes that body's frame), the mesh files as MuJoCo
assets, and the hinge joints with their mimic couplings. Collision geometry is ignored: what is rendered is
what the model *shows*. A model with no visual geometry, or whose meshes are missing or of a format MuJoCo
cannot read, is a one-line `DexumiError` naming the file and the first problem.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dexumi.errors import DexumiError

DEFAULT_RGBA = (0.78, 0.78, 0.80, 1.0)  # a light grey aluminium look where the URDF gives no colour
MESH_FORMATS = (".stl", ".obj", ".msh")


@dataclass
class HandBodies:
    """MJCF text of a hand's bodies, the mesh assets, and its moving joints."""

    name: str
    xml: list[str]
    assets: dict[str, bytes]
    joints: list[str]  # moving joints, URDF names (MJCF names carry the prefix)
    mimics: dict[str, tuple[str, float, float]] = field(default_factory=dict)  # joint -> (source, mult, offset)
    asset_xml: list[str] = field(default_factory=list)  # <mesh .../> lines for the MJCF <asset> section
    geoms: int = 0

    def full_q(self, values: dict[str, float]) -> dict[str, float]:
        """Every moving joint's value from the actuated ones (mimic joints follow; missing joints: 0)."""
        out = {j: float(values.get(j, 0.0)) for j in self.joints}
        for j, (src, mult, off) in self.mimics.items():
            out[j] = mult * out.get(src, float(values.get(src, 0.0))) + off
        return out


def _floats(text: str | None, n: int, default: float = 0.0) -> tuple[float, ...]:
    if text is None:
        return (default,) * n
    vals = tuple(float(x) for x in text.split())
    if len(vals) != n:
        raise ValueError(text)
    return vals


def rpy_quat(rpy: tuple[float, float, float]) -> tuple[float, float, float, float]:
    """URDF roll-pitch-yaw (R = Rz(y) Ry(p) Rx(r)) as a MuJoCo quaternion (w, x, y, z)."""
    r, p, y = (a / 2 for a in rpy)
    cr, sr, cp, sp, cy, sy = math.cos(r), math.sin(r), math.cos(p), math.sin(p), math.cos(y), math.sin(y)
    return (
        cr * cp * cy + sr * sp * sy,
        sr * cp * cy - cr * sp * sy,
        cr * sp * cy + sr * cp * sy,
        cr * cp * sy - sr * sp * cy,
    )


def _fmt(v) -> str:
    return " ".join(f"{float(x):.9g}" for x in v)


def _origin(el: ET.Element | None) -> str:
    if el is None:
        return ""
    xyz = _floats(el.get("xyz"), 3)
    roll, pitch, yaw = _floats(el.get("rpy"), 3)
    return f'pos="{_fmt(xyz)}" quat="{_fmt(rpy_quat((roll, pitch, yaw)))}"'


def _resolve_mesh(filename: str, base: Path) -> Path:
    if filename.startswith("package://"):
        rest = filename[len("package://") :]
        pkg, _, rel = rest.partition("/")
        for d in (base, *base.parents):  # the package folder is the URDF's folder or one above it
            if d.name == pkg and (d / rel).is_file():
                return d / rel
            if (d / pkg / rel).is_file():
                return d / pkg / rel
        return base / rel
    if filename.startswith("file://"):
        return Path(filename[len("file://") :])
    p = Path(filename)
    return p if p.is_absolute() else base / p


def hand_bodies(
    urdf: str | Path,
    prefix: str,
    rgba: tuple[float, ...] | None = None,
    geom_attrs: str = 'contype="0" conaffinity="0"',
) -> HandBodies:
    """MJCF bodies of the URDF's kinematic tree below its root link; names are `prefix + URDF name`.

    Geoms are named `{prefix}{link}:{k}` so a segmentation render can tell the hand's pixels apart."""
    path = Path(urdf)
    src = str(path)
    try:
        root = ET.fromstring(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DexumiError(f"{src}: cannot read the hand model: {exc.strerror or exc}") from None
    except ET.ParseError as exc:
        raise DexumiError(f"{src}: not valid XML ({exc})") from None
    if root.tag != "robot":
        raise DexumiError(f"{src}: not a URDF (root element <{root.tag}>, expected <robot>)")
    materials: dict[str | None, str | None] = {}
    for m in root.findall("material"):
        c = m.find("color")
        if m.get("name") and c is not None:
            materials[m.get("name")] = c.get("rgba")
    # keyed as the URDF gives them: a link or joint reference without a name is None (and never matches)
    links: dict[str | None, ET.Element] = {lk.get("name"): lk for lk in root.findall("link")}
    children: dict[str | None, list[ET.Element]] = {}
    child_links: set[str | None] = set()
    for j in root.findall("joint"):
        p, c = j.find("parent"), j.find("child")
        if p is None or c is None:
            raise DexumiError(f"{src}: joint '{j.get('name')}' lacks <parent> or <child>")
        children.setdefault(p.get("link"), []).append(j)
        child_links.add(c.get("link"))
    roots = [n for n in links if n not in child_links]
    if len(roots) != 1:
        raise DexumiError(f"{src}: the hand model must have one root link, found {len(roots) or 'none'}")
    out = HandBodies(root.get("name", path.stem), [], {}, [])
    base = path.parent

    def geoms(link: ET.Element, indent: str) -> list[str]:
        lines = []
        for k, vis in enumerate(link.findall("visual")):
            g = vis.find("geometry")
            if g is None or len(g) == 0:
                continue
            shape = g[0]
            name = f"{prefix}{link.get('name')}:{k}"
            color = rgba
            mat = vis.find("material")
            if color is None and mat is not None:
                c = mat.find("color")
                text = c.get("rgba") if c is not None else materials.get(mat.get("name"))
                if text:
                    color = _floats(text, 4)
            color = color or DEFAULT_RGBA
            at = f'name="{name}" {_origin(vis.find("origin"))} rgba="{_fmt(color)}" {geom_attrs}'
            if shape.tag == "box":
                size = np.asarray(_floats(shape.get("size"), 3)) / 2
                lines.append(f'{indent}<geom type="box" size="{_fmt(size)}" {at}/>')
            elif shape.tag == "cylinder":
                r, ln = float(shape.get("radius", "0")), float(shape.get("length", "0"))
                lines.append(f'{indent}<geom type="cylinder" size="{r:.9g} {ln / 2:.9g}" {at}/>')
            elif shape.tag == "sphere":
                lines.append(f'{indent}<geom type="sphere" size="{float(shape.get("radius", "0")):.9g}" {at}/>')
            elif shape.tag == "capsule":
                r, ln = float(shape.get("radius", "0")), float(shape.get("length", "0"))
                lines.append(f'{indent}<geom type="capsule" size="{r:.9g} {ln / 2:.9g}" {at}/>')
            elif shape.tag == "mesh":
                fn = shape.get("filename", "")
                mp = _resolve_mesh(fn, base)
                if mp.suffix.lower() not in MESH_FORMATS:
                    raise DexumiError(
                        f"{src}: link '{link.get('name')}': mesh {fn} is {mp.suffix or 'of no known'} "
                        f"format; MuJoCo reads {', '.join(MESH_FORMATS)} (convert it)"
                    )
                if not mp.is_file():
                    raise DexumiError(
                        f"{src}: link '{link.get('name')}': mesh {fn} not found (the hand model's "
                        "meshes are missing; nothing to render)"
                    )
                asset = f"{prefix}{len(out.assets)}{mp.suffix.lower()}"
                out.assets[asset] = mp.read_bytes()
                scale = _floats(shape.get("scale"), 3, 1.0)
                out.asset_xml.append(f'<mesh name="{asset}" file="{asset}" scale="{_fmt(scale)}"/>')
                lines.append(f'{indent}<geom type="mesh" mesh="{asset}" {at}/>')
            else:
                raise DexumiError(f"{src}: link '{link.get('name')}': unknown visual geometry <{shape.tag}>")
            out.geoms += 1
        return lines

    body: list[str] = []

    def walk(link_name: str | None, indent: str) -> None:
        for j in children.get(link_name, []):
            c = j.find("child")
            assert c is not None  # every joint's <child> was checked when `children` was built
            child = c.get("link")
            if child not in links:
                raise DexumiError(f"{src}: joint '{j.get('name')}' names missing link '{child}'")
            jtype = j.get("type", "fixed")
            body.append(f'{indent}<body name="{prefix}{child}" {_origin(j.find("origin"))}>')
            if jtype in ("revolute", "continuous", "prismatic"):
                ax = j.find("axis")
                axis = _floats((ax.get("xyz") if ax is not None else None) or "1 0 0", 3)
                kind = "slide" if jtype == "prismatic" else "hinge"
                jname = j.get("name")
                if jname is None:
                    raise DexumiError(f"{src}: a {jtype} joint below link '{link_name}' has no name")
                body.append(f'{indent}  <joint name="{prefix}{jname}" type="{kind}" axis="{_fmt(axis)}"/>')
                out.joints.append(jname)
                m = j.find("mimic")
                if m is not None:
                    out.mimics[jname] = (
                        m.get("joint", ""),
                        float(m.get("multiplier", "1")),
                        float(m.get("offset", "0")),
                    )
            body.extend(geoms(links[child], indent + "  "))
            walk(child, indent + "  ")
            body.append(f"{indent}</body>")

    try:
        top = geoms(links[roots[0]], "")
        walk(roots[0], "")
    except ValueError as exc:
        raise DexumiError(f"{src}: a number list in the model is malformed ({exc})") from None
    if out.geoms == 0:
        raise DexumiError(f"{src}: hand model '{out.name}' has no visual geometry (no meshes or shapes) to render")
    out.xml = top + body
    return out

"""Hand kinematics on pinocchio: named joints, fingertip frames, Jacobians, limits, batched FK.

Mimic (linkage) joints are reduced with ``mimic=True``: ``q`` holds only the actuated joints, in
pinocchio's depth-first order. Never rely on that order: address joints by name (``index``, ``q_from``,
``named``). Positions are in metres in the model's base frame; Jacobians are the linear part in
LOCAL_WORLD_ALIGNED, with respect to the actuated ``q`` (the mimic chain rule included).
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pinocchio as pin

from dexumi.errors import DexumiError

log = logging.getLogger(__name__)

FINGER_ORDER = ("thumb", "index", "middle", "ring", "pinky", "little")
_LWA = pin.ReferenceFrame.LOCAL_WORLD_ALIGNED


@dataclass(frozen=True)
class MimicCoupling:
    """``joint = multiplier * source + offset`` (URDF ``<mimic>``)."""

    joint: str
    source: str
    multiplier: float
    offset: float


@dataclass(frozen=True)
class UrdfInfo:
    """What we read from the URDF text ourselves (pinocchio does not expose it all)."""

    name: str
    joints: tuple[str, ...]  # non-fixed joints, file order
    mimics: dict[str, MimicCoupling]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def parse_urdf_info(xml: str, source: str) -> UrdfInfo:
    """Check the URDF's XML and mimic tags; raise DexumiError naming the line or joint at fault."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        line, col = exc.position
        raise DexumiError(f"{source}: not a valid URDF: XML error at line {line}, column {col}") from None
    if root.tag != "robot":
        raise DexumiError(f"{source}: not a URDF: root element is <{root.tag}>, expected <robot>")
    joints: list[str] = []
    types: dict[str, str] = {}
    mimics: dict[str, MimicCoupling] = {}
    for j in root.findall("joint"):
        name, jtype = j.get("name"), j.get("type", "")
        if not name:
            raise DexumiError(f"{source}: a <joint> has no name")
        types[name] = jtype
        if jtype == "fixed":
            continue
        if jtype not in ("revolute", "prismatic"):
            raise DexumiError(
                f"{source}: joint '{name}' has type '{jtype}': only revolute/prismatic/fixed joints are supported"
            )
        joints.append(name)
        m = j.find("mimic")
        if m is not None:
            try:
                mimics[name] = MimicCoupling(
                    name, m.get("joint", ""), float(m.get("multiplier", "1")), float(m.get("offset", "0"))
                )
            except ValueError:
                raise DexumiError(f"{source}: joint '{name}': <mimic> multiplier/offset is not a number") from None
    _check_tree(root, source)
    for c in mimics.values():
        if c.source not in types or types[c.source] == "fixed":
            raise DexumiError(f"{source}: joint '{c.joint}' mimics '{c.source}', which is not a moving joint")
        if c.source in mimics:
            raise DexumiError(f"{source}: joint '{c.joint}' mimics '{c.source}', which is itself a mimic joint")
    return UrdfInfo(root.get("name", ""), tuple(joints), mimics)


def _floats(text: str | None, n: int) -> bool:
    if text is None:
        return True
    try:
        return len([float(v) for v in text.split()]) == n
    except ValueError:
        return False


def _check_tree(root: ET.Element, source: str) -> None:
    """The structural checks urdfdom would otherwise report on stderr: links, parents, limits, numbers."""
    links = [link.get("name") for link in root.findall("link")]
    if not links:
        raise DexumiError(f"{source}: not a valid URDF: no <link>")
    if len(set(links)) != len(links):
        dup = next(n for n in links if links.count(n) > 1)
        raise DexumiError(f"{source}: not a valid URDF: link '{dup}' is defined twice")
    children: dict[str, str] = {}
    for j in root.findall("joint"):
        name, jtype = j.get("name"), j.get("type", "")
        ends = {}
        for end in ("parent", "child"):
            el = j.find(end)
            link = None if el is None else el.get("link")
            if link is None:
                raise DexumiError(f"{source}: joint '{name}' has no <{end} link=...>")
            if link not in links:
                raise DexumiError(f"{source}: joint '{name}': {end} link '{link}' is not defined")
            ends[end] = link
        if ends["child"] in children:
            raise DexumiError(
                f"{source}: link '{ends['child']}' is the child of joints '{children[ends['child']]}' and '{name}'"
            )
        children[ends["child"]] = str(name)
        for tag, attr in (("origin", "xyz"), ("origin", "rpy"), ("axis", "xyz")):
            el = j.find(tag)
            if el is not None and not _floats(el.get(attr), 3):
                raise DexumiError(f"{source}: joint '{name}': <{tag} {attr}> needs 3 numbers")
        if jtype in ("revolute", "prismatic"):
            lim = j.find("limit")
            if lim is None or lim.get("lower") is None or lim.get("upper") is None:
                raise DexumiError(f"{source}: joint '{name}' ({jtype}) needs <limit lower=... upper=...>")
            if not (_floats(lim.get("lower"), 1) and _floats(lim.get("upper"), 1)):
                raise DexumiError(f"{source}: joint '{name}': limit lower/upper must be numbers")
    roots = [n for n in links if n not in children]
    if len(roots) != 1:
        raise DexumiError(
            f"{source}: not a valid URDF: {len(roots)} root links ({', '.join(map(str, roots[:4]))}); expected one tree"
        )


def _tip_sort_key(name: str) -> tuple[int, str]:
    finger = name.split("_")[0].lower()
    return (FINGER_ORDER.index(finger) if finger in FINGER_ORDER else len(FINGER_ORDER), name)


class HandKinematics:
    """A hand model loaded from URDF (path or text) with mimic joints reduced.

    Holds one pinocchio ``Data``: use one instance per thread."""

    def __init__(self, xml: str, source: str = "<urdf>", *, mimic: bool = True, name: str | None = None) -> None:
        self.source = source
        self.info = parse_urdf_info(xml, source)
        try:
            self.model: pin.Model = pin.buildModelFromXML(xml, mimic=mimic)
        except (ValueError, RuntimeError) as exc:
            raise DexumiError(f"{source}: not a valid URDF: {_one_line(str(exc))[:200]}") from None
        self.data: pin.Data = self.model.createData()
        self.name = name or self.info.name or Path(source).stem
        self.mimic_enabled = mimic
        m = self.model
        if m.nq != m.nv:
            raise DexumiError(f"{source}: joints with nq != nv are not supported")
        names: list[str] = []
        idx_q: list[int] = []
        for jid in range(1, m.njoints):
            jm = m.joints[jid]
            if jm.nq == 1:
                names.append(m.names[jid])
                idx_q.append(jm.idx_q)
        order = np.argsort(idx_q)
        self.joint_names: tuple[str, ...] = tuple(names[i] for i in order)
        self._index = {n: i for i, n in enumerate(self.joint_names)}
        self.mimics: dict[str, MimicCoupling] = dict(self.info.mimics) if mimic else {}
        self.lower = np.array(m.lowerPositionLimit, dtype=float)
        self.upper = np.array(m.upperPositionLimit, dtype=float)
        self.all_joint_names: tuple[str, ...] = tuple(n for n in self.info.joints)
        self.tip_frames: tuple[str, ...] = self._find_tips()
        self._frame_ids: dict[str, int] = {}

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def from_urdf(cls, path: str | Path, *, mimic: bool = True) -> HandKinematics:
        """Load a URDF file; a missing or broken file raises DexumiError."""
        p = Path(path)
        try:
            xml = p.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise DexumiError(f"{p}: cannot read URDF: {exc.strerror or exc}") from None
        return cls(xml, str(p), mimic=mimic, name=None)

    def _find_tips(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for f in self.model.frames:
            if re.search(r"_tip$", f.name) and f.type in (pin.FrameType.BODY, pin.FrameType.FIXED_JOINT):
                seen.setdefault(f.name, None)
        return tuple(sorted(seen, key=_tip_sort_key))

    # ---- names --------------------------------------------------------------------------------
    @property
    def nq(self) -> int:
        return int(self.model.nq)

    def index(self, joint: str) -> int:
        """Position of an actuated joint in ``q``; DexumiError names the joint if unknown or mimic."""
        try:
            return self._index[joint]
        except KeyError:
            if joint in self.mimics:
                c = self.mimics[joint]
                raise DexumiError(
                    f"{self.name}: joint '{joint}' is a mimic of '{c.source}' (address '{c.source}')"
                ) from None
            raise DexumiError(f"{self.name}: no joint '{joint}' (joints: {', '.join(self.joint_names)})") from None

    def indices(self, joints: Iterable[str]) -> np.ndarray:
        return np.array([self.index(j) for j in joints], dtype=int)

    def q_from(self, values: Mapping[str, float], default: np.ndarray | None = None) -> np.ndarray:
        """``q`` from a {joint name: value} mapping; unnamed joints take ``default`` (zeros clipped to limits)."""
        q = self.clip(np.zeros(self.nq)) if default is None else np.array(default, dtype=float)
        for k, v in values.items():
            q[self.index(k)] = v
        return q

    def named(self, q: np.ndarray) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.joint_names, np.asarray(q, dtype=float))}

    def frame_id(self, frame: str) -> int:
        fid = self._frame_ids.get(frame)
        if fid is None:
            if not self.model.existFrame(frame):
                raise DexumiError(f"{self.name}: no frame '{frame}' (fingertip frames: {', '.join(self.tip_frames)})")
            fid = self._frame_ids[frame] = int(self.model.getFrameId(frame))
        return fid

    def frame_ids(self, frames: Sequence[str] | None) -> list[int]:
        return [self.frame_id(f) for f in (self.tip_frames if frames is None else frames)]

    # ---- limits -------------------------------------------------------------------------------
    def clip(self, q: np.ndarray) -> np.ndarray:
        """Clamp to joint limits (works on any (..., nq) array)."""
        return np.clip(q, self.lower, self.upper)

    def random_q(self, rng: np.random.Generator, n: int | None = None, margin: float = 0.0) -> np.ndarray:
        """Uniform configurations inside the limits shrunk by ``margin`` (fraction of each range)."""
        span = self.upper - self.lower
        lo, hi = self.lower + margin * span, self.upper - margin * span
        shape = (self.nq,) if n is None else (n, self.nq)
        return rng.uniform(lo, hi, size=shape)

    def full_q(self, q: np.ndarray) -> np.ndarray:
        """Values of all moving joints (``all_joint_names``, URDF order), mimic couplings applied; (..., J)."""
        q = np.asarray(q, dtype=float)
        out = np.empty(q.shape[:-1] + (len(self.all_joint_names),))
        for k, n in enumerate(self.all_joint_names):
            c = self.mimics.get(n)
            out[..., k] = (
                q[..., self._index[n]] if c is None else c.multiplier * q[..., self._index[c.source]] + c.offset
            )
        return out

    # ---- kinematics ---------------------------------------------------------------------------
    def _check_q(self, q: np.ndarray) -> np.ndarray:
        q = np.asarray(q, dtype=float)
        if q.shape[-1] != self.nq:
            raise DexumiError(f"{self.name}: expected {self.nq} joint values, got {q.shape[-1]}")
        return q

    def frame_positions(self, q: np.ndarray, frames: Sequence[str] | None = None) -> np.ndarray:
        """(F, 3) positions of named frames (default: the fingertips) at ``q``."""
        q = self._check_q(q)
        ids = self.frame_ids(frames)
        pin.forwardKinematics(self.model, self.data, q)
        return np.array([pin.updateFramePlacement(self.model, self.data, f).translation for f in ids])

    def frame_jacobians(self, q: np.ndarray, frames: Sequence[str] | None = None) -> np.ndarray:
        """(F, 3, nq) linear Jacobians of named frames w.r.t. the actuated ``q``."""
        return self.positions_and_jacobians(self._check_q(q), self.frame_ids(frames))[1]

    def positions_and_jacobians(self, q: np.ndarray, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Fast path for solvers: frame ids in, ((F,3) positions, (F,3,nq) Jacobians) out, one pinocchio pass."""
        m, d = self.model, self.data
        pin.computeJointJacobians(m, d, q)
        jac = np.empty((len(ids), 3, m.nv))
        pos = np.empty((len(ids), 3))
        for k, f in enumerate(ids):
            jac[k] = pin.getFrameJacobian(m, d, f, _LWA)[:3]
            pos[k] = d.oMf[f].translation  # getFrameJacobian updated oMf[f]
        return pos, jac

    def batch_positions(self, q: np.ndarray, frames: Sequence[str] | None = None) -> np.ndarray:
        """Batched FK: (N, nq) -> (N, F, 3) positions of named frames (default: the fingertips)."""
        q = np.atleast_2d(self._check_q(q))
        ids = self.frame_ids(frames)
        m, d = self.model, self.data
        out = np.empty((q.shape[0], len(ids), 3))
        fk, upd = pin.forwardKinematics, pin.updateFramePlacement
        for i in range(q.shape[0]):
            fk(m, d, q[i])
            for k, f in enumerate(ids):
                out[i, k] = upd(m, d, f).translation
        return out

    def describe(self) -> dict:
        """JSON-ready summary: joints with limits, mimic couplings, fingertip frames."""
        return {
            "name": self.name,
            "source": self.source,
            "nq": self.nq,
            "joints": [
                {"name": n, "lower": float(self.lower[self._index[n]]), "upper": float(self.upper[self._index[n]])}
                for n in self.all_joint_names
                if n in self._index
            ],  # URDF order, for people
            "mimic": [
                {"name": c.joint, "source": c.source, "multiplier": c.multiplier, "offset": c.offset}
                for c in self.mimics.values()
            ],
            "tips": list(self.tip_frames),
        }

"""The retargeting map file: human-readable, versioned YAML (``yaml.safe_load`` only) or TOML.

Loading checks every key and value and raises ``DexumiError`` with one line naming the file, the key and,
for YAML, its line. Models are checked against the map later, when a ``Retargeter`` is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from dexumi.checked_doc import CheckedDoc, load_document, read_text
from dexumi.errors import DexumiError
from dexumi.retarget.curves import Curve, LinearCurve, PiecewiseCurve, PolyCurve
from dexumi.vocab import RetargetMode

SUPPORTED_VERSIONS = (1,)
MODES = tuple(m.value for m in RetargetMode)  # joint, fingertip


@dataclass(frozen=True)
class JointRule:
    """robot joint <- curve(exo channel)."""

    robot: str
    exo: str
    curve: Curve


@dataclass(frozen=True)
class MotorUnits:
    """Vendor motor units of one robot joint: ``min``/``max`` at the joint's URDF lower/upper limit (linear in
    between; min > max for a motor that counts the other way), or ``scale``/``offset``: motor = offset + scale * rad."""

    joint: str
    min: float | None = None
    max: float | None = None
    scale: float | None = None
    offset: float = 0.0


@dataclass(frozen=True)
class TipPair:
    """An exoskeleton frame whose position the robot frame should match."""

    exo: str
    robot: str
    weight: float = 1.0


@dataclass(frozen=True)
class DirectionTerm:
    """Match the unit vector from -> to of a robot frame pair to the exoskeleton's (weight in metres)."""

    exo: tuple[str, str]
    robot: tuple[str, str]
    weight: float


@dataclass(frozen=True)
class AlignSpec:
    """Exoskeleton base frame -> robot base frame: ``identity``, ``auto`` (fitted) or explicit xyz/rpy/scale."""

    kind: str = "identity"
    xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)
    scale: float = 1.0


@dataclass(frozen=True)
class FingertipSettings:
    """Settings of the fingertip solver (damped least squares with box limits)."""

    pairs: tuple[TipPair, ...] = ()
    directions: tuple[DirectionTerm, ...] = ()
    align: AlignSpec = field(default_factory=AlignSpec)
    iterations: int = 10
    damping: float = 1e-6
    temporal_weight: float = 1e-3
    tolerance: float = 1e-6


@dataclass(frozen=True)
class FilterSettings:
    """First-order low-pass on the robot joints."""

    cutoff_hz: float
    rate_hz: float | None = None


@dataclass(frozen=True)
class RetargetMap:
    """A parsed map file."""

    version: int
    robot: str
    exoskeleton: str | None
    mode: str
    channels: tuple[str, ...]
    joints: tuple[JointRule, ...] = ()
    defaults: dict[str, float] = field(default_factory=dict)
    fingertip: FingertipSettings = field(default_factory=FingertipSettings)
    filter: FilterSettings | None = None
    path: Path | None = None
    motor: tuple[MotorUnits, ...] = ()  # optional vendor units of the robot joints (export --action-units motor)

    def resolve(self, ref: str) -> str:
        """A model reference relative to the map file's folder when it is a relative path."""
        if self.path is not None and (ref.endswith(".urdf") or "/" in ref) and not Path(ref).is_absolute():
            return str((self.path.parent / ref).resolve())
        return ref


def _parse_text(text: str, source: str, suffix: str) -> CheckedDoc:
    return load_document(text, source, ".toml" if suffix == ".toml" else ".yaml")


def _curve(doc: CheckedDoc, path: tuple, spec: dict) -> Curve:
    kinds = [k for k in ("piecewise", "poly") if k in spec]
    linear = [k for k in ("sign", "scale", "offset") if k in spec]
    if len(kinds) + bool(linear) > 1:
        raise doc.error(path, "give one of sign/scale/offset, piecewise, poly")
    try:
        if "piecewise" in spec:
            pw = doc.table(path + ("piecewise",), spec["piecewise"], ("x", "y"))
            if "x" not in pw or "y" not in pw:
                raise doc.error(path + ("piecewise",), "needs x and y lists")
            return PiecewiseCurve(
                doc.numbers(path + ("piecewise", "x"), pw["x"]), doc.numbers(path + ("piecewise", "y"), pw["y"])
            )
        if "poly" in spec:
            dom = doc.numbers(path + ("domain",), spec["domain"], 2) if "domain" in spec else None
            return PolyCurve(doc.numbers(path + ("poly",), spec["poly"]), dom)  # type: ignore[arg-type]
    except DexumiError as exc:
        if str(exc).startswith(doc.source):
            raise
        raise doc.error(path, str(exc)) from None
    sign = spec.get("sign", 1)
    if sign not in (1, -1) or isinstance(sign, bool):
        raise doc.error(path + ("sign",), f"must be 1 or -1, got {sign!r}")
    return LinearCurve(
        doc.number(path + ("scale",), spec.get("scale", 1.0)),
        doc.number(path + ("offset",), spec.get("offset", 0.0)),
        int(sign),
    )


def _joint_rules(doc: CheckedDoc, value: Any) -> tuple[JointRule, ...]:
    path = ("joints",)
    if not isinstance(value, dict):
        raise doc.error(path, "expected a mapping of robot joint -> {from: exo channel, ...}")
    rules = []
    for robot, spec in value.items():
        p = path + (robot,)
        if isinstance(spec, str):
            spec = {"from": spec}
        spec = doc.table(p, spec, ("from", "sign", "scale", "offset", "piecewise", "poly", "domain"))
        if "from" not in spec:
            raise doc.error(p, "missing key 'from' (the exoskeleton channel)")
        rules.append(JointRule(str(robot), doc.name(p + ("from",), spec["from"]), _curve(doc, p, spec)))
    return tuple(rules)


def _pairs(doc: CheckedDoc, path: tuple, value: Any, weights: dict) -> tuple[TipPair, ...]:
    out = []
    if isinstance(value, dict):
        for exo, robot in value.items():
            w = doc.number(("fingertip", "weights", exo), weights.get(exo, 1.0), nonneg=True)
            out.append(TipPair(str(exo), doc.name(path + (exo,), robot), w))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            item = doc.table(path + (i,), item, ("exo", "robot", "weight"))
            if "exo" not in item or "robot" not in item:
                raise doc.error(path + (i,), "needs keys 'exo' and 'robot'")
            out.append(
                TipPair(
                    doc.name(path + (i, "exo"), item["exo"]),
                    doc.name(path + (i, "robot"), item["robot"]),
                    doc.number(path + (i, "weight"), item.get("weight", 1.0), nonneg=True),
                )
            )
    else:
        raise doc.error(path, "expected a mapping exo frame -> robot frame, or a list of {exo, robot, weight}")
    for k in weights:
        if k not in {p.exo for p in out}:
            raise doc.error(("fingertip", "weights", k), "names no exoskeleton frame in 'pairs'")
    return tuple(out)


def _align(doc: CheckedDoc, value: Any) -> AlignSpec:
    path = ("fingertip", "align")
    if value in ("identity", "auto"):
        return AlignSpec(kind=value)
    spec = doc.table(path, value, ("xyz", "rpy", "scale"))
    xyz = doc.numbers(path + ("xyz",), spec.get("xyz", [0, 0, 0]), 3)
    rpy = doc.numbers(path + ("rpy",), spec.get("rpy", [0, 0, 0]), 3)
    return AlignSpec("explicit", xyz, rpy, doc.number(path + ("scale",), spec.get("scale", 1.0), positive=True))  # type: ignore[arg-type]


def _directions(doc: CheckedDoc, value: Any) -> tuple[DirectionTerm, ...]:
    path = ("fingertip", "directions")
    if not isinstance(value, list):
        raise doc.error(path, "expected a list of {exo: [from, to], robot: [from, to], weight}")
    out = []
    for i, item in enumerate(value):
        item = doc.table(path + (i,), item, ("exo", "robot", "weight"))
        ends = []
        for key in ("exo", "robot"):
            v = item.get(key)
            if not (isinstance(v, list) and len(v) == 2 and all(isinstance(s, str) for s in v)):
                raise doc.error(path + (i, key), "expected [from_frame, to_frame]")
            ends.append((v[0], v[1]))
        out.append(
            DirectionTerm(ends[0], ends[1], doc.number(path + (i, "weight"), item.get("weight", 0.02), nonneg=True))
        )
    return tuple(out)


def _fingertip(doc: CheckedDoc, value: Any) -> FingertipSettings:
    path = ("fingertip",)
    spec = doc.table(
        path,
        value,
        ("pairs", "weights", "directions", "align", "iterations", "damping", "temporal_weight", "tolerance"),
    )
    weights = spec.get("weights", {})
    if not isinstance(weights, dict):
        raise doc.error(path + ("weights",), "expected a mapping exo frame -> weight")
    pairs = _pairs(doc, path + ("pairs",), spec["pairs"], weights) if "pairs" in spec else ()
    iters = spec.get("iterations", 10)
    if isinstance(iters, bool) or not isinstance(iters, int) or iters < 1:
        raise doc.error(path + ("iterations",), f"expected an integer >= 1, got {iters!r}")
    return FingertipSettings(
        pairs=pairs,
        directions=_directions(doc, spec["directions"]) if "directions" in spec else (),
        align=_align(doc, spec.get("align", "identity")),
        iterations=iters,
        damping=doc.number(path + ("damping",), spec.get("damping", 1e-6), nonneg=True),
        temporal_weight=doc.number(path + ("temporal_weight",), spec.get("temporal_weight", 1e-3), nonneg=True),
        tolerance=doc.number(path + ("tolerance",), spec.get("tolerance", 1e-6), positive=True),
    )


TOP_KEYS = ("version", "robot", "exoskeleton", "mode", "channels", "joints", "defaults", "fingertip", "filter", "motor")


def _motor(doc: CheckedDoc, value: Any) -> tuple[MotorUnits, ...]:
    """``motor: {joint: {min: .., max: ..}}`` or ``{joint: {scale: .., offset: ..}}``."""
    if not isinstance(value, dict) or not value:
        raise doc.error(("motor",), "expected a mapping robot joint -> {min, max} or {scale, offset}")
    out = []
    for joint, spec in value.items():
        path = ("motor", joint)
        t = doc.table(path, spec, ("min", "max", "scale", "offset"))
        if ("min" in t) != ("max" in t):
            raise doc.error(path, "give both min and max (motor units at the joint's lower and upper limit)")
        if ("min" in t) == ("scale" in t):
            raise doc.error(path, "give either min/max or scale (with an optional offset)")
        if "min" in t:
            lo, hi = doc.number(path + ("min",), t["min"]), doc.number(path + ("max",), t["max"])
            if "offset" in t:
                raise doc.error(path + ("offset",), "offset goes with scale, not with min/max")
            if lo == hi:
                raise doc.error(path, "min and max must differ")
            out.append(MotorUnits(str(joint), min=lo, max=hi))
        else:
            sc = doc.number(path + ("scale",), t["scale"])
            if sc == 0:
                raise doc.error(path + ("scale",), "must not be 0")
            off = doc.number(path + ("offset",), t["offset"]) if "offset" in t else 0.0
            out.append(MotorUnits(str(joint), scale=sc, offset=off))
    return tuple(out)


def parse_map(text: str, source: str = "<map>", suffix: str = ".yaml", path: Path | None = None) -> RetargetMap:
    """Parse and check map text (YAML unless ``suffix`` is ``.toml``)."""
    doc = _parse_text(text, source, suffix)
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error((), "the map must be a mapping of keys (version, robot, exoskeleton, mode, channels, ...)")
    doc.table((), data, TOP_KEYS)
    if "version" not in data:
        raise doc.error(("version",), "missing; this reader knows versions " + ", ".join(map(str, SUPPORTED_VERSIONS)))
    if data["version"] not in SUPPORTED_VERSIONS or isinstance(data["version"], bool):
        raise doc.error(
            ("version",),
            f"unsupported version {data['version']!r} (known: " + ", ".join(map(str, SUPPORTED_VERSIONS)) + ")",
        )
    for key in ("robot", "channels"):
        if key not in data:
            raise doc.error((key,), "missing required key")
    mode = data.get("mode", RetargetMode.JOINT.value)
    if mode not in MODES:
        raise doc.error(("mode",), f"unknown mode {mode!r} (modes: {', '.join(MODES)})")
    channels = data["channels"]
    if not isinstance(channels, list) or not channels or not all(isinstance(c, str) and c for c in channels):
        raise doc.error(("channels",), "expected a non-empty list of exoskeleton channel (joint) names")
    dupes = sorted({c for c in channels if channels.count(c) > 1})
    if dupes:
        raise doc.error(("channels",), f"channel '{dupes[0]}' is listed twice")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise doc.error(("defaults",), "expected a mapping robot joint -> value (rad)")
    flt = None
    if "filter" in data and data["filter"] is not None:
        f = doc.table(("filter",), data["filter"], ("cutoff_hz", "rate_hz"))
        if "cutoff_hz" not in f:
            raise doc.error(("filter", "cutoff_hz"), "missing (the low-pass cut-off frequency)")
        rate = doc.number(("filter", "rate_hz"), f["rate_hz"], positive=True) if "rate_hz" in f else None
        flt = FilterSettings(doc.number(("filter", "cutoff_hz"), f["cutoff_hz"], positive=True), rate)
    exo = data.get("exoskeleton")
    if exo is not None:
        exo = doc.name(("exoskeleton",), exo)
    rmap = RetargetMap(
        version=int(data["version"]),
        robot=doc.name(("robot",), data["robot"]),
        exoskeleton=exo,
        mode=mode,
        channels=tuple(channels),
        joints=_joint_rules(doc, data["joints"]) if "joints" in data else (),
        defaults={str(k): doc.number(("defaults", k), v) for k, v in defaults.items()},
        fingertip=_fingertip(doc, data["fingertip"]) if "fingertip" in data else FingertipSettings(),
        filter=flt,
        path=path,
        motor=_motor(doc, data["motor"]) if data.get("motor") is not None else (),
    )
    for rule in rmap.joints:
        if rule.exo not in rmap.channels:
            raise doc.error(("joints", rule.robot, "from"), f"channel '{rule.exo}' is not in 'channels'")
    if mode == RetargetMode.JOINT and not rmap.joints:
        raise doc.error(("joints",), "mode 'joint' needs a 'joints' section")
    if mode == RetargetMode.FINGERTIP:
        if rmap.exoskeleton is None:
            raise doc.error(("exoskeleton",), "mode 'fingertip' needs the exoskeleton model")
        if not rmap.fingertip.pairs:
            raise doc.error(("fingertip", "pairs"), "mode 'fingertip' needs fingertip pairs")
    return rmap


def load_map(path: str | Path) -> RetargetMap:
    """Read a map file (.yaml/.yml or .toml)."""
    p = Path(path)
    return parse_map(read_text(p, "map file"), str(p), p.suffix.lower(), p.resolve())


def map_to_dict(rmap: RetargetMap) -> dict:
    """Plain dict of a map (for writing back with yaml.safe_dump, e.g. after calibration)."""
    d: dict[str, Any] = {"version": rmap.version, "robot": rmap.robot}
    if rmap.exoskeleton is not None:
        d["exoskeleton"] = rmap.exoskeleton
    d["mode"] = rmap.mode
    d["channels"] = list(rmap.channels)
    if rmap.joints:
        d["joints"] = {r.robot: {"from": r.exo, **r.curve.to_dict()} for r in rmap.joints}
    if rmap.defaults:
        d["defaults"] = dict(rmap.defaults)
    ft = rmap.fingertip
    if ft.pairs:
        a = ft.align
        d["fingertip"] = {
            "pairs": [{"exo": p.exo, "robot": p.robot, "weight": p.weight} for p in ft.pairs],
            "align": a.kind if a.kind != "explicit" else {"xyz": list(a.xyz), "rpy": list(a.rpy), "scale": a.scale},
            "iterations": ft.iterations,
            "damping": ft.damping,
            "temporal_weight": ft.temporal_weight,
            "tolerance": ft.tolerance,
        }
        if ft.directions:
            d["fingertip"]["directions"] = [
                {"exo": list(t.exo), "robot": list(t.robot), "weight": t.weight} for t in ft.directions
            ]
    if rmap.filter is not None:
        d["filter"] = {"cutoff_hz": rmap.filter.cutoff_hz}
        if rmap.filter.rate_hz is not None:
            d["filter"]["rate_hz"] = rmap.filter.rate_hz
    if rmap.motor:
        d["motor"] = {
            m.joint: ({"min": m.min, "max": m.max} if m.scale is None else {"scale": m.scale, "offset": m.offset})
            for m in rmap.motor
        }
    return d

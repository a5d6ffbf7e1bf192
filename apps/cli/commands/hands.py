"""`dexumi hands`: list the bundled hand models, those found in installed packages, and their joints (or
describe any URDF by path)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "hands",
        help="list bundled hand models and their joints",
        description="List the bundled robot hands and exoskeletons, and the hands found in installed packages "
        "(allegro_right / allegro_left from example-robot-data), with their joints, limits, mimic couplings and "
        "fingertip frames; or describe the given models (names or URDF paths).",
    )
    p.add_argument("models", nargs="*", metavar="MODEL", help="bundled model name or path to a .urdf (default: all)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=run)


def _describe(ref: str) -> dict:
    from dexumi.hands import packaged, registry

    kin = registry.load(ref)
    d = kin.describe()
    bundled = {m.name: m for m in registry.bundled()}
    m = bundled.get(ref)
    p = packaged.find(ref)
    d.update(
        {
            "kind": m.kind if m else p.kind if p else "user",
            "pair": m.pair if m else p.pair if p else None,
            "description": m.description if m else p.description if p else "",
            "path": str(m.path if m else p.path() if p else ref),
            "joints_total": len(kin.all_joint_names),
        }
    )
    if p is not None:
        d["package"] = {"distribution": p.distribution, "licence": p.licence}
    return d


def run(args: argparse.Namespace) -> int:
    import json

    from dexumi.hands import packaged, registry

    refs = args.models or [m.name for m in registry.bundled()] + [m.name for m in packaged.packaged() if m.installed()]
    models = [_describe(r) for r in refs]
    if args.json:
        print(json.dumps({"models": models}, indent=None))
        return 0
    for d in models:
        pair = f", pairs with {d['pair']}" if d["pair"] else ""
        print(f"{d['name']} ({d['kind']}{pair}): {d['nq']} actuated / {d['joints_total']} joints — {d['description']}")
        print(f"  urdf: {d['path']}")
        if "package" in d:
            print(f"  from the {d['package']['distribution']} package ({d['package']['licence']})")
        for j in d["joints"]:
            print(f"  {j['name']:<24s} [{j['lower']:+.3f}, {j['upper']:+.3f}] rad")
        for c in d["mimic"]:
            print(f"  {c['name']:<24s} = {c['multiplier']:g} * {c['source']} {c['offset']:+g}  (mimic)")
        print(f"  tips: {', '.join(d['tips']) or '(none)'}")
    return 0

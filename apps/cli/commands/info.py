"""`dexumi info EPISODE`: what an episode file holds, as text or one JSON object."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "info",
        help="summarise an episode file",
        description="Summarise an episode: metadata, "
        "aligned frames, per-stream counts, drops, gaps, clock drift and duration.",
    )
    p.add_argument("episode", type=Path, help="an episode file, or a folder (then the same as `dexumi ls DIR`)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from dexumi.episode.summary import summarize

    if args.episode.is_dir():  # a folder: the day's list (`dexumi ls`)
        from apps.cli.commands import ls

        return ls.run(
            argparse.Namespace(
                folder=args.episode,
                json=args.json,
                sort="number",
                task=None,
                outcome=None,
                operator=None,
                status=None,
                validation=None,
                no_validate=False,
            )
        )

    s = summarize(args.episode)
    if args.json:
        print(json.dumps(s))
        return 0
    print(f"{s['path']}")
    print(
        f"  format {s['format']} v{s['format_version']}  state {s['state']}  episode {s['episode_number']}  "
        f"created {s['created_utc']}"
    )
    print(f"  task {s['task']!r}  operator {s['operator']!r}  outcome {s['outcome']}  notes {s['notes']!r}")
    print(
        f"  hand {s['robot_hand']}  exoskeleton {s['exoskeleton']}  profile {s['calibration_profile_id'] or '-'}  "
        f"{s['software_version']}"
    )
    print(
        f"  aligned frames {s['aligned_frames']} ({s['valid_frames']} valid) over {s['duration_s']:.2f} s "
        f"on {s['main_camera'] or 'a grid'}; action {s['action_dim']} joints"
    )
    e = s["encoder"]
    print(
        f"  encoder{' ' + e['role'] if e.get('role') else ''}: {e['samples']} samples at {e['rate_hz']:.1f} Hz, missing {e['missing_samples']}, "
        f"gaps {e['gaps']}, drift {e['drift_ppm']} ppm, residual {e['residual_ms']} ms"
    )
    for role, d in s.get("devices", {}).items():  # several devices: one line each
        print(
            f"  {role} ({d['kind']}, {d['protocol']}): {d['samples']} samples at {d['rate_hz']:.1f} Hz, missing "
            f"{d['missing_samples']}, gaps {d['gaps']}, segments {d['segments']}, drift {d['drift_ppm']} ppm"
        )
    for name, c in s["cameras"].items():
        print(
            f"  camera {name}: {c['frames']} frames {c['width']}x{c['height']} at {c['rate_hz']:.1f} fps, "
            f"dropped {c['dropped']}, latency {c['latency_s'] * 1e3:.0f} ms"
        )
    if s.get("stop_reason"):
        print(f"  stopped: {s['stop_reason']}")
    return 0

"""What every writer shares: the per-episode loop that skips a bad file instead of aborting the export, and the
export metadata (action rule, units, privileged signals) stored in each format."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from dexumi.episode.aligned import ACTION_RULE
from dexumi.episode.reader import Episode
from dexumi.errors import DexumiError, is_disk_full
from dexumi.export.pagecache import release_quietly
from dexumi.export.plan import ExportPlan
from dexumi.export.source import SourceInfo

log = logging.getLogger(__name__)

PRIVILEGED = ("exo_joints",)  # observation-side signals the robot does not have at deployment


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
    if isinstance(exc, DexumiError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def each_episode(
    plan: ExportPlan, write: Callable[[Episode, int, SourceInfo], dict], undo: Callable[[int], None]
) -> list[dict]:
    """`write(ep, index, info)` each planned episode; one that fails is undone, listed in `plan.skipped` and the
    others go on (indices stay contiguous). A full disk aborts the whole export."""
    rows: list[dict] = []
    for info in plan.episodes:
        i = len(rows)
        try:
            with Episode.open(info.path) as ep:
                extra = {}
                if info.part is not None:  # a trimmed / split episode: only this part of its aligned view
                    ep.select(*info.part)
                    extra = {"part": info.part_index, "source_frames": list(info.part)}
                rows.append({"source": str(info.path), "index": i, **extra, **write(ep, i, info)})
            release_quietly(info.path)  # read once: its pages need not crowd out the next episode's
        except Exception as exc:
            if is_disk_full(exc):
                raise
            try:
                undo(i)
            except Exception as again:
                if is_disk_full(again):
                    raise
                raise DexumiError(f"cannot undo the partial output of {info.path}: {one_line(again)}") from None
            msg = one_line(exc)
            plan.skipped.append(msg if str(info.path) in msg else f"{info.path}: {msg}")
            log.debug("skipped %s", info.path, exc_info=True)
    if not rows:
        raise DexumiError("no episode could be exported" + (f": {plan.skipped[-1]}" if plan.skipped else ""))
    return rows


def export_meta(plan: ExportPlan) -> dict[str, Any]:
    """The rules of this export, stored in the file(s) and the output marker."""
    o = plan.opts
    h = o.action_horizon if o else 1
    return {
        "action": {
            "rule": ACTION_RULE,
            "horizon_steps": h,
            "horizon_s": h / plan.fps,
            "description": f"action[t] = observation.state[t+{h}] at {plan.fps:g} fps: the robot-hand joint "
            "command for the next control step (the last frame repeats)",
            "units": "motor" if plan.motor is not None else "rad",
            "names": list(plan.first.vector_names),
            "motor": plan.motor.to_dict() if plan.motor is not None else None,
        },
        "state": {
            "names": list(plan.first.vector_names),
            "units": "rad",
            "description": "robot-hand joints retargeted from the exoskeleton at instant t",
        },
        "privileged": list(PRIVILEGED) if o and o.privileged else [],
        "valid": "per frame: 1 when the encoder samples around the instant are within 25 ms (no gap)",
        "fps": plan.fps,
        "robot_hand": plan.first.hand,
        "image_fit": o.image_fit if o else "crop",
        "image_size": {c: list(s) for c, s in plan.sizes.items()},
        "pose": None
        if not plan.first.pose
        else {
            "stream": plan.first.pose,
            "names": list(plan.first.vector_names[:9]),
            "units": "m (x, y, z), rotation matrix columns 0 and 1 (r<row><col>)",
            "frame": "relative to the episode's first valid instant: "
            "T(t0)^-1 T(t) (UMI / DexUMI), in front of the hand joints in state and action",
            "valid": "instants without a tracked wrist pose are valid=0 (and hold the nearest tracked value)",
        },
    }

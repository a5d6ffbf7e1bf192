"""Log recorded episodes to rerun: cameras, exoskeleton and robot joints, the robot hand, wrist pose/touch.

Entity layout (under `episode_NNNN/` when several episodes go into one recording):

    cameras/<cam>            EncodedImage (the stored JPEG, not re-encoded), one per aligned frame
    joints/exo/<name>        Scalars, calibrated exoskeleton joints (rad)
    joints/robot/<name>      Scalars, retargeted robot-hand joints = the action (rad)
    hand/robot/bones         LineStrips3D, the robot hand posed by FK at each frame (m, hand base frame)
    hand/robot/tips          Points3D, the robot's fingertips
    hand/exo/tips            Points3D, the exoskeleton's fingertips mapped into the robot frame (if known)
    wrist/pose, touch/<k>    Transform3D and Scalars, when the episode holds such streams
    valid                    Scalars, 1 where the encoder bracketed the frame

Timelines: `time` (seconds on the recording clock, so a folder's episodes sit side by side) and `frame`
(the aligned index within the episode).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from dexumi.errors import DexumiError

log = logging.getLogger(__name__)
APP_ID = "dexumi"


def require_rerun():
    try:
        import rerun as rr
    except ImportError:
        raise DexumiError("rerun-sdk is not installed: pip install 'rerun-sdk>=0.41,<0.42'") from None
    return rr


def _times(rr, t: np.ndarray, frames: np.ndarray) -> list:
    return [rr.TimeColumn("time", duration=np.asarray(t, float)), rr.TimeColumn("frame", sequence=frames)]


def log_episode(rec, path: str | Path, prefix: str = "", progress: bool = False) -> dict[str, int]:
    """Log one episode file into the recording stream `rec`; returns entity → number of rows logged."""
    rr = require_rerun()
    from tqdm import tqdm

    from apps.replay.data import load

    data = load(path, markers=False)
    counts: dict[str, int] = {}
    base = (prefix.rstrip("/") + "/") if prefix else ""
    try:
        ep = data.ep
        t_abs = ep.timestamps
        T = len(t_abs)
        frames = np.arange(T, dtype=np.int64)
        idx = _times(rr, t_abs, frames)
        for group, names, values in (
            ("joints/exo", data.exo_names, data.exo),
            ("joints/robot", data.action_names, data.action),
        ):
            for j, name in enumerate(names):
                ent = f"{base}{group}/{name}"
                rr.send_columns(
                    ent, indexes=idx, columns=rr.Scalars.columns(scalars=np.asarray(values[:, j], float)), recording=rec
                )
                counts[ent] = T
        valid = np.asarray(ep.f["observations/valid"][:T], float)
        rr.send_columns(f"{base}valid", indexes=idx, columns=rr.Scalars.columns(scalars=valid), recording=rec)
        counts[f"{base}valid"] = T
        _optional_streams(rr, rec, ep, base, idx, T, counts)
        bar = tqdm(total=T, desc=f"rerun {Path(path).name}", unit="frame", disable=not progress, leave=False)
        for i in range(T):
            rr.set_time("time", duration=float(t_abs[i]), recording=rec)
            rr.set_time("frame", sequence=i, recording=rec)
            for cam in data.cameras:
                j = int(data.image_index[cam][i])
                if j < 0:
                    continue
                ent = f"{base}cameras/{cam}"
                rr.log(
                    ent,
                    rr.EncodedImage(contents=bytes(ep.f[f"raw/cameras/{cam}/jpeg"][j]), media_type="image/jpeg"),
                    recording=rec,
                )
                counts[ent] = counts.get(ent, 0) + 1
            pose = data.pose(i)
            if pose is not None:
                segs, tips, exo_tips = pose
                rr.log(f"{base}hand/robot/bones", rr.LineStrips3D(segs, radii=0.002), recording=rec)
                rr.log(f"{base}hand/robot/tips", rr.Points3D(tips, radii=0.005, colors=[80, 160, 255]), recording=rec)
                for ent in (f"{base}hand/robot/bones", f"{base}hand/robot/tips"):
                    counts[ent] = counts.get(ent, 0) + 1
                if exo_tips is not None:
                    rr.log(
                        f"{base}hand/exo/tips", rr.Points3D(exo_tips, radii=0.005, colors=[255, 150, 50]), recording=rec
                    )
                    counts[f"{base}hand/exo/tips"] = counts.get(f"{base}hand/exo/tips", 0) + 1
            bar.update(1)
        bar.close()
    finally:
        data.close()
    return counts


def _optional_streams(rr, rec, ep, base: str, idx: list, T: int, counts: dict[str, int]) -> None:
    """Wrist pose (`observations/wrist_pose`: (T, 7) xyz + quaternion xyzw) and touch (`observations/touch`:
    (T, K)), logged when an episode holds them (future sensors; today's files do not)."""
    f = ep.f
    if "observations/wrist_pose" in f:
        wp = np.asarray(f["observations/wrist_pose"][:T], float)
        if wp.ndim == 2 and wp.shape[1] >= 7:
            rr.send_columns(
                f"{base}wrist/pose",
                indexes=idx,
                columns=rr.Transform3D.columns(translation=wp[:, :3], quaternion=wp[:, 3:7]),
                recording=rec,
            )
            counts[f"{base}wrist/pose"] = T
    if "observations/touch" in f:
        touch = np.asarray(f["observations/touch"][:T], float).reshape(T, -1)
        for k in range(touch.shape[1]):
            rr.send_columns(
                f"{base}touch/{k}", indexes=idx, columns=rr.Scalars.columns(scalars=touch[:, k]), recording=rec
            )
            counts[f"{base}touch/{k}"] = T


def log_paths(
    paths: Iterable[Path], save: Path | None = None, spawn: bool = True, progress: bool = False
) -> dict[str, int]:
    """Log episodes to a new recording: saved to `save` (an .rrd), or sent to a spawned viewer."""
    rr = require_rerun()
    paths = list(paths)
    rec = rr.RecordingStream(
        APP_ID,
        recording_id=paths[0].parent.name + "/" + paths[0].name if len(paths) == 1 else str(paths[0].parent.resolve()),
    )
    if save is not None:
        save.parent.mkdir(parents=True, exist_ok=True)
        rec.save(str(save))
    elif spawn:
        rec.spawn()
    counts: dict[str, int] = {}
    try:
        for p in paths:
            prefix = p.name.split(".")[0] if len(paths) > 1 else ""
            counts.update(log_episode(rec, p, prefix, progress))
    finally:
        rec.flush()
        rec.disconnect()
    return counts

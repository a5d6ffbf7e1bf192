"""The aligned wrist pose of an episode (written at finalise from `/raw/pose/<name>`; docs/episode-format.md).

    observations/wrist_pose/<name>/position     (T, 3) f8  m, the source's world frame; NaN where not valid
    observations/wrist_pose/<name>/orientation  (T, 4) f8  quaternion x, y, z, w; NaN where not valid
    observations/wrist_pose/<name>/valid        (T,) u1    1: bracketed by two consecutive tracking samples
    action_wrist_pose/<name>/absolute  (T, 7) f4  x, y, z, qx, qy, qz, qw of the *next* aligned frame
    action_wrist_pose/<name>/relative  (T, 7) f4  the same relative to the episode's first valid frame,
                                                   T(t0)^-1 · T(t+1) (the UMI / DexUMI convention)
    action_wrist_pose/<name>/valid     (T,) u1    valid of the next frame

Values at frame times: `dexumi.pose.align_poses` (linear position, Slerp orientation, never across a
tracking loss, a dropped sample or a gap).
"""

from __future__ import annotations

import json

import h5py
import numpy as np

from dexumi.episode.aligned import next_step_action
from dexumi.episode.pose_stream import POSE, RECORDED

from dexumi.episode import schema as S
from dexumi.episode.columns import create_extendible

WRIST_POSE = S.WRIST_POSE
ACTION_WRIST_POSE = S.ACTION_WRIST_POSE
POSE_NAMES = ["x", "y", "z", "qx", "qy", "qz", "qw"]


def create_pose_view(f: h5py.File, names: list[str]) -> None:
    """The aligned pose datasets, empty (made with the file: SWMR allows resizing, not creating, later)."""
    for name in names:
        o, a = f"{WRIST_POSE}/{name}", f"{ACTION_WRIST_POSE}/{name}"
        create_extendible(f, f"{o}/position", "f8", 3, unit="m", names=["x", "y", "z"], frame="source world")
        create_extendible(
            f, f"{o}/orientation", "f8", 4, names=["qx", "qy", "qz", "qw"], order="xyzw", frame="source world"
        )
        create_extendible(
            f, f"{o}/valid", "u1", None, definition="1 if two consecutive tracking samples bracket the instant"
        )
        create_extendible(
            f,
            f"{a}/absolute",
            "f4",
            7,
            names=POSE_NAMES,
            unit="m, quaternion xyzw",
            frame="source world",
            definition="wrist pose at the next aligned frame (t+1; the last repeats)",
        )
        create_extendible(
            f,
            f"{a}/relative",
            "f4",
            7,
            names=POSE_NAMES,
            unit="m, quaternion xyzw",
            frame="first valid frame",
            definition="T(t0)^-1 · T(t+1): the next frame's wrist pose in the first valid frame's wrist axes",
        )
        create_extendible(f, f"{a}/valid", "u1", None, definition="valid of the next aligned frame")


def _put(ds: h5py.Dataset, data: np.ndarray) -> None:
    ds.resize(len(data), axis=0)
    if len(data):
        ds[...] = data


def _raw(g: h5py.Group) -> dict[str, np.ndarray]:
    n = min(g[k].shape[0] for k in RECORDED)
    out = {k: g[k][:n] for k in RECORDED}
    if g["time"].shape[0] == n:
        out["time"] = g["time"][:n]
    else:  # not mapped yet (a file finalised without the stream's own finalise): map it here
        from dexumi.episode.aligned import map_times

        out["time"] = map_times(out["device_time"], out["host_time"], out["segment"])[0] - float(
            g.attrs.get("latency_s", 0.0)
        )
    return out


def max_gap_s(rate_hz: float, counts_samples: bool) -> float:
    """How far apart two samples may be and still be interpolated between: the default 50 ms, or, for a
    source that does not count its samples (so a drop is only visible as a gap), 1.5 sample periods; a
    counting source slower than 30 Hz (a board tracker on a 10 fps camera) may have 1.5 of its periods,
    its consecutive indices being the proof that nothing between them was lost."""
    from dexumi.pose import DEFAULT_POSE_MAX_GAP_S

    if rate_hz <= 0:
        return DEFAULT_POSE_MAX_GAP_S
    if counts_samples:
        return max(DEFAULT_POSE_MAX_GAP_S, 1.5 / rate_hz)
    return min(DEFAULT_POSE_MAX_GAP_S, 1.5 / rate_hz)


def stream_summary(r: dict[str, np.ndarray], counts_samples: bool) -> dict:
    """Counts of one raw pose stream: samples, tracking/limited/lost, dropped (index gaps), lost fraction."""
    from dexumi.pose_sample import LIMITED, LOST

    st, idx, seg = r["state"], r["index"], r["segment"]
    dropped = 0
    if counts_samples:
        for s in np.unique(seg):
            d = np.diff(idx[(seg == s) & (idx >= 0)])
            dropped += int(d[d > 1].sum() - (d > 1).sum())
    n, lost = len(st), int((st == LOST).sum())
    return {
        "samples": n,
        "tracking": int(n - lost - (st == LIMITED).sum()),
        "limited": int((st == LIMITED).sum()),
        "lost": lost,
        "dropped": dropped,
        "segments": int(len(np.unique(seg))),
        "lost_fraction": float((lost + dropped) / (n + dropped)) if n + dropped else 0.0,
    }


def write_pose_view(f: h5py.File, timestamps: np.ndarray) -> dict[str, dict]:
    """Align every raw pose stream at the aligned timestamps and write the view; returns its report."""
    from dexumi.pose import align_poses, relative_to_first

    report: dict[str, dict] = {}
    for name, g in f.get(POSE, {}).items():
        if f"{WRIST_POSE}/{name}/position" not in f:
            continue
        r = _raw(g)
        counts = bool(g.attrs.get("counts_samples", True))
        rate = float(g.attrs.get("nominal_rate_hz", 0.0))
        # a sequence number is only consecutive within its clock segment (a reconnect restarts it)
        idx = np.where(r["index"] >= 0, r["index"] + r["segment"].astype(np.int64) * (1 << 40), -1) if counts else None
        tl = align_poses(
            r["time"],
            r["position"],
            r["orientation"],
            r["state"],
            timestamps,
            index=idx,
            max_gap_s=max_gap_s(rate, counts),
        )
        o, a = f"{WRIST_POSE}/{name}", f"{ACTION_WRIST_POSE}/{name}"
        _put(f[f"{o}/position"], tl.position)
        _put(f[f"{o}/orientation"], tl.orientation)
        _put(f[f"{o}/valid"], tl.valid.astype(np.uint8))
        absolute = np.concatenate([tl.position, tl.orientation], axis=1)
        rp, rq = relative_to_first(tl.position, tl.orientation, tl.valid)
        _put(f[f"{a}/absolute"], next_step_action(absolute).astype(np.float32))
        _put(f[f"{a}/relative"], next_step_action(np.concatenate([rp, rq], axis=1)).astype(np.float32))
        _put(f[f"{a}/valid"], next_step_action(tl.valid.astype(np.uint8)))
        summary = stream_summary(r, counts)
        clock = g.attrs.get("clock", "{}")
        online = np.abs(r["mapped_time"] - r["time"] - float(g.attrs.get("latency_s", 0.0)))
        online = online[np.isfinite(online)]
        summary.update(
            {
                "latency_s": float(g.attrs.get("latency_s", 0.0)),
                "nominal_rate_hz": rate,
                "clock": json.loads(clock.decode() if isinstance(clock, bytes) else clock or "{}"),
                "online_vs_final_mapping_ms_max": float(online.max() * 1e3) if len(online) else 0.0,
                "aligned_frames": int(len(tl)),
                "aligned_valid": int(tl.valid.sum()),
                "max_gap_s": tl.max_gap_s,
            }
        )
        report[name] = summary
    return report


def read_pose_view(f: h5py.File, name: str, window: tuple[int, int] | None = None) -> dict[str, np.ndarray]:
    """One stream's aligned view: position, orientation, valid, action_absolute, action_relative, action_valid."""
    o, a = f[f"{WRIST_POSE}/{name}"], f[f"{ACTION_WRIST_POSE}/{name}"]
    sl = slice(None) if window is None else slice(*window)
    return {
        "position": o["position"][sl],
        "orientation": o["orientation"][sl],
        "valid": o["valid"][sl].astype(bool),
        "action_absolute": a["absolute"][sl],
        "action_relative": a["relative"][sl],
        "action_valid": a["valid"][sl].astype(bool),
    }


def pose_names(f: h5py.File) -> list[str]:
    """Names of the aligned pose streams in a file (none in format v1 files)."""
    g = f.get(WRIST_POSE)
    return sorted(k for k, v in g.items() if isinstance(v, h5py.Group)) if g is not None else []

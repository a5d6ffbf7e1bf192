"""An episode prepared for replay: arrays on a time axis from 0, hand poses, markers for findings and drops."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dexumi.episode.reader import Episode
from dexumi.errors import DexumiError
from dexumi.vocab import CheckLevel

log = logging.getLogger(__name__)

ERROR_COLOR = (220, 30, 30)
WARN_COLOR = (240, 150, 0)
DROP_COLOR = (200, 0, 200)
GAP_COLOR = (150, 150, 150)  # bands where the encoder sent nothing (RGB)
TRIM_COLOR = (60, 60, 60)  # bands trimmed off by `dexumi edit --trim` (the data is kept, training never sees it)
SPLIT_COLOR = (160, 40, 200)  # ticks where `dexumi edit --split` starts a new part
POSE_LOST_COLOR = (255, 110, 40)  # wrist-pose frames without a valid pose (tracking lost or dropped) (RGB)
CURSOR_COLOR = (40, 40, 255)  # the current frame: blue, never the red of errors (RGB)


@dataclass
class Marker:
    frame: int
    t: float
    color: tuple[int, int, int]
    text: str


@dataclass
class Interval:
    """A stretch of the episode drawn as a band (gaps, findings with a duration): seconds from the first frame."""

    t0: float
    t1: float
    color: tuple[int, int, int]
    text: str


@dataclass
class ReplayData:
    path: Path
    ep: Episode
    t: np.ndarray  # (T,) seconds from the first frame
    action: np.ndarray
    exo: np.ndarray
    action_names: list[str]
    exo_names: list[str]
    cameras: list[str]
    image_index: dict[str, np.ndarray]
    fps: float
    hand: str
    markers: list[Marker] = field(default_factory=list)
    poser: object | None = None  # apps.widgets.hand_pose.HandPoser of the robot
    q: np.ndarray | None = None  # (T, nq) robot q in the model's order
    exo_tips: np.ndarray | None = None  # (T, F, 3) in the robot frame
    in_gap: np.ndarray | None = None  # (T,) frames without encoder data (invalid, or inside a logged gap)
    intervals: list[Interval] = field(default_factory=list)  # every gap and timed finding, uncapped
    parts: list[tuple[int, int]] = field(default_factory=list)  # the edited view's ranges (trim/split) [i0, i1)
    # the visual bridge's variants (`dexumi render`), shown beside the camera: "wrist0 robot-overlay" -> frames
    visual: dict[str, object] = field(default_factory=dict)
    visual_file: object | None = None  # the derived file, kept open while the episode is shown
    pose_name: str = ""  # the wrist-pose stream shown (the first), "" when the episode has none
    wrist: np.ndarray | None = None  # (T, 3) aligned wrist position (m), NaN where not valid
    wrist_valid: np.ndarray | None = None  # (T,)
    wrist_quat: np.ndarray | None = None  # (T, 4) aligned orientation x, y, z, w, NaN where not valid

    def trimmed_at(self, i: int) -> bool:
        """Whether frame i is outside the edited view (trimmed off; still stored)."""
        return bool(self.parts) and not any(a <= i < b for a, b in self.parts)

    def trim_bands(self) -> list[tuple[int, int]]:
        """(first, last) frame runs trimmed off, for the timeline."""
        if not self.parts:
            return []
        out, n = [], len(self.t)
        if self.parts[0][0] > 0:
            out.append((0, self.parts[0][0] - 1))
        if self.parts[-1][1] < n:
            out.append((self.parts[-1][1], n - 1))
        return out

    def gap_at(self, i: int) -> bool:
        return bool(self.in_gap is not None and self.in_gap[i])

    def traces(self, values: np.ndarray) -> np.ndarray:
        """Values to plot: NaN inside gaps, so that no line is drawn across missing data."""
        out = np.array(values, dtype=np.float64, copy=True)
        if self.in_gap is not None and out.ndim == 2 and len(out) == len(self.in_gap):
            out[self.in_gap] = np.nan
        return out

    def __len__(self) -> int:
        return len(self.t)

    def image(self, cam: str, i: int, reduce: int = 2) -> np.ndarray | None:
        j = int(self.image_index[cam][i])
        if j < 0:
            return None
        try:
            if cam in self.visual:
                from dexumi.episode.reader import decode_jpeg

                return decode_jpeg(self.visual[cam][j], reduce)
            return self.ep.raw_image(cam, j, reduce)
        except (DexumiError, OSError, ValueError):
            return None

    def pose(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
        """(segments, robot tips, exoskeleton tips) at frame i, or None without a hand model."""
        if self.poser is None or self.q is None:
            return None
        segs, tips = self.poser.pose(self.q[i])
        return segs, tips, None if self.exo_tips is None else self.exo_tips[i]

    def markers_near(self, i: int, frames: int = 1) -> list[Marker]:
        return [m for m in self.markers if abs(m.frame - i) <= frames]

    def close(self) -> None:
        self.ep.close()


def _frame_of(t: np.ndarray, times: list[float]) -> list[int]:
    if not len(t):
        return []
    from dexumi.export.source import nearest

    return nearest(t, np.asarray(times, dtype=float)).tolist() if len(t) > 1 else [0] * len(times)


def _markers(path: Path, ep: Episode, t_abs: np.ndarray) -> list[Marker]:
    from dexumi.validate import ValidateConfig, validate_file

    out: list[Marker] = []
    rel = t_abs - t_abs[0]
    cfg = ValidateConfig()
    cfg.severity["images"] = "off"  # decoding every frame is the validator's job, not the viewer's start-up
    report = validate_file(path, cfg)
    for c in report.checks:
        if c.level not in (CheckLevel.WARN, CheckLevel.ERROR):
            continue
        color = ERROR_COLOR if c.level == CheckLevel.ERROR else WARN_COLOR
        for f, x in zip(_frame_of(rel, c.times), c.times):
            out.append(Marker(f, float(x), color, f"{c.check}: {c.message}"))
    for cam in ep.cameras:
        idx = ep.camera_times(cam)["index"]
        grab = ep.camera_times(cam)["grab_time"]
        jumps = np.flatnonzero(np.diff(idx) > 1)
        for k in jumps[:200]:
            x = float(grab[k + 1] - t_abs[0])
            out.append(Marker(_frame_of(rel, [x])[0], x, DROP_COLOR, f"{cam}: {int(idx[k + 1] - idx[k] - 1)} dropped"))
    out.sort(key=lambda m: m.frame)
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) frame of each run of True."""
    if not mask.any():
        return []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def _gaps(data: ReplayData) -> None:
    """Frames without encoder data and the intervals to shade: invalid runs, logged link gaps, and the
    gap/alignment findings' intervals — every one, however long (no cap on instants)."""
    ep, t = data.ep, data.t
    ts0 = float(ep.timestamps[0])
    mask = np.zeros(len(t), bool)
    try:
        mask |= ~ep.valid[: len(t)]
    except (KeyError, DexumiError):
        pass
    spans: list[tuple[float, float]] = []
    try:
        logged = ep.f["raw/encoder/gaps"][:] if "raw/encoder/gaps" in ep.f else np.zeros((0, 2))
    except (OSError, KeyError):
        logged = np.zeros((0, 2))
    for a, b in np.asarray(logged, dtype=np.float64).reshape(-1, 2):
        a, b = a - ts0, b - ts0
        if np.isfinite(a) and np.isfinite(b) and b > a:
            mask |= (t >= a) & (t <= b)
            spans.append((a, b))
    data.in_gap = mask
    half = 0.5 / data.fps if data.fps > 0 else 0.0
    for f0, f1 in _runs(mask):
        spans.append((float(t[f0]) - half, float(t[f1]) + half))
    spans.sort()
    merged: list[list[float]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1] + 2 * half:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    data.intervals = [Interval(a, b, GAP_COLOR, f"encoder gap: no data for {b - a:.2f} s") for a, b in merged]
    # the band shows these findings whole; their instants (capped by the validator) would show a fraction
    data.markers = [
        m
        for m in data.markers
        if not (0 <= m.frame < len(mask) and mask[m.frame] and m.text.split(":")[0] in ("alignment", "gaps"))
    ]


def _hand(data: ReplayData) -> None:
    from apps.widgets.hand_pose import HandPoser
    from dexumi.validate import models

    kin = models.hand(data.hand) if data.hand else None
    if kin is None:
        return
    rt = models.retargeter(data.ep.text("meta/retarget_map"))
    tips = rt.tips.robot_frames if rt is not None and rt.tips is not None else kin.tip_frames
    data.poser = HandPoser(kin, tips)
    q = np.tile(kin.clip(np.zeros(kin.nq)), (len(data), 1))
    for i, n in enumerate(data.action_names):
        if n in kin.joint_names:
            q[:, kin.index(n)] = np.nan_to_num(data.action[:, i])
    data.q = q
    if rt is not None and rt.tips is not None and data.exo.shape[1] == len(rt.channels):
        try:
            data.exo_tips = rt.fingertip_targets(np.nan_to_num(data.exo.astype(np.float64)))
        except DexumiError as exc:
            log.info("no exoskeleton fingertips: %s", exc)


def pose_spans(data: ReplayData) -> list[tuple[float, float]]:
    """(t0, t1) of each stretch without a valid wrist pose, half a frame either side (as the gap bands)."""
    if data.wrist_valid is None:
        return []
    half = 0.5 / data.fps if data.fps > 0 else 0.0
    return [(float(data.t[a]) - half, float(data.t[b]) + half) for a, b in _runs(~data.wrist_valid)]


def _wrist(data: ReplayData) -> None:
    """The first wrist-pose stream's aligned position and validity, when the episode has one."""
    if not data.ep.poses:
        return
    try:
        wp = data.ep.wrist_pose()
    except (DexumiError, KeyError, OSError) as exc:
        log.info("no wrist pose to show: %s", exc)
        return
    valid = np.asarray(wp["valid"], bool)[: len(data)]
    pos = np.array(wp["position"][: len(data)], np.float64)
    quat = np.array(wp["orientation"][: len(data)], np.float64)
    pos[~valid] = np.nan
    quat[~valid] = np.nan
    data.pose_name, data.wrist, data.wrist_valid, data.wrist_quat = data.ep.poses[0], pos, valid, quat


def _visual(data: ReplayData) -> None:
    """Add the rendered variants beside each camera when a fresh `dexumi render` output exists."""
    import json

    from dexumi.episode import derived

    if not derived.is_fresh(data.path, "visual"):
        return
    from dexumi.episode.h5open import open_readonly

    f, _ = open_readonly(derived.derived_path(data.path, "visual"))
    modes = [m for m in json.loads(str(f.attrs.get("modes", "[]"))) if m != "raw"]
    cams = []
    for cam in data.cameras:
        cams.append(cam)
        for m in modes:
            if f"{m}/{cam}" in f:
                name = f"{cam} {m}"
                data.visual[name] = f[f"{m}/{cam}"]
                data.image_index[name] = data.image_index[cam]
                cams.append(name)
    data.cameras = cams
    data.visual_file = f


def load(path: str | Path, markers: bool = True) -> ReplayData:
    p = Path(path)
    ep = Episode.open(p)
    try:
        ts = ep.timestamps
        if len(ts) == 0:
            raise DexumiError(f"{p}: no aligned frames to replay")
        a = ep.attrs
        data = ReplayData(
            p,
            ep,
            ts - ts[0],
            ep.action,
            ep.exo_joints,
            ep.action_names,
            [str(x) for x in ep.f["observations/exo_joints"].attrs.get("names", [])],
            ep.cameras,
            {c: ep.image_indices(c) for c in ep.cameras},
            float(a.get("nominal_fps", 0.0) or 30.0),
            str(a.get("robot_hand", "")),
        )
        if markers:
            data.markers = _markers(p, ep, ts)
        if ep.view_edited:
            data.parts = ep.parts() or [(0, 0)]
        _gaps(data)
        _hand(data)
        _wrist(data)
        _visual(data)
        return data
    except BaseException:
        ep.close()
        raise


def episode_list(path: str | Path) -> list[Path]:
    """A file, or a folder's finished episodes in order."""
    p = Path(path)
    if p.is_dir():
        files = sorted(x for x in p.glob("episode_*.h5"))
        if not files:
            raise DexumiError(f"{p}: no finished episodes in this folder")
        return files
    if not p.exists():
        raise DexumiError(f"{p}: no such episode file or folder")
    return [p]

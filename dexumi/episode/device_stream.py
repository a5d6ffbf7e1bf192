"""More devices in one episode (issue 17): `/raw/<role>` per extra device, `observations/<side>/…` at finalise.

The first (or only) exoskeleton stays `/raw/encoder` (with a `role` attribute), so one-hand files and
readers are unchanged. Every further device — a second exoskeleton (`exo_left`), a tactile board
(`tactile_right`) — gets its own raw group with the encoder's columns plus a final mapping:

    raw/<role>/host_time (N,) f8       arrival, host monotonic s
    raw/<role>/device_time_us (N,) i8  the device's clock (unwrapped)
    raw/<role>/mapped_time (N,) f8     the online mapping
    raw/<role>/index (N,) i8           sample counter (tactile boards: the decoder's frame count)
    raw/<role>/segment (N,) i4         clock segment (a reconnect starts a new one)
    raw/<role>/raw (N, C) i4           what the device sent (counts)
    raw/<role>/values (N, C) f8        exoskeleton: joint angles (rad); tactile: physical units (`unit`)
    raw/<role>/time (N,) f8            final per-segment clock fit − latency (written at finalise)
    raw/<role>/gaps (G, 2) f8          [lost, back] host s of each unplug

Attributes: role, kind (exo | tactile), side, protocol, port, device, channels, channel_names, unit,
nominal_rate_hz, latency_s, retarget_map (exoskeletons: the map's YAML), clock (JSON, after finalising).

Aligned at finalise on the episode's timestamps (docs/episode-format.md, "Several devices"):

    observations/<side>/exo_joints (T, J) f4, qpos (T, A) f4, valid (T,) u1   a second exoskeleton
    actions/<side> (T, A) f4                                                    its next-step command
    observations/<side>/tactile (T, C) f4, tactile_valid (T,) u1                a tactile board (latest sample
                                                                                at or before t: causal)
For the primary exoskeleton, `observations/<side>/{exo_joints,qpos,valid}` and `actions/<side>` are soft
links to `observations/{exo_joints,qpos,valid}` and `action`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import h5py
import numpy as np

from dexumi.episode import schema as S
from dexumi.episode.columns import Column as _Column
from dexumi.episode.columns import create_extendible
from dexumi.episode.heapcheck import readable_prefix
from dexumi.types import EncoderBatch, GapEvent

RAW = "raw"
CHUNK = 4096
ROLE_RE = re.compile(r"^(exo|tactile)(?:_([a-z][a-z0-9]*))?$")
FIELDS = {
    "host_time": ("f8", None, "s"),
    "device_time_us": ("i8", None, "us"),
    "mapped_time": ("f8", None, "s"),
    "index": ("i8", None, ""),
    "segment": ("i4", None, ""),
    "raw": ("i4", "C", "counts"),
    "values": ("f8", "C", ""),
    "time": ("f8", None, "s"),
}
RECORDED = tuple(k for k in FIELDS if k != "time")
OBS = "observations"
ACTIONS = "actions"
TACTILE_MAX_AGE_S = 0.025  # a tactile value older than this (or 2.5 sample periods) at an instant is not valid


def view_group(role: str) -> str:
    """The aligned view's group of a device role: `observations/<side>` (`observations/<role>` without a side)."""
    return f"{OBS}/{split_role(role)[1] or role}"


def split_role(role: str) -> tuple[str, str]:
    """`exo_left` → ("exo", "left"); `tactile` → ("tactile", ""). ValueError for anything else."""
    m = ROLE_RE.match(role)
    if not m:
        raise ValueError(
            f"device role {role!r}: use exo_SIDE or tactile_SIDE (e.g. exo_right, exo_left, tactile_right)"
        )
    return m.group(1), m.group(2) or ""


@dataclass
class DeviceLayout:
    role: str
    protocol: str
    channels: int
    channel_names: list[str] = field(default_factory=list)
    unit: str = ""
    nominal_rate_hz: float = 0.0
    latency_s: float = 0.0
    port: str = ""
    device: str = ""
    retarget_map: str = ""  # exoskeletons: the map's YAML text
    action_names: list[str] = field(default_factory=list)  # exoskeletons with a map: robot joints
    raw_channels: int = 0  # width of `raw` if not `channels` (a legacy board's two reference columns)

    @property
    def kind(self) -> str:
        return split_role(self.role)[0]

    @property
    def side(self) -> str:
        return split_role(self.role)[1]


class DeviceStream:
    """`/raw/<role>`: appended like the encoder (batches kept until the writer's flush), mapped at finalise."""

    def __init__(self, f: h5py.File, layout: DeviceLayout) -> None:
        self.layout = layout
        g = f.create_group(f"{RAW}/{layout.role}")
        self.group = g
        C = layout.channels
        width = {"raw": layout.raw_channels or C, "values": C}
        self.cols = {
            k: _Column(g, k, dt, width[k] if w else None, CHUNK, unit or ("" if k != "values" else layout.unit))
            for k, (dt, w, unit) in FIELDS.items()
        }
        self.gaps = g.create_dataset("gaps", (0, 2), maxshape=(None, 2), dtype="f8", chunks=(64, 2))
        self.gaps.attrs["unit"] = "s"
        self.gap_reasons: list[str] = []
        names = list(layout.channel_names) or [f"ch{i}" for i in range(C)]
        for k, v in (
            ("role", layout.role),
            ("kind", layout.kind),
            ("side", layout.side),
            ("protocol", layout.protocol),
            ("port", layout.port),
            ("device", layout.device),
            ("channels", C),
            ("channel_names", names),
            ("unit", layout.unit),
            ("nominal_rate_hz", float(layout.nominal_rate_hz)),
            ("latency_s", float(layout.latency_s)),
            ("retarget_map", layout.retarget_map),
            ("action_names", list(layout.action_names)),
            ("clock", "{}"),
        ):
            g.attrs[k] = v
        self._pending: list[EncoderBatch] = []

    @property
    def count(self) -> int:
        return self.cols["index"].n + sum(len(b) for b in self._pending)

    def append(self, batches: list[EncoderBatch]) -> None:
        self._pending += [b for b in batches if len(b)]

    def add_gap(self, gap: GapEvent) -> None:
        n = self.gaps.shape[0]
        self.gaps.resize(n + 1, axis=0)
        self.gaps[n] = (gap.start, gap.end)
        self.gap_reasons.append(gap.reason)

    def write_pending(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        cat = lambda a: np.concatenate([getattr(b, a) for b in pending])
        values = {
            "host_time": cat("host_time"),
            "device_time_us": cat("device_time_us"),
            "mapped_time": cat("mapped_time"),
            "index": cat("index"),
            "raw": cat("raw"),
            "values": cat("angles"),
            "segment": np.concatenate([np.full(len(b), b.segment, np.int32) for b in pending]),
        }
        for k in RECORDED:
            self.cols[k].append(values[k])

    def finalize(self) -> dict:
        """Final clock fit per segment → `time`; returns the clock figures (also the `clock` attribute)."""
        self.write_pending()
        return map_device_times(self.group, self.cols["index"].n)


def map_device_times(g: h5py.Group, n: int | None = None) -> dict:
    from dexumi.episode.aligned import refit_encoder_times

    n = min(g[k].shape[0] for k in RECORDED) if n is None else n
    if n == 0:
        return {}
    times = refit_encoder_times(
        g["device_time_us"][:n], g["host_time"][:n], g["segment"][:n], float(g.attrs.get("latency_s", 0.0))
    )
    g["time"].resize(n, axis=0)
    g["time"][...] = times.time
    fits = {
        str(k): (
            None
            if e is None
            else {"drift_ppm": e.drift_ppm, "residual_ms": e.residual_ms, "points": e.points, "span_s": e.span_s}
        )
        for k, e in times.fits.items()
    }
    g.attrs["clock"] = json.dumps(fits)
    return fits


def _attr(g: h5py.Group, key: str, default: object = "") -> object:
    v = g.attrs.get(key, default)
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        return [x.decode() if isinstance(x, bytes) else str(x) for x in v]
    return v


def device_groups(f: h5py.File) -> dict[str, h5py.Group]:
    """role → `/raw/<role>` group of every extra device in a file (none in one-device files)."""
    out = {}
    for name, g in f.get(RAW, {}).items():
        if isinstance(g, h5py.Group) and ROLE_RE.match(name) and "device_time_us" in g and "values" in g:
            out[name] = g
    return out


def tactile_boards(f: h5py.File) -> tuple[str, ...]:
    """`role:protocol` of the tactile boards whose aligned view an episode holds, sorted by role."""
    out = []
    for role, g in device_groups(f).items():
        if split_role(role)[0] == "tactile" and f"{view_group(role)}/tactile" in f:
            out.append(f"{role}:{_attr(g, 'protocol')}")
    return tuple(sorted(out))


def subtract_first_valid(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """A tactile board's readings (T, C) minus its first valid one (its no-load offset; DexUMI's --force-adjust);
    unchanged when none is valid."""
    v = np.asarray(values, np.float64)
    ok = np.flatnonzero(valid)
    return v - v[ok[0]] if len(ok) else v.copy()


def _names(v: object) -> list[str]:
    """A stored list of names (`_attr` of a string array); one name stored as a scalar as a list of it."""
    return [str(x) for x in v] if isinstance(v, (list, tuple)) else ([str(v)] if v not in ("", None) else [])


def layouts_in(f: h5py.File) -> list[DeviceLayout]:
    """The extra devices of an (interrupted) episode file, for recovery."""
    out = []
    for role, g in device_groups(f).items():
        out.append(
            DeviceLayout(
                role,
                str(_attr(g, "protocol")),
                int(g["values"].shape[1]),
                _names(_attr(g, "channel_names", [])),
                str(_attr(g, "unit")),
                float(str(_attr(g, "nominal_rate_hz", 0.0))),
                float(str(_attr(g, "latency_s", 0.0))),
                str(_attr(g, "port")),
                str(_attr(g, "device")),
                str(_attr(g, "retarget_map")),
                _names(_attr(g, "action_names", [])),
                int(g["raw"].shape[1]),
            )
        )
    return out


def copy_streams(src: h5py.File, writer) -> dict[str, int]:
    """Copy every extra device's rows (cut to the length all its columns have) and gaps into a recovery's
    writer; returns the rows copied per role."""
    counts = {}
    for role, ds in writer.devices.items():
        g = src[f"{RAW}/{role}"]
        n = readable_prefix(g, RECORDED)  # an interrupted file: only rows that lie before its stored end
        for c in RECORDED:
            ds.cols[c].append(g[c][:n])
        n_gaps = readable_prefix(g, ["gaps"])
        if n_gaps:
            gaps = g["gaps"][:n_gaps]
            ds.gaps.resize(len(gaps), axis=0)
            ds.gaps[:] = gaps
        counts[role] = n
    return counts


# ------------------------------------------------------------------------------------------ aligned view
def create_device_view(
    f: h5py.File,
    layouts: list[DeviceLayout],
    primary_role: str = "",
    joint_names: tuple[str, ...] = (),
    action_names: tuple[str, ...] = (),
) -> None:
    """The aligned per-side datasets, empty (made with the file: SWMR allows resizing, not creating, later),
    and the primary exoskeleton's per-side soft links."""
    for lay in layouts:
        side = lay.side or lay.role
        o = f"{OBS}/{side}"
        if lay.kind == "exo":
            acts = list(lay.action_names) or list(lay.channel_names)
            create_extendible(
                f, f"{o}/exo_joints", "f4", lay.channels, names=list(lay.channel_names), unit="rad", role=lay.role
            )
            create_extendible(
                f,
                f"{o}/qpos",
                "f4",
                len(acts),
                names=acts,
                unit="rad",
                role=lay.role,
                definition="robot-hand joints at the frame's instant (this side's retargeted exoskeleton)",
            )
            create_extendible(
                f,
                f"{o}/valid",
                "u1",
                None,
                role=lay.role,
                definition="1 if samples of one clock segment of this device bracket the instant within 25 ms",
            )
            create_extendible(
                f,
                f"{ACTIONS}/{side}",
                "f4",
                len(acts),
                names=acts,
                unit="rad",
                role=lay.role,
                definition="this side's robot-hand joint command for the next step: qpos one frame ahead",
            )
        else:
            create_extendible(
                f,
                f"{o}/tactile",
                "f4",
                lay.channels,
                names=list(lay.channel_names),
                unit=lay.unit,
                role=lay.role,
                protocol=lay.protocol,
                definition="the device's latest sample at or before the instant (causal), physical units",
            )
            create_extendible(
                f,
                f"{o}/tactile_valid",
                "u1",
                None,
                role=lay.role,
                definition=f"1 if that sample is at most max({TACTILE_MAX_AGE_S * 1e3:g} ms, 2.5 periods) old "
                "and of the current clock segment",
            )
    kind, side = split_role(primary_role) if primary_role else ("", "")
    if kind == "exo" and side and f"{OBS}/{side}/qpos" not in f:
        f[f"{OBS}/{side}/exo_joints"] = h5py.SoftLink(f"/{S.EXO_JOINTS}")
        f[f"{OBS}/{side}/qpos"] = h5py.SoftLink(f"/{S.QPOS}")
        f[f"{OBS}/{side}/valid"] = h5py.SoftLink(f"/{S.VALID}")
        f[f"{ACTIONS}/{side}"] = h5py.SoftLink(f"/{S.ACTION}")


def _put(f: h5py.File, name: str, data: np.ndarray) -> None:
    ds = f[name]
    ds.resize(len(data), axis=0)
    if len(data):
        ds[...] = data


def latest_at(t: np.ndarray, seg: np.ndarray, ts: np.ndarray, max_age_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(index of the latest sample at or before each instant (clipped to 0), valid): valid if that sample is
    at most `max_age_s` old and the next sample (if any) is of the same clock segment."""
    order = np.argsort(t, kind="stable")
    t, seg = t[order], seg[order]
    k = np.searchsorted(t, ts, side="right") - 1
    has = k >= 0
    kc = np.clip(k, 0, max(0, len(t) - 1))
    valid = has & (len(t) > 0)
    if len(t):
        valid &= (ts - t[kc]) <= max_age_s
        nxt = np.minimum(kc + 1, len(t) - 1)
        valid &= (seg[nxt] == seg[kc]) | (nxt == kc)
    return order[kc] if len(t) else kc, valid


def write_device_view(f: h5py.File, timestamps: np.ndarray, retargeters: dict | None = None) -> dict:
    """Map each extra device (if its `time` is not yet written), align it on the episode's timestamps, and
    return the per-device sync report."""
    from dexumi.episode.aligned import MAX_BRACKET_S, next_step_action
    from dexumi.sync import align as sync_align

    report: dict = {}
    retargeters = retargeters or {}
    ts = np.asarray(timestamps, np.float64)
    for role, g in device_groups(f).items():
        n = min(g[k].shape[0] for k in RECORDED)
        if g["time"].shape[0] != n:
            map_device_times(g, n)
        t, seg, vals = g["time"][:n], g["segment"][:n], g["values"][:n]
        kind, side = split_role(role)
        side = side or role
        o = f"{OBS}/{side}"
        if kind == "exo" and f"{o}/qpos" in f:
            if n >= 2:
                order = np.argsort(t, kind="stable")
                tl = sync_align(t[order], vals[order], ts, MAX_BRACKET_S, seg[order].astype(np.int64))
                exo = np.empty((len(ts), vals.shape[1]), np.float32)
                for j in range(vals.shape[1]):
                    exo[:, j] = np.where(tl.valid, tl.values[:, j], np.interp(ts, t[order], vals[order][:, j]))
                valid = tl.valid.astype(np.uint8)
            else:
                exo, valid = np.zeros((len(ts), vals.shape[1]), np.float32), np.zeros(len(ts), np.uint8)
            rt = retargeters.get(role)
            if rt is None and str(_attr(g, "retarget_map")).strip():
                from dexumi.episode.stored_map import retargeter_from_text

                rt = retargeter_from_text(str(_attr(g, "retarget_map")))
            qpos = (
                np.asarray(rt.retarget(exo.astype(np.float64)), np.float32)
                if rt is not None and len(exo)
                else exo.copy()
            )
            if f[f"{o}/qpos"].shape[1:] != qpos.shape[1:]:
                qpos = exo.copy() if f[f"{o}/qpos"].shape[1:] == exo.shape[1:] else qpos
            _put(f, f"{o}/exo_joints", exo)
            _put(f, f"{o}/qpos", qpos)
            _put(f, f"{o}/valid", valid)
            _put(f, f"{ACTIONS}/{side}", next_step_action(qpos))
            aligned_valid = int(valid.sum())
        elif kind == "tactile" and f"{o}/tactile" in f:
            rate = _rate(g["host_time"][:n])
            age = max(TACTILE_MAX_AGE_S, 2.5 / rate) if rate > 0 else TACTILE_MAX_AGE_S
            k, valid = latest_at(t, seg, ts, age)
            out = vals[k].astype(np.float32) if n else np.zeros((len(ts), vals.shape[1]), np.float32)
            _put(f, f"{o}/tactile", out)
            _put(f, f"{o}/tactile_valid", valid.astype(np.uint8))
            aligned_valid = int(valid.sum())
        else:
            aligned_valid = 0
        report[role] = _device_report(g, n, t, aligned_valid, len(ts))
    return report


def _rate(host: np.ndarray) -> float:
    return float((len(host) - 1) / (host[-1] - host[0])) if len(host) > 1 and host[-1] > host[0] else 0.0


def _device_report(g: h5py.Group, n: int, t: np.ndarray, aligned_valid: int, frames: int) -> dict:
    idx, seg, host = g["index"][:n], g["segment"][:n], g["host_time"][:n]
    missing = 0
    for s in np.unique(seg):
        d = np.diff(idx[seg == s])
        missing += int(d[d > 1].sum() - (d > 1).sum())
    gaps = g["gaps"][:] if "gaps" in g else np.zeros((0, 2))
    delay = host - (t + float(g.attrs.get("latency_s", 0.0)))
    return {
        "kind": str(_attr(g, "kind")),
        "protocol": str(_attr(g, "protocol")),
        "samples": int(n),
        "rate_hz": _rate(host),
        "missing_samples": missing,
        "segments": int(len(np.unique(seg))),
        "clock": json.loads(str(_attr(g, "clock", "{}")) or "{}"),
        "arrival_minus_mapped_ms": {
            "median": float(np.median(delay) * 1e3) if n else 0.0,
            "p99": float(np.percentile(delay, 99) * 1e3) if n else 0.0,
        },
        "span_s": [float(t.min()), float(t.max())] if n else [],
        "gaps": [{"start": float(a), "end": float(b), "seconds": float(b - a)} for a, b in gaps],
        "aligned_valid": aligned_valid,
        "aligned_frames": frames,
    }

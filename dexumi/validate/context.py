"""What the checks read from one episode file, loaded once (arrays) and shared by every check."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from dexumi.episode import schema as S
from dexumi.episode.finalize import read_text


@dataclass
class CameraData:
    name: str
    frames: int
    grab_time: np.ndarray
    mapped_time: np.ndarray
    index: np.ndarray
    fps: float
    width: int
    height: int
    aligned_index: np.ndarray | None  # (T,) or None
    aligned_offset: np.ndarray | None


@dataclass
class EpisodeData:
    """Arrays and metadata of one opened episode; absent parts are None (the schema check reports them)."""

    path: Path
    f: h5py.File
    attrs: dict
    timestamps: np.ndarray | None = None
    action: np.ndarray | None = None
    qpos: np.ndarray | None = None
    exo: np.ndarray | None = None
    valid: np.ndarray | None = None
    action_names: list[str] = field(default_factory=list)
    exo_names: list[str] = field(default_factory=list)
    encoder: dict[str, np.ndarray] = field(default_factory=dict)
    encoder_attrs: dict = field(default_factory=dict)
    encoder_gaps: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    cameras: dict[str, CameraData] = field(default_factory=dict)
    sync_report: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)
    retarget_map: str = ""

    @property
    def t0(self) -> float:
        """Episode start on the recording clock (the first aligned instant, else the first encoder sample)."""
        if self.timestamps is not None and len(self.timestamps):
            return float(self.timestamps[0])
        ht = self.encoder.get("host_time")
        return float(ht[0]) if ht is not None and len(ht) else 0.0

    @property
    def nominal_fps(self) -> float:
        return float(self.attrs.get(S.A_FPS, 0.0) or 0.0)


def _attrs(obj: h5py.HLObject) -> dict:
    out = {}
    for k, v in obj.attrs.items():
        out[k] = v.decode() if isinstance(v, bytes) else v.item() if isinstance(v, np.generic) else v
    return out


def _get(f: h5py.File, name: str) -> np.ndarray | None:
    return f[name][:] if name in f and isinstance(f[name], h5py.Dataset) else None


def _names(f: h5py.File, name: str) -> list[str]:
    if name not in f or "names" not in f[name].attrs:
        return []
    return [x.decode() if isinstance(x, bytes) else str(x) for x in f[name].attrs["names"]]


def _json(f: h5py.File, name: str) -> dict:
    try:
        t = read_text(f, name)
        return json.loads(t) if t else {}
    except (ValueError, OSError, KeyError):
        return {}


def load(f: h5py.File, path: Path) -> EpisodeData:
    """Read everything but the JPEG payloads (those are streamed by the image check)."""
    d = EpisodeData(path, f, _attrs(f))
    d.timestamps = _get(f, S.TIMESTAMPS)
    d.action = _get(f, S.ACTION)
    d.qpos = _get(f, S.QPOS)
    d.exo = _get(f, S.EXO_JOINTS)
    d.valid = _get(f, S.VALID)
    d.action_names = _names(f, S.ACTION)
    d.exo_names = _names(f, S.EXO_JOINTS)
    if S.ENCODER in f:
        g = f[S.ENCODER]
        present = [k for k in S.ENCODER_FIELDS if k in g]
        n = min((g[k].shape[0] for k in present), default=0)
        d.encoder = {k: g[k][:n] for k in present}
        d.encoder_attrs = _attrs(g)
        if "gaps" in g:
            d.encoder_gaps = g["gaps"][:]
    for name, g in f.get(S.CAMERAS, {}).items():
        if not isinstance(g, h5py.Group) or S.FRAMES not in g:
            continue
        n = min([g[S.FRAMES].shape[0]] + [g[k].shape[0] for k in S.CAMERA_FIELDS if k in g])

        def get(k: str, g: h5py.Group = g, n: int = n) -> np.ndarray:
            return g[k][:n] if k in g else np.zeros(0)

        a = _attrs(g)
        d.cameras[name] = CameraData(
            name,
            int(g[S.FRAMES].shape[0]),
            get("grab_time"),
            get("mapped_time"),
            get("index"),
            float(a.get("fps", 0.0) or 0.0),
            int(a.get("width", 0)),
            int(a.get("height", 0)),
            _get(f, f"{S.IMAGES}/{name}"),
            _get(f, f"{S.IMAGE_OFFSETS}/{name}"),
        )
    d.sync_report = _json(f, S.SYNC_REPORT)
    d.stats = _json(f, S.STATS)
    try:
        d.retarget_map = read_text(f, S.RETARGET_MAP)
    except (OSError, KeyError):
        d.retarget_map = ""
    return d

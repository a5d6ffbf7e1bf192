"""Raw wrist-pose streams (`/raw/pose/<name>`): every pose sample as it arrived, mapped at finalise.

The `/raw/extra` mechanism (`dexumi.episode.extra.ExtraStream`) with pose columns: the final mapping is the
same per-segment lower-envelope clock fit as the encoder's (`refit_encoder_times`), minus the stream's
calibrated latency. Datasets (docs/episode-format.md, "Wrist pose"):

    index (N,) i8        the source's sequence number (-1: the source does not count)
    device_time (N,) f8  the source's own timestamp, s
    host_time (N,) f8    arrival, host monotonic s
    mapped_time (N,) f8  the online mapping (NaN before the first fit)
    segment (N,) i4      clock segment (a reconnect or a device clock jump starts a new one)
    position (N, 3) f8   metres, in the source's world frame; NaN while lost
    orientation (N, 4) f8  unit quaternion x, y, z, w (scalar last); NaN while lost
    state (N,) u1        0 tracking, 1 limited, 2 lost
    quality (N,) f4      0..1
    time (N,) f8         final mapping − latency (written at finalise)

Attributes: `spec`, `nominal_rate_hz`, `latency_s`, `counts_samples`, `frame`, `quaternion_order`,
`channel_names` (unused), `clock` (JSON per segment, after finalising).
"""

from __future__ import annotations

from dataclasses import dataclass

import h5py
import numpy as np

from dexumi.episode.extra import CHUNK, ExtraStream, copy_rows
from dexumi.episode.columns import Column as _Column

from dexumi.episode import schema as S

POSE = S.POSE
FIELDS = {  # name: (dtype, width, unit)
    "index": ("i8", None, ""),
    "device_time": ("f8", None, "s"),
    "host_time": ("f8", None, "s"),
    "mapped_time": ("f8", None, "s"),
    "segment": ("i4", None, ""),
    "position": ("f8", 3, "m"),
    "orientation": ("f8", 4, "quaternion xyzw"),
    "state": ("u1", None, ""),
    "quality": ("f4", None, ""),
    "time": ("f8", None, "s"),
}
RECORDED = tuple(k for k in FIELDS if k != "time")  # what a recovery copies (`time` is recomputed)


@dataclass
class PoseLayout:
    name: str  # e.g. "sim", "udp9870", "mocap"
    spec: str = ""
    nominal_rate_hz: float = 0.0
    latency_s: float = 0.0  # calibrated: subtracted from the final mapping
    counts_samples: bool = True  # index gaps are exact drop counts


@dataclass
class PoseBatch:
    """Column arrays of pose samples of one clock segment (`dexumi.devices.pose.samples_to_arrays` + segment)."""

    columns: dict[str, np.ndarray]
    segment: int = 0

    def __len__(self) -> int:
        return len(self.columns["device_time"])


class PoseStream(ExtraStream):
    STAMP = "device_time"

    def __init__(self, parent: h5py.Group, layout: PoseLayout) -> None:
        self.layout = layout  # type: ignore[assignment]
        self.latency_s = float(layout.latency_s)
        g = parent.create_group(layout.name)
        self.group = g
        self.cols = {k: _Column(g, k, dt, w, CHUNK, unit) for k, (dt, w, unit) in FIELDS.items()}
        for k, v in (
            ("source", "pose"),
            ("spec", layout.spec),
            ("nominal_rate_hz", float(layout.nominal_rate_hz)),
            ("latency_s", self.latency_s),
            ("counts_samples", bool(layout.counts_samples)),
            ("frame", "the source's world frame (board/tracker/ARKit world); tracked frame: wrist"),
            ("quaternion_order", "xyzw"),
            ("clock", "{}"),
        ):
            g.attrs[k] = v
        self._pending: list[PoseBatch] = []

    @property
    def count(self) -> int:
        return self.cols["device_time"].n + sum(len(b) for b in self._pending)

    def append(self, batches: list) -> None:
        """`PoseBatch`es (the session's pose bridge makes them). They are kept until the writer's next flush
        (`write_pending`): writing more often than the file is flushed saves nothing in a crash, and one
        write of every column per flush instead of per poll is most of the stream's recording cost."""
        self._pending += [b for b in batches if len(b)]

    def write_pending(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        for k in RECORDED:
            if k == "segment":
                v = np.concatenate([np.full(len(b), b.segment, np.int32) for b in pending])
            else:
                v = np.concatenate([b.columns[k] for b in pending])
            self.cols[k].append(v)

    def finalize(self) -> dict:
        self.write_pending()
        return super().finalize()


def layouts_in(f: h5py.File) -> list[PoseLayout]:
    """The pose streams of an (interrupted) episode file, for recovery."""
    out = []
    for name, g in f.get(POSE, {}).items():
        if not isinstance(g, h5py.Group) or "device_time" not in g:
            continue
        a = g.attrs
        spec = a.get("spec", "")
        out.append(
            PoseLayout(
                name,
                spec.decode() if isinstance(spec, bytes) else str(spec),
                float(a.get("nominal_rate_hz", 0.0)),
                float(a.get("latency_s", 0.0)),
                bool(a.get("counts_samples", True)),
            )
        )
    return out


def copy_streams(src: h5py.File, writer) -> dict[str, int]:
    """Copy every pose stream's rows (cut to the length all its columns have) into a recovery's writer and
    finalise their mapping; returns the rows copied per stream."""
    return {f"pose:{name}": copy_rows(src[f"{POSE}/{name}"], ps, RECORDED) for name, ps in writer.pose.items()}

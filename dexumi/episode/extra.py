"""Extra recorded streams (`/raw/extra/<name>`, e.g. `lsl:EMG`): samples as they arrived plus, at finalise,
their times on the recording clock from the final clock fit of each of their clock segments.

Datasets: `values` (N, C) float64, `stamp` (N,) the source's timestamps (s, its own clock), `host_time` (N,)
arrival, `mapped_time` (N,) the online mapping, `segment` (N,) clock segment, `time` (N,) the final mapping
(written at finalise). Attributes: `source`, `type`, `channel_names`, `nominal_rate_hz`, and after finalising
`clock` (JSON: drift_ppm, residual_ms, offset_s per segment).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import h5py
import numpy as np

from dexumi.episode.columns import Column
from dexumi.episode.heapcheck import readable_prefix

EXTRA = "raw/extra"
CHUNK = 1024


@dataclass
class ExtraLayout:
    name: str  # e.g. "lsl:EMG"
    channels: int
    channel_names: list[str] = field(default_factory=list)
    nominal_rate_hz: float = 0.0
    source: str = "lsl"
    stype: str = ""


class ExtraStream:
    #: the column of the source's own timestamps (seconds) that the final clock fit maps
    STAMP = "stamp"
    #: subtracted from the final mapping (a calibrated stream latency; extra streams have none)
    latency_s = 0.0

    def __init__(self, parent: h5py.Group, layout: ExtraLayout) -> None:
        self.layout = layout
        g = parent.create_group(layout.name)
        self.group = g
        self.cols = {
            "values": Column(g, "values", "f8", layout.channels, CHUNK),
            "stamp": Column(g, "stamp", "f8", None, CHUNK, "s"),
            "host_time": Column(g, "host_time", "f8", None, CHUNK, "s"),
            "mapped_time": Column(g, "mapped_time", "f8", None, CHUNK, "s"),
            "segment": Column(g, "segment", "i4", None, CHUNK),
            "time": Column(g, "time", "f8", None, CHUNK, "s"),
        }
        for k, v in (
            ("source", layout.source),
            ("type", layout.stype),
            ("nominal_rate_hz", layout.nominal_rate_hz),
            ("channel_names", list(layout.channel_names) or [f"ch{i}" for i in range(layout.channels)]),
            ("clock", "{}"),
        ):
            g.attrs[k] = v

    @property
    def count(self) -> int:
        return self.cols["stamp"].n

    def append(self, batches: list) -> None:
        """Batches with values, stamp, host_time, mapped_time and segment (e.g. `dexumi.devices.lsl.LslBatch`)."""
        for b in batches:
            if not len(b):
                continue
            self.cols["values"].append(np.asarray(b.values, np.float64).reshape(len(b), self.layout.channels))
            self.cols["stamp"].append(np.asarray(b.stamp, np.float64))
            self.cols["host_time"].append(np.asarray(b.host_time, np.float64))
            self.cols["mapped_time"].append(np.asarray(b.mapped_time, np.float64))
            self.cols["segment"].append(np.full(len(b), b.segment, np.int32))

    def finalize(self) -> dict:
        """Final clock fit per segment → `time`; returns the clock figures (also stored as the `clock` attribute)."""
        from dexumi.episode.aligned import map_times

        n = self.count
        if n == 0:
            return {}
        g = self.group
        t, fits = map_times(g[self.STAMP][:n], g["host_time"][:n], g["segment"][:n])
        t = t - self.latency_s
        col = self.cols["time"]
        g["time"].resize(n, axis=0)
        g["time"][...] = t
        col.n = n
        g.attrs["clock"] = json.dumps(fits)
        return fits


def layouts_in(f: h5py.File) -> list[ExtraLayout]:
    """The extra streams of an (interrupted) episode file, for recovery."""
    out = []
    for name, g in f.get(EXTRA, {}).items():
        if not isinstance(g, h5py.Group) or "values" not in g:
            continue
        names = [x.decode() if isinstance(x, bytes) else str(x) for x in g.attrs.get("channel_names", [])]
        a = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in g.attrs.items()}
        out.append(
            ExtraLayout(
                name,
                int(g["values"].shape[1]),
                names,
                float(a.get("nominal_rate_hz", 0.0)),
                str(a.get("source", "lsl")),
                str(a.get("type", "")),
            )
        )
    return out


def copy_rows(g: h5py.Group, stream: ExtraStream, cols: tuple[str, ...]) -> int:
    """Copy the rows every one of `cols` has from a recorded group into a new stream; finalise its mapping."""
    n = readable_prefix(g, cols)  # an interrupted file: only rows that lie before its stored end
    for c in cols:
        stream.cols[c].append(g[c][:n])
    stream.finalize()
    return n


def copy_streams(src: h5py.File, writer) -> dict[str, int]:
    """Copy every extra stream's rows (cut to the length all its columns have) into a new writer's file and
    finalise their mapping; returns the rows copied per stream."""
    return {
        name: copy_rows(src[f"{EXTRA}/{name}"], xs, ("values", "stamp", "host_time", "mapped_time", "segment"))
        for name, xs in writer.extra.items()
    }

"""The day's folder as a list: one row per episode number, whatever state its file is in.

Finished files (`.h5`, state final/recovered) are summarised fully; discarded, partial (interrupted or still
recording) and recovering files from their root attributes and raw streams, without changing them; a failed
reservation is a row too. The rows' validation column comes from `dexumi.validate.listing` (validation reads
episodes, so it sits above this package).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dexumi.episode import schema as S
from dexumi.episode.numbering import scan
from dexumi.errors import DexumiError
from dexumi.vocab import EpisodeState

log = logging.getLogger(__name__)
# which file stands for a number when several exist (a finished file wins over leftovers)
PREFERENCE = (S.SUFFIX, S.DISCARDED, S.RECOVERING, S.PARTIAL, S.FAILED)
STATUS = {
    S.SUFFIX: "final",
    S.DISCARDED: "discarded",
    S.RECOVERING: "recovering",
    S.PARTIAL: "partial",
    S.FAILED: "failed",
}
COLUMNS = ("number", "time", "duration_s", "task", "outcome", "operator", "status", "validation", "drops", "notes")


@dataclass
class EpisodeEntry:
    """One row of `dexumi ls`."""

    number: int
    path: str
    status: str  # final | recovered | discarded | partial | recovering | failed
    time: str = ""  # created_utc
    duration_s: float = 0.0
    task: str = ""
    outcome: str = "unknown"
    operator: str = ""
    notes: str = ""
    validation: str = ""  # pass | warn | error | "" (not validated: unfinished, or --no-validate)
    validation_message: str = ""
    drops: int = 0  # encoder samples missing + camera frames dropped
    drops_by_stream: dict[str, int] = field(default_factory=dict)
    frames: int = 0  # aligned frames (finished) or main-camera frames (unfinished)
    stop_reason: str = ""
    gaps: int = 0
    longest_gap_s: float = 0.0  # longest link outage or time without encoder data arriving
    trim_s: list[float | None] | None = None
    splits_s: list[float] = field(default_factory=list)
    edits: int = 0
    flags: str = ""  # what the recorder flagged (a long gap, ...)
    file_mb: float = 0.0
    error: str = ""  # the file could not be read

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EpisodeEntry:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def _s(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.generic):
        return v.item()
    return v


def pick(files: list[Path], number: int) -> tuple[Path, str] | None:
    for sfx in PREFERENCE:
        for p in files:
            if p.name == S.episode_name(number) + sfx:
                return p, STATUS[sfx]
    return None


def _fill_attrs(e: EpisodeEntry, f) -> None:
    from dexumi.episode.metadata import A_SPLITS, A_TRIM, read_log

    a = {k: _s(v) for k, v in f.attrs.items()}
    e.time = str(a.get(S.A_CREATED, ""))
    e.task, e.operator, e.notes = str(a.get(S.A_TASK, "")), str(a.get(S.A_OPERATOR, "")), str(a.get(S.A_NOTES, ""))
    e.outcome = str(a.get(S.A_OUTCOME, "unknown"))
    e.stop_reason = str(a.get(S.A_STOP_REASON, ""))
    if A_TRIM in f.attrs:
        e.trim_s = [None if not np.isfinite(x) else float(x) for x in np.asarray(f.attrs[A_TRIM], float).ravel()]
    if A_SPLITS in f.attrs:
        e.splits_s = [float(x) for x in np.asarray(f.attrs[A_SPLITS], float).ravel()]
    e.edits = len(read_log(f))
    e.flags = str(a.get("flags", ""))


def _unfinished(e: EpisodeEntry, f) -> None:
    """Duration, frames and drops of a file without an aligned view, from its raw streams."""
    enc = f.get(S.ENCODER)
    drops: dict[str, int] = {}
    if enc is not None and "host_time" in enc:
        n = min(enc[k].shape[0] for k in S.ENCODER_FIELDS if k in enc)
        if n > 1:
            ht = enc["host_time"][[0, n - 1]]
            e.duration_s = float(ht[1] - ht[0])
            idx, seg = enc["index"][:n], enc["segment"][:n]
            missing = 0
            for s in np.unique(seg):
                d = np.diff(idx[seg == s])
                missing += int(d[d > 1].sum() - (d > 1).sum())
            drops["encoder"] = missing
        if "gaps" in enc and enc["gaps"].shape[0]:
            g = enc["gaps"][:]
            e.gaps, e.longest_gap_s = int(len(g)), float((g[:, 1] - g[:, 0]).max())
        e.longest_gap_s = max(e.longest_gap_s, _arrival_gap(f))
    for name, g in (f.get(S.CAMERAS) or {}).items():
        idx = g["index"][:]
        d = np.diff(idx) - 1
        drops[name] = int(d[d > 0].sum())
        e.frames = max(e.frames, int(len(idx)))
    e.drops_by_stream = drops
    e.drops = int(sum(drops.values()))


def entry(path: Path, number: int, status: str) -> EpisodeEntry:
    """Read one file's row (never raises for a broken file: the row says what is wrong)."""
    e = EpisodeEntry(number=number, path=str(path), status=status)
    try:
        e.file_mb = round(path.stat().st_size / 2**20, 2)
    except OSError:
        pass
    if status == "failed" or e.file_mb == 0:
        if status != "failed":
            e.error = "empty file (nothing was written)"
        return e
    from dexumi.episode.reader import open_h5

    try:
        f = open_h5(path)
    except DexumiError as exc:
        e.error = str(exc).split(": ", 1)[-1]
        return e
    try:
        with f:
            _fill_attrs(e, f)
            state = str(_s(f.attrs.get(S.A_STATE, "")))
            finished = (
                state in (EpisodeState.FINAL, EpisodeState.RECOVERED)
                and S.TIMESTAMPS in f
                and f[S.TIMESTAMPS].shape[0] > 0
            )
            if status == "final" and state == EpisodeState.RECOVERED:
                e.status = "recovered"
            if finished:
                e.duration_s = float(_s(f.attrs.get(S.A_DURATION, 0.0)) or 0.0)
                e.frames = int(f[S.TIMESTAMPS].shape[0])
                _report_drops(e, f)
            else:
                _unfinished(e, f)
    except Exception as exc:  # noqa: BLE001 - a damaged file is a row with an error, not a failed listing
        e.error = f"{type(exc).__name__}: {exc}"[:200]
    return e


def _arrival_gap(f) -> float:
    """The longest time without encoder data arriving (a stalled or unplugged board), seconds."""
    enc = f.get(S.ENCODER)
    if enc is None or "host_time" not in enc or enc["host_time"].shape[0] < 2:
        return 0.0
    return float(np.diff(enc["host_time"][:]).max())


def _report_drops(e: EpisodeEntry, f) -> None:
    from dexumi.episode.finalize import read_text

    try:
        rep = json.loads(read_text(f, S.SYNC_REPORT) or "{}")
    except ValueError:
        rep = {}
    enc = rep.get("encoder", {})
    drops = {"encoder": int(enc.get("missing_samples", 0))}
    drops.update({k: int(v.get("dropped", 0)) for k, v in rep.get("cameras", {}).items()})
    gaps = enc.get("gaps", [])
    e.gaps = len(gaps)
    e.longest_gap_s = max(float(max((g.get("seconds", 0.0) for g in gaps), default=0.0)), _arrival_gap(f))
    e.drops_by_stream = drops
    e.drops = int(sum(drops.values()))


def list_folder(folder: str | Path) -> list[EpisodeEntry]:
    """Every episode number in `folder`, oldest first, with an empty `validation` column
    (`dexumi.validate.listing.list_validated` fills it)."""
    d = Path(folder)
    if not d.is_dir():
        raise DexumiError(f"{d}: not a folder")
    out = []
    for n, files in sorted(scan(d).items()):
        chosen = pick(files, n)
        if chosen is not None:
            out.append(entry(chosen[0], n, chosen[1]))
    return out


def next_number(folder: str | Path) -> int:
    """The number the next recording in `folder` will get (what the recorder shows as "next is 0043")."""
    from dexumi.episode.numbering import _counter

    d = Path(folder)
    return max([0, _counter(d), *scan(d)]) + 1

"""After each finished episode: the latency self-check's line, and the calibration-drift tracker every N."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import h5py

from dexumi.episode import latency_check
from dexumi.quality import drift

log = logging.getLogger(__name__)
A_DRIFT = "calibration_drift"  # root attribute: one line naming a drifting channel ('' = none)


class EpisodeQA:
    """`after(path)` → the lines to show (latency self-check, and calibration drift when found)."""

    def __init__(self, every: int = 5, warn_deg: float = 1.5, error_deg: float = 5.0) -> None:
        self.tracker = drift.DriftTracker(every=every, warn_deg=warn_deg, error_deg=error_deg)
        self.latency_line = ""
        self.drift_line = ""

    def after(self, path: str | Path) -> list[str]:
        try:
            with h5py.File(path, "r+") as f:
                from dexumi.episode import schema as S
                from dexumi.episode.finalize import read_text

                rep = json.loads(read_text(f, S.SYNC_REPORT) or "{}")
                self.latency_line = latency_check.one_line(rep.get("latency_check", {}))
                enc = f[S.ENCODER]
                names = [x.decode() if isinstance(x, bytes) else str(x) for x in enc["angles"].attrs.get("names", [])]
                self.tracker.names = names
                levels = drift.reference_levels(enc["angles"][:], enc["host_time"][:])
                found = self.tracker.add(Path(path).name, levels)
                if found is not None:
                    self.drift_line = drift.one_line(found)
                    f.attrs[A_DRIFT] = self.drift_line
        except (OSError, KeyError, ValueError) as exc:
            log.warning("episode QA of %s failed: %s", path, exc)
            return []
        lines = [self.latency_line]
        if self.drift_line:
            lines.append(self.drift_line)
        for ln in lines:
            log.info("%s", ln)
        return lines

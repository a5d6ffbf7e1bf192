"""Ground-truth log of the fake board: JSON lines, one per sent SAMPLES frame or event."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np


class GroundTruthLog:
    """Appends records as they happen (flushed per line, so a killed fake leaves a readable log)."""

    def __init__(self, path: str | None) -> None:
        self._f: IO[str] | None = open(path, "w", encoding="utf-8") if path else None

    def samples(self, first_index: int, t_us: list[int], values: list[list[int]], frame_seq: int) -> None:
        self._write({"kind": "samples", "first": first_index, "seq": frame_seq, "t_us": t_us, "values": values})

    def event(self, name: str, **info: object) -> None:
        self._write({"kind": "event", "event": name, "t": time.time(), **info})

    def _write(self, record: dict) -> None:
        if self._f is not None:
            self._f.write(json.dumps(record, separators=(",", ":")) + "\n")
            self._f.flush()

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


@dataclass
class GroundTruth:
    """What a log says the fake sent: sample indices, device times, values; and its events."""

    index: np.ndarray
    t_us: np.ndarray
    values: np.ndarray
    events: list[dict] = field(default_factory=list)

    def count(self, event: str) -> int:
        return sum(1 for e in self.events if e["event"] == event)


def read_ground_truth(path: str | Path) -> GroundTruth:
    index: list[int] = []
    times: list[int] = []
    rows: list[list[int]] = []
    events: list[dict] = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        if rec["kind"] == "samples":
            index.extend(rec["first"] + k for k in range(len(rec["t_us"])))
            times.extend(rec["t_us"])
            rows.extend(rec["values"])
        else:
            events.append(rec)
    channels = len(rows[0]) if rows else 0
    return GroundTruth(
        np.asarray(index, np.int64),
        np.asarray(times, np.int64),
        np.asarray(rows, np.int32).reshape(-1, channels),
        events,
    )

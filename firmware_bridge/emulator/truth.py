"""The emulator's ground-truth log: one record per sample it generated, with what became of it.

File layout: one line of JSON (format, version, channels, numpy dtype), then fixed-size binary records.
Reading never executes anything (no pickle): `read_truth` rebuilds the dtype from the JSON header.
"""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "dexumi-sim-truth"
VERSION = 1


class Fate(enum.IntEnum):
    SENT = 0  # the frame carrying the sample went out intact
    CORRUPTED = 1  # its frame went out with corrupted bytes
    DROPPED = 2  # its frame was deliberately lost (--drop)
    NOT_SENT = 3  # the link was down or stalled: the bytes never left


def record_dtype(channels: int) -> np.dtype:
    return np.dtype(
        [
            ("index", "<i8"),  # sample counter of the device (restarts with the device)
            ("segment", "<i4"),  # connection number: 0 before the first re-plug, 1 after, ...
            ("fate", "u1"),
            ("frame_seq", "<i8"),  # sequence number of the frame that carried it
            ("device_time_us", "<i8"),  # device clock, unwrapped
            ("true_time", "<f8"),  # host monotonic time at which the sample was taken
            ("send_time", "<f8"),  # host monotonic time at which its frame was written to the port
            ("angles", "<f8", (channels,)),  # the true joint angles behind the values (radians)
            ("values", "<i4", (channels,)),  # the raw counts sent
        ]
    )


def is_truth_log(path: Path) -> bool:
    """A file this emulator wrote (its first line is our JSON header)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return False
    return head.startswith(b'{"format": "' + FORMAT.encode() + b'"')


def check_truth_path(path: Path) -> None:
    """ValueError unless `path` is free or an earlier truth log (never overwrite someone else's file)."""
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"--truth {p} is a folder")
    if (p.exists() or p.is_symlink()) and (p.is_symlink() or not p.is_file() or not is_truth_log(p)):
        raise ValueError(f"--truth {p} exists and is not a truth log of the emulator; refusing to overwrite it")
    if not p.parent.is_dir():
        raise ValueError(f"--truth: folder {p.parent} does not exist")


class TruthLog:
    """Appends records; flushes often so a killed emulator leaves a readable log."""

    def __init__(self, path: Path, channels: int, meta: dict[str, Any]) -> None:
        self.dtype = record_dtype(channels)
        check_truth_path(path)
        self._file = open(path, "wb")
        header = {
            "format": FORMAT,
            "version": VERSION,
            "channels": channels,
            "dtype": [list(d) if len(d) == 2 else [d[0], d[1], list(d[2])] for d in self.dtype.descr],
            "meta": meta,
        }
        self._file.write(json.dumps(header).encode() + b"\n")
        self._file.flush()

    def write(self, records: np.ndarray) -> None:
        self._file.write(records.astype(self.dtype, copy=False).tobytes())

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            self._file.close()


def read_truth(path: str | Path) -> tuple[dict[str, Any], np.ndarray]:
    """(header, records) of a truth log; a partly written last record is ignored."""
    raw = Path(path).read_bytes()
    end = raw.index(b"\n")
    header = json.loads(raw[:end])
    if header.get("format") != FORMAT:
        raise ValueError(f"{path} is not a dexumi emulator truth log")
    dtype = record_dtype(int(header["channels"]))
    body = raw[end + 1 :]
    n = len(body) // dtype.itemsize
    return header, np.frombuffer(body[: n * dtype.itemsize], dtype)

"""The one small interface every wrist-pose source implements (the cameras' lifecycle, docs/pose.md).

A source is made from a spec string (`make_pose`), opened, read sample by sample and closed; `reconnect()`
closes and reopens it after `PoseLost`. `read(timeout)` blocks until the next `PoseSample` (None on
timeout). A simulated source also gives `truth()`: every sample it generated, including the ones it
dropped, so tests count losses against the truth.

Conventions (every source): position in metres, orientation a unit quaternion **scalar-last** `(x, y, z,
w)` (scipy's `Rotation.from_quat` order) of the tracked frame in the source's world frame. Device time in
seconds on the source's own clock; host time = host monotonic seconds when the sample arrived.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod

import numpy as np

from dexumi.errors import DexumiError

# the sample and its states live below the sources, for readers of pose streams; re-exported here
from dexumi.pose_sample import LIMITED, LOST, STATE_CODES, STATE_NAMES, TRACKING, PoseSample, samples_to_arrays

__all__ = [
    "LIMITED",
    "LOST",
    "STATE_CODES",
    "STATE_NAMES",
    "TRACKING",
    "PoseLost",
    "PoseSample",
    "PoseSource",
    "samples_to_arrays",
]

log = logging.getLogger(__name__)


class PoseLost(DexumiError):
    """The pose source stopped delivering (unplugged, network gone, app closed)."""


class PoseSource(ABC):
    """Open with `open()` (or `with`), then `read()` samples; `close()` is safe twice."""

    #: True when `PoseSample.index` is the source's own counter (gaps are exact drop counts).
    counts_samples: bool = True

    def __init__(self, name: str, spec: str) -> None:
        self.name = name
        self.spec = spec
        self.opened = False
        self.rate_hz: float | None = None  # nominal sample rate, when known

    @abstractmethod
    def open(self) -> PoseSource:
        """Start the source. Raises DexumiError with a one-line reason."""

    @abstractmethod
    def read(self, timeout: float | None = 1.0) -> PoseSample | None:
        """Block up to `timeout` s for the next sample (None on timeout). Raises PoseLost."""

    @abstractmethod
    def close(self) -> None:
        """Release the device / socket / thread; safe to call twice."""

    def reconnect(self) -> PoseSource:
        """Close and reopen (after PoseLost); the sequence numbers may restart."""
        self.close()
        return self.open()

    def truth(self) -> np.ndarray | None:
        """Simulated sources: a record of every generated sample (see the source); real ones: None."""
        return None

    def __enter__(self) -> PoseSource:
        return self if self.opened else self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"

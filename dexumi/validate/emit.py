"""Recording a finding with the configured severity applied."""

from __future__ import annotations

from typing import Any

import numpy as np

from dexumi.validate.config import ValidateConfig
from dexumi.validate.result import EpisodeReport


def emit(r: EpisodeReport, cfg: ValidateConfig, check: str, level: str, message: str,
         times: Any = None, **details: Any) -> None:
    """Add a finding; `times` (array-like, recording clock minus episode start) become markers."""
    ts = [] if times is None else [round(float(t), 4) for t in np.asarray(times, dtype=float).ravel()[:50]]
    r.add(check, cfg.level(check, level), message, ts, **details)


def graded(value: float, warn: float, error: float) -> str:
    """pass / warn / error for a value against two increasing thresholds."""
    return "error" if value > error else "warn" if value > warn else "pass"

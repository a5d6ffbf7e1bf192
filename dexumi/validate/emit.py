"""Recording a finding with the configured severity applied."""

from __future__ import annotations

from typing import Any

import numpy as np

from dexumi.validate.config import ValidateConfig
from dexumi.validate.result import EpisodeReport
from dexumi.vocab import CheckLevel


def emit(
    r: EpisodeReport,
    cfg: ValidateConfig,
    check: str,
    level: CheckLevel | str,
    message: str,
    times: Any = None,
    **details: Any,
) -> None:
    """Add a finding at `level` (a CheckLevel or its name: another name is a one-line VocabularyError); `times`
    (array-like, recording clock minus episode start) become markers."""
    ts = [] if times is None else [round(float(t), 4) for t in np.asarray(times, dtype=float).ravel()[:50]]
    r.add(check, cfg.level(check, CheckLevel(level)), message, ts, **details)


def graded(value: float, warn: float, error: float) -> CheckLevel:
    """pass / warn / error for a value against two increasing thresholds."""
    return CheckLevel.ERROR if value > error else CheckLevel.WARN if value > warn else CheckLevel.PASS

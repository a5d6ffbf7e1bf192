"""Validation results: one `CheckResult` per check, gathered into an `EpisodeReport`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from dexumi.vocab import CheckLevel

PASS, INFO, WARN, ERROR, SKIP = CheckLevel.PASS, CheckLevel.INFO, CheckLevel.WARN, CheckLevel.ERROR, CheckLevel.SKIP
RANK: dict[str, int] = {SKIP: 0, PASS: 0, INFO: 0, WARN: 1, ERROR: 2}


@dataclass
class CheckResult:
    """The outcome of one check: `level` is pass/info/warn/error/skip, `message` one line for people."""

    check: str
    level: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    # instants (seconds on the episode clock) the finding points at, for replay markers and plots
    times: list[float] = field(default_factory=list)


@dataclass
class EpisodeReport:
    """Every check of one file (or of a folder, for numbering)."""

    path: str
    checks: list[CheckResult] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    plots: list[str] = field(default_factory=list)

    def add(self, check: str, level: str, message: str, times: list[float] | None = None, **details: Any) -> None:
        self.checks.append(CheckResult(check, level, message, details, list(times or [])[:50]))

    @property
    def level(self) -> str:
        worst = max((RANK[c.level] for c in self.checks), default=0)
        return {0: PASS, 1: WARN, 2: ERROR}[worst]

    def failed(self, warn_as_error: bool = False) -> bool:
        return self.level == ERROR or (warn_as_error and self.level == WARN)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {str(ERROR): 0, str(WARN): 0}
        for c in self.checks:
            if str(c.level) in out:
                out[str(c.level)] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "status": self.level,
            "counts": self.counts(),
            "metrics": self.metrics,
            "checks": [asdict(c) for c in self.checks],
            "plots": self.plots,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EpisodeReport:
        r = cls(
            d["path"],
            [CheckResult(**c) for c in d.get("checks", [])],
            dict(d.get("metrics", {})),
            list(d.get("plots", [])),
        )
        return r

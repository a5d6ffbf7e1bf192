"""The human summary table and the JSON report of a validation run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dexumi.safe_output import write_atomic
from dexumi.validate.config import EPISODE_CHECKS, ValidateConfig
from dexumi.validate.result import ERROR, RANK, WARN
from dexumi.validate.runner import ValidationRun
from dexumi.vocab import CheckLevel

REPORT_VERSION = 1
MARK: dict[str, str] = {
    CheckLevel.PASS: "ok",
    CheckLevel.INFO: "ok",
    CheckLevel.SKIP: "-",
    CheckLevel.WARN: "WARN",
    CheckLevel.ERROR: "FAIL",
}


def to_json(run: ValidationRun, cfg: ValidateConfig, warn_as_error: bool) -> dict[str, Any]:
    eps = run.episodes
    return {
        "report_version": REPORT_VERSION,
        "passed": not run.failed(warn_as_error),
        "warn_as_error": warn_as_error,
        "summary": {
            "files": len(eps),
            "passed": sum(r.level not in (WARN, ERROR) for r in eps),
            "warnings": sum(r.level == WARN for r in eps),
            "failed": sum(r.level == ERROR for r in eps),
            "problems": run.problems,
        },
        "config": cfg.to_dict(),
        "episodes": [r.to_dict() for r in eps],
        "folders": [r.to_dict() for r in run.folders],
    }


def write_json(path: str | Path, doc: dict[str, Any]) -> None:
    write_atomic(Path(path), json.dumps(doc, indent=1, default=str))


def table(run: ValidationRun, verbose: bool = False) -> str:
    """One row per file: a column per check, then the worst finding's message."""
    cols = list(EPISODE_CHECKS)  # folder checks have no column
    short = {c: c[:6] for c in cols}
    lines = []
    name_w = max([len(Path(r.path).name) for r in run.episodes] + [7])
    lines.append(f"{'episode':<{name_w}}  " + " ".join(f"{short[c]:<6}" for c in cols) + "  finding")
    for r in run.episodes:
        by = {c.check: c for c in r.checks}
        worst = max(r.checks, key=lambda c: RANK.get(c.level, 0), default=None)
        note = worst.message if worst is not None and worst.level in (WARN, ERROR) else ""
        if worst is not None and worst.check == "schema" and worst.level == ERROR and len(r.checks) == 1:
            note = worst.message.split(": ", 1)[-1] if worst.message.startswith(r.path) else worst.message
        cells = " ".join(f"{MARK.get(by[c].level, '?') if c in by else '':<6}" for c in cols)
        lines.append(f"{Path(r.path).name:<{name_w}}  {cells}  {note[:110]}")
        if verbose:
            for c in r.checks:
                if c.level in (WARN, ERROR):
                    lines.append(f"    {MARK[c.level]:<4} {c.check}: {c.message}")
    for f in run.folders:
        for c in f.checks:
            lines.append(f"folder {f.path}: {c.check} {MARK.get(c.level, c.level)}: {c.message}")
    for p in run.problems:
        lines.append(f"error: {p}")
    eps = run.episodes
    lines.append(
        f"{len(eps)} file(s): {sum(r.level not in (WARN, ERROR) for r in eps)} passed, "
        f"{sum(r.level == WARN for r in eps)} with warnings, {sum(r.level == ERROR for r in eps)} failed"
    )
    return "\n".join(lines)

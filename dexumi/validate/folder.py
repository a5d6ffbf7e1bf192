"""Folder-level check: episode numbering (gaps and duplicates)."""

from __future__ import annotations

from pathlib import Path

from dexumi.episode import schema as S
from dexumi.episode.numbering import scan
from dexumi.validate.config import ValidateConfig
from dexumi.validate.emit import emit
from dexumi.validate.result import EpisodeReport
from dexumi.vocab import CheckLevel


def _ranges(nums: list[int]) -> str:
    out, start = [], None
    for i, n in enumerate(nums):
        if start is None:
            start = n
        if i + 1 == len(nums) or nums[i + 1] != n + 1:
            out.append(f"{start}" if start == n else f"{start}-{n}")
            start = None
    return ", ".join(out)


def check_numbering(
    folder: Path, cfg: ValidateConfig, attr_numbers: dict[str, int | None] | None = None
) -> EpisodeReport:
    """Numbers missing between the first and last episode (a discarded/failed file keeps its number) and
    numbers used twice (two files of one number, or two files claiming it in their attributes)."""
    r = EpisodeReport(str(folder))
    files = scan(folder)
    if not files:
        emit(r, cfg, "numbering", "error", f"{folder}: no episode files")
        return r
    nums = sorted(files)
    missing = sorted(set(range(nums[0], nums[-1] + 1)) - set(nums))
    dup_names = {
        n: [p.name for p in ps]
        for n, ps in files.items()
        if len([p for p in ps if p.name.endswith((S.SUFFIX, S.PARTIAL, S.RECOVERING))]) > 1
    }
    claimed: dict[int, list[str]] = {}
    for path, num in (attr_numbers or {}).items():
        if num is not None:
            claimed.setdefault(int(num), []).append(Path(path).name)
    dup_attrs = {n: v for n, v in claimed.items() if len(v) > 1}
    r.metrics = {
        "episodes": len(nums),
        "first": nums[0],
        "last": nums[-1],
        "missing": missing,
        "duplicates": sorted(set(dup_names) | set(dup_attrs)),
    }
    if dup_names or dup_attrs:
        dups = sorted(set(dup_names) | set(dup_attrs))
        emit(
            r,
            cfg,
            "numbering",
            "error",
            f"episode numbers used twice: {_ranges(dups)}",
            missing=missing,
            duplicates={str(k): dup_names.get(k, []) + dup_attrs.get(k, []) for k in dups},
        )
    elif missing:
        emit(r, cfg, "numbering", "warn", f"episode numbers missing: {_ranges(missing)}", missing=missing)
    else:
        emit(r, cfg, "numbering", "pass", f"episodes {nums[0]}-{nums[-1]} without gaps")
    return r


def check_calibration_drift(r: EpisodeReport, cfg: ValidateConfig, episodes: list[EpisodeReport]) -> None:
    """`calibration_drift`: each channel's reference-hold level across the folder's episodes (in number order)."""
    from dexumi.quality.drift import drift_findings, one_line

    if cfg.severity.get("calibration_drift") == "off":
        return
    rows = sorted(
        (e for e in episodes if e.metrics.get("reference_levels_rad") is not None),
        key=lambda e: (e.metrics.get("episode_number") or 0, e.path),
    )
    if len(rows) < 4:
        emit(r, cfg, "calibration_drift", "info", f"{len(rows)} episode(s) with a reference hold: too few to see drift")
        return
    names = list(rows[-1].metrics.get("channel_names") or [])
    found = drift_findings(
        [e.metrics["reference_levels_rad"] for e in rows], names, cfg.drift_warn_deg, cfg.drift_error_deg
    )
    if found:
        level = CheckLevel.ERROR if any(x.level == CheckLevel.ERROR for x in found) else CheckLevel.WARN
        emit(
            r,
            cfg,
            "calibration_drift",
            level,
            one_line(found),
            channels={x.channel: round(x.drift_deg, 3) for x in found},
        )
    else:
        emit(r, cfg, "calibration_drift", "pass", f"no channel drifts over {len(rows)} episodes")

"""`dexumi rank`: a sync-aware quality score per episode, with the reasons, and a list of suspects.

score = 100 − the sum of these penalties (never below 0); each penalty that applies is one reason:

| feature            | penalty                                                                 |
|--------------------|-------------------------------------------------------------------------|
| invalid frames     | 200 × invalid fraction (5 % invalid → 10)                               |
| encoder gaps       | 15 per gap + 50 per second of gap                                       |
| latency drift      | 1.5 per ms of the worst camera's |estimate − profile| beyond 5 ms        |
| jerk               | 25 × log2(ratio) when the episode's p99 jerk is > 1.5× the folder median|
| fingertip error    | 0.5 per mm of p95 beyond the folder median + 10 mm                      |
| duration outlier   | 5 per robust z beyond 3 (z = |d − median| / (1.4826 MAD + 5 % median))  |

Episodes are listed worst first; those scoring below `threshold` (80) are the suspects. Everything comes from
the file (aligned view, sync report with its latency self-check, retarget map); no image is decoded unless a
file has no latency self-check (older files): then it is re-estimated.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from dexumi.batch import Engine

log = logging.getLogger(__name__)

THRESHOLD = 80.0


@dataclass
class EpisodeFeatures:
    path: str
    episode: str
    outcome: str = "unknown"
    duration_s: float = 0.0
    frames: int = 0
    valid_fraction: float = 0.0
    gaps: int = 0
    gap_s: float = 0.0
    latency_diff_ms: float | None = None  # worst camera's |estimate − profile|
    latency_camera: str = ""
    jerk_p99: float | None = None  # rad/s³, p99 over frames of the summed |third derivative|
    tip_p95_mm: float | None = None
    error: str = ""  # the file could not be read


@dataclass
class Ranked:
    episode: str
    path: str
    score: float
    reasons: list[str] = field(default_factory=list)
    suspect: bool = False
    rank: int = 0
    features: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


def _jerk_p99(t: np.ndarray, q: np.ndarray, valid: np.ndarray) -> float | None:
    if len(t) < 8:
        return None
    dt = float(np.median(np.diff(t)))
    if not dt > 0:
        return None
    d3 = np.diff(q.astype(np.float64), n=3, axis=0) / dt**3
    ok = valid[3:].astype(bool) & valid[:-3].astype(bool) & np.isfinite(d3).all(axis=1)
    if ok.sum() < 5:
        return None
    return float(np.percentile(np.abs(d3[ok]).sum(axis=1), 99))


def features(path: str | Path, fingertips: bool = True) -> EpisodeFeatures:
    """Everything the score needs from one episode file."""
    from dexumi.episode import schema as S
    from dexumi.validate.episode import episode_data

    p = Path(path)
    ft = EpisodeFeatures(str(p), p.name)
    try:
        f, d = episode_data(p)
    except Exception as exc:  # noqa: BLE001 - a damaged file is the worst suspect, not a crash
        ft.error = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        return ft
    try:
        ft.outcome = str(d.attrs.get(S.A_OUTCOME, "unknown"))
        ft.duration_s = float(d.attrs.get(S.A_DURATION, 0.0) or 0.0)
        n = 0 if d.timestamps is None else len(d.timestamps)
        ft.frames = n
        valid = d.valid if d.valid is not None and len(d.valid) == n else np.zeros(n, np.uint8)
        ft.valid_fraction = float(valid.mean()) if n else 0.0
        gaps = d.sync_report.get("encoder", {}).get("gaps", [])
        ft.gaps = len(gaps)
        ft.gap_s = float(sum(float(g.get("seconds", 0.0)) for g in gaps))
        lc = d.sync_report.get("latency_check")
        if not lc or not lc.get("cameras"):
            from dexumi.episode.latency_check import check_open_file

            lc = check_open_file(f) if d.cameras else {}
        for name, c in (lc or {}).get("cameras", {}).items():
            diff = c.get("difference_s")
            if diff is not None and (ft.latency_diff_ms is None or abs(diff) * 1e3 > ft.latency_diff_ms):
                ft.latency_diff_ms, ft.latency_camera = abs(diff) * 1e3, name
        if d.exo is not None and d.timestamps is not None and n:
            ft.jerk_p99 = _jerk_p99(d.timestamps, d.exo, valid)
        if fingertips:
            from dexumi.validate.checks_content import check_fingertips
            from dexumi.validate.config import ValidateConfig
            from dexumi.validate.result import EpisodeReport

            r = EpisodeReport(str(p))
            try:
                check_fingertips(d, ValidateConfig(), r)
                tip = r.metrics.get("tip_error_mm")
                ft.tip_p95_mm = float(tip["p95"]) if tip else None
            except Exception as exc:  # noqa: BLE001 - the other features still count
                log.debug("fingertips of %s: %s", p, exc)
    except Exception as exc:  # noqa: BLE001 - a damaged file is a row with its error
        ft.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
    finally:
        f.close()
    return ft


def score(feats: list[EpisodeFeatures], threshold: float = THRESHOLD) -> list[Ranked]:
    """Score every episode against the others (jerk, fingertips and duration are relative to the folder)."""

    def med(vals: list[float | None]) -> float | None:
        v = [x for x in vals if x is not None and math.isfinite(x)]
        return float(np.median(v)) if v else None

    jerk_med = med([f.jerk_p99 for f in feats])
    tip_med = med([f.tip_p95_mm for f in feats])
    durs = np.array([f.duration_s for f in feats if not f.error])
    dur_med = float(np.median(durs)) if len(durs) else 0.0
    dur_mad = float(np.median(np.abs(durs - dur_med))) if len(durs) else 0.0
    out: list[Ranked] = []
    for f in feats:
        pen: list[tuple[float, str]] = []
        if f.error:
            pen.append((100.0, f"unreadable: {f.error}"))
        else:
            inv = 1.0 - f.valid_fraction
            if inv > 0.005:
                pen.append((200.0 * inv, f"{inv * 100:.1f} % of frames invalid"))
            if f.gaps:
                pen.append((15.0 * f.gaps + 50.0 * f.gap_s, f"{f.gaps} encoder gap(s), {f.gap_s:.2f} s"))
            if f.latency_diff_ms is not None and f.latency_diff_ms > 5.0:
                pen.append(
                    (
                        1.5 * (f.latency_diff_ms - 5.0),
                        f"latency drift: {f.latency_camera} {f.latency_diff_ms:.0f} ms off its profile",
                    )
                )
            if f.jerk_p99 is not None and jerk_med and f.jerk_p99 > 1.5 * jerk_med:
                ratio = f.jerk_p99 / jerk_med
                pen.append((25.0 * math.log2(ratio), f"jerky: p99 jerk {ratio:.1f}× the folder median"))
            if f.tip_p95_mm is not None and tip_med is not None and f.tip_p95_mm > tip_med + 10.0:
                pen.append(
                    (
                        0.5 * (f.tip_p95_mm - tip_med - 10.0),
                        f"fingertip error p95 {f.tip_p95_mm:.0f} mm (folder median {tip_med:.0f} mm)",
                    )
                )
            z = abs(f.duration_s - dur_med) / (1.4826 * dur_mad + 0.05 * dur_med) if dur_med > 0 else 0.0
            if z > 3.0:
                pen.append((5.0 * (z - 3.0), f"duration {f.duration_s:.1f} s vs folder median {dur_med:.1f} s"))
        total = sum(p for p, _ in pen)
        s = max(0.0, 100.0 - total)
        reasons = [r for _, r in sorted(pen, key=lambda x: -x[0])]
        out.append(
            Ranked(
                f.episode,
                f.path,
                round(s, 2),
                reasons,
                s < threshold,
                features={k: v for k, v in asdict(f).items() if k not in ("path", "episode")},
            )
        )
    out.sort(key=lambda r: (r.score, r.episode))
    for i, r in enumerate(out):
        r.rank = i + 1
    return out


def _features_dict(path: str, fingertips: bool) -> dict:
    return asdict(features(path, fingertips))


def rank_paths(
    paths: list[Path],
    threshold: float = THRESHOLD,
    fingertips: bool = True,
    progress: bool = False,
    engine: Engine | None = None,
    manifest: str | Path | None = None,
) -> list[Ranked]:
    """Features per episode as batch tasks (dexumi.batch: local pool by default, or `engine`), then the score
    over the folder (which needs every episode's features, so it runs here)."""
    from dexumi.batch import run_episode_tasks

    outs = run_episode_tasks(
        paths,
        _features_dict,
        (fingertips,),
        engine=engine,
        manifest=manifest,
        command="rank",
        params={"fingertips": fingertips},
        progress=progress,
        unit="file",
    )
    feats = [
        EpisodeFeatures(**o.value) if o.ok else EpisodeFeatures(str(p), Path(p).name, error=o.error)
        for o, p in zip(outs, paths)
    ]
    return score(feats, threshold)


def suspects_text(ranked: list[Ranked], source: str, threshold: float) -> str:
    """The suspects file: one episode file name per line, `#` comments (what `export --exclude` reads)."""
    lines = [
        f"# dexumi rank suspects of {source}: score < {threshold:g}, worst first",
        "# one episode file name per line; lines starting with # are comments",
    ]
    for r in ranked:
        if r.suspect:
            lines.append(f"# score {r.score:.1f}: {'; '.join(r.reasons)}")
            lines.append(r.episode)
    return "\n".join(lines) + "\n"

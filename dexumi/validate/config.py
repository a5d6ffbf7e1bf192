"""Thresholds and severities of the validation checks (defaults, or a YAML/JSON file, or CLI overrides)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from dexumi.checked_doc import load_document, read_text
from dexumi.errors import DexumiError
from dexumi.vocab import CheckLevel

# the one list of checks, in report order; an episode check NAME is the function `check_NAME` of one of the
# dexumi/validate/checks_*.py modules (run by validate/episode.py), folder checks are validate/folder.py's
CHECKS = (
    "schema",
    "length",
    "finite",
    "timestamps",
    "rates",
    "gaps",
    "drops",
    "sequence",
    "alignment",
    "joint_limits",
    "fingertips",
    "images",
    "numbering",
    "latency_drift",
    "calibration_drift",
    "pose",
    "devices",
)
FOLDER_CHECKS = ("numbering", "calibration_drift")
EPISODE_CHECKS = tuple(c for c in CHECKS if c not in FOLDER_CHECKS)
SEVERITIES = ("off", "warn", "error")


@dataclass
class ValidateConfig:
    """Every threshold the checks use. `severity` caps or raises a check: off | warn | error."""

    min_frames: int = 10  # aligned frames
    min_duration_s: float = 0.5
    rate_warn_frac: float = 0.05  # effective rate off nominal by more than this → warning
    rate_error_frac: float = 0.25  # … by more than this → error
    gap_factor: float = 2.5  # an interval longer than this many nominal periods is a gap (warning)
    gap_error_s: float = 0.5  # a gap longer than this is an error
    drop_warn_frac: float = 0.01  # dropped / expected frames or samples
    drop_error_frac: float = 0.05
    invalid_warn_frac: float = 0.0  # aligned frames without bracketing encoder samples
    invalid_error_frac: float = 0.05
    clock_residual_warn_ms: float = 1.0
    clock_residual_error_ms: float = 5.0
    image_offset_warn_periods: float = 1.0  # secondary camera frame further than this many periods
    image_offset_error_periods: float = 3.0
    limit_tolerance_rad: float = 1e-3
    tip_warn_mm: float = 20.0  # fingertip correspondence p95
    tip_error_mm: float = 40.0
    latency_warn_ms: float = 10.0  # camera latency re-estimated from the episode vs the profile's
    latency_error_ms: float = 25.0
    drift_warn_deg: float = 1.5  # a channel's reference-hold level moving across a folder's episodes
    drift_error_deg: float = 5.0
    pose_speed_max_m_s: float = 3.0  # wrist faster than this between two samples: a pose jump (relocalisation)
    pose_angular_speed_max_deg_s: float = 1000.0
    pose_jump_error_frac: float = 0.01  # jumps in more than this fraction of sample pairs: error (else warn)
    pose_loss_warn_frac: float = 0.02  # lost + dropped pose samples / all
    pose_loss_error_frac: float = 0.10
    pose_latency: bool = True  # measure pose-vs-camera latency (optical flow of the main camera)
    pose_latency_warn_ms: float = 15.0
    saturation_warn_frac: float = 0.001  # devices: samples with a channel at the format's limit
    saturation_error_frac: float = 0.05
    stuck_min_s: float = 2.0  # a channel frozen at one value this long (tactile: at a non-zero value) is stuck
    tactile_baseline_drift_warn_n: float = 0.5  # XHand: no-load level of a fingertip's total moving this much
    fsr_baseline_drift_warn_counts: float = 50.0  # FSR: the same in counts
    cross_device_sync_warn_ms: float = 1.0  # two devices' clock-fit residuals combined
    cross_device_sync_error_ms: float = 5.0
    device_invalid_warn_frac: float = 0.05  # a further device not valid (its edges, a gap) at this fraction …
    device_invalid_error_frac: float = 0.2  # a further device not valid at this fraction of aligned frames
    decode_reduce: int = 8  # JPEG decode scale for the "every image decodes" check (1 = full size)
    # check → off | warn | error: the level its findings are reported at. Fingertip correspondence is a quality
    # figure of the hand pair and calibration, not a defect of the file: warn by default.
    severity: dict[str, str] = field(default_factory=lambda: {"fingertips": "warn"})

    def level(self, check: str, level: CheckLevel) -> CheckLevel:
        """Apply the severity override of `check` to a warn/error level."""
        s = self.severity.get(check)
        if s is None or level not in (CheckLevel.WARN, CheckLevel.ERROR):
            return level
        return CheckLevel.SKIP if s == "off" else CheckLevel(s)

    def to_dict(self) -> dict:
        return asdict(self)


def set_severity(cfg: ValidateConfig, spec: str, where: str = "--severity") -> None:
    """`CHECK=off|warn|error` (CHECK may be `all`); `where` names the source in errors."""
    if "=" not in spec:
        raise DexumiError(f"{where} {spec!r}: expected CHECK=off|warn|error")
    check, level = (x.strip() for x in spec.split("=", 1))
    if level not in SEVERITIES:
        raise DexumiError(f"{where} {spec!r}: level must be one of {', '.join(SEVERITIES)}")
    if check != "all" and check not in CHECKS:
        raise DexumiError(f"{where} {spec!r}: unknown check (checks: {', '.join(CHECKS)})")
    for c in CHECKS if check == "all" else (check,):
        cfg.severity[c] = level


def load_config(path: str | Path) -> ValidateConfig:
    """A YAML or JSON mapping of thresholds, plus `severity: {check: level}`; errors name the file's line."""
    p = Path(path)
    doc = load_document(read_text(p, "checks config"), str(p), ".json" if p.suffix.lower() == ".json" else ".yaml")
    data = doc.data or {}
    if not isinstance(data, dict):
        raise doc.error((), "checks config must be a mapping of thresholds")
    cfg = ValidateConfig()
    known = {f.name: f for f in fields(cfg)}
    for k, v in data.items():
        if k not in known:
            raise doc.error((k,), f"unknown setting {k!r} (settings: {', '.join(sorted(known))})")
        if k == "severity":
            sev = doc.table((k,), v)
            for c, lvl in sev.items():
                lvl = "off" if lvl is False else lvl  # YAML 1.1 reads a bare `off` (or `no`) as false
                try:
                    set_severity(cfg, f"{c}={lvl}", where="severity")
                except DexumiError as exc:
                    raise doc.error((k, c), str(exc)) from None
            continue
        default = getattr(cfg, k)
        try:
            setattr(cfg, k, type(default)(v))
        except (TypeError, ValueError):
            raise doc.error((k,), f"must be a {type(default).__name__}, not {v!r}") from None
    return cfg

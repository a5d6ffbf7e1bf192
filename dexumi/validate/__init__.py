"""Validating episode files: schema, timing, drops, alignment, limits, fingertips, images, numbering; ranking a
folder worst first (`rank_paths`)."""

from dexumi.validate.config import ValidateConfig, load_config
from dexumi.validate.episode import validate_file
from dexumi.validate.rank import EpisodeFeatures, Ranked, rank_paths
from dexumi.validate.result import CheckResult, EpisodeReport
from dexumi.validate.runner import ValidationRun, validate_paths

__all__ = [
    "CheckResult",
    "EpisodeFeatures",
    "EpisodeReport",
    "Ranked",
    "ValidateConfig",
    "ValidationRun",
    "load_config",
    "rank_paths",
    "validate_file",
    "validate_paths",
]

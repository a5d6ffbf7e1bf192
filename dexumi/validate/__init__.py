"""Validating episode files: schema, timing, drops, alignment, limits, fingertips, images, numbering."""

from dexumi.validate.config import ValidateConfig, load_config
from dexumi.validate.episode import validate_file
from dexumi.validate.result import CheckResult, EpisodeReport
from dexumi.validate.runner import ValidationRun, validate_paths

__all__ = [
    "CheckResult",
    "EpisodeReport",
    "ValidateConfig",
    "ValidationRun",
    "load_config",
    "validate_file",
    "validate_paths",
]

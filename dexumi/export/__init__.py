"""Exporting episodes to training formats: LeRobot v3.0, robomimic, ACT/ALOHA (streaming, crash-safe)."""

from dexumi.export.plan import FORMATS, ExportOptions, parse_size
from dexumi.export.run import ExportSummary, export_paths

__all__ = ["FORMATS", "ExportOptions", "ExportSummary", "export_paths", "parse_size"]

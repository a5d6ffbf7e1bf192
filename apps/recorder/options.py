"""What the recorder records from: the command line's choices, turned into the session process's config."""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any


@dataclass
class RecorderOptions:
    """The recorder's inputs (from `dexumi record` arguments, the setup panel, or a test)."""

    out: Path
    sim: bool = False
    port: str | None = None
    cameras: list[str] = field(default_factory=list)
    hand: str | None = None
    profile: Path | None = None
    map: Path | None = None
    task: str = ""
    operator: str = ""
    protocol: str = "auto"
    rate: float | None = None
    channels: int = 6
    seed: int = 0
    min_free_mb: float = 200.0
    sim_extra_args: list[str] = field(default_factory=list)  # emulator faults (tests)
    sim_truth: Path | None = None  # emulator ground truth (tests)
    screenshot: Path | None = None
    screenshot_after_s: float = 4.0
    settings_path: Path | None = None  # QSettings ini file (tests); default: the user's settings

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RecorderOptions:
        g = lambda k, d=None: getattr(args, k, d)  # noqa: E731 - record.py may not define every option
        return cls(out=Path(args.out), sim=bool(g("sim", False)), port=g("port"), cameras=list(g("camera", []) or []),
                   hand=g("hand"), profile=g("profile"), map=g("map"), task=g("task", "") or "",
                   operator=g("operator", "") or "", protocol=g("protocol", "auto") or "auto", rate=g("rate"),
                   channels=int(g("channels", 6) or 6), seed=int(g("sim_seed", g("seed", 0)) or 0),
                   min_free_mb=float(g("min_free_mb", 200.0) or 0.0), screenshot=g("screenshot"),
                   screenshot_after_s=float(g("screenshot_after", 4.0) or 4.0))


def session_config(opts: RecorderOptions) -> dict[str, Any]:
    """The `open` request's config (SessionConfig fields as JSON), profile loaded the way `record --headless` does."""
    from apps.cli.commands.record import _config

    ns = argparse.Namespace(out=opts.out, sim=opts.sim or opts.port == "sim", port=opts.port, camera=list(opts.cameras),
                            channels=opts.channels, sim_seed=opts.seed, protocol=opts.protocol, rate=opts.rate,
                            hand=opts.hand, map=opts.map, task=opts.task, operator=opts.operator,
                            min_free_mb=opts.min_free_mb, profile=opts.profile)
    cfg = _config(ns)
    cfg.sim_extra_args = [*cfg.sim_extra_args, *opts.sim_extra_args]  # after the profile's
    cfg.sim_truth = opts.sim_truth
    d = {k: getattr(cfg, k) for k in cfg.__dataclass_fields__}
    if d.get("calibration") is not None and is_dataclass(d["calibration"]):
        d["calibration"] = asdict(d["calibration"])
    return {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v) for k, v in d.items()}

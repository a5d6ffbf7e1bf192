"""What the recorder records from: the command line's choices, turned into the session process's config."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
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
    require: list[str] = field(default_factory=list)  # streams that must be live for an episode to start
    lsl: list[str] = field(default_factory=list)  # lsl:NAME streams to record
    lsl_outlets: bool = False
    pose: list[str] = field(default_factory=list)  # wrist-pose specs to record (`pose:sim`, ...; docs/pose.md)
    control: str | None = None  # HOST:PORT of the TCP remote control (the session process serves it)
    token: str | None = None
    allow_remote: bool = False
    duration: float | None = None  # auto-stop each episode after this many seconds
    episodes: int | None = None  # auto-advance: record this many, the reset timer between them
    reset_s: float | None = None  # reset time between episodes (default: the settings file's, else 0)
    keys: Path | None = None  # recorder settings file (keys, pacing, sound); default ~/.config/dexumi/recorder.toml
    tasks: Path | None = None  # task list with target counts (YAML)
    mute: bool = False
    rerun: str | None = None  # None: off; "": spawn a viewer; a path: save the live stream to that .rrd
    devices: list[str] = field(default_factory=list)  # several devices: ROLE=PORT[,k=v] (docs/recording.md)
    sim_devices: list[str] = field(default_factory=list)  # --sim: ROLE[:PROTOCOL],...
    sim_tactile_rate: float = 100.0

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RecorderOptions:
        g = lambda k, d=None: getattr(args, k, d)
        return cls(
            out=Path(args.out),
            sim=bool(g("sim", False)),
            port=g("port"),
            cameras=list(g("camera", []) or []),
            hand=g("hand"),
            profile=g("profile"),
            map=g("map"),
            task=g("task", "") or "",
            operator=g("operator", "") or "",
            protocol=g("protocol", "auto") or "auto",
            rate=g("rate"),
            channels=int(g("channels", 6) or 6),
            seed=int(g("sim_seed", g("seed", 0)) or 0),
            min_free_mb=float(g("min_free_mb", 200.0) or 0.0),
            screenshot=g("screenshot"),
            screenshot_after_s=float(g("screenshot_after", 4.0) or 4.0),
            require=list(g("require", []) or []),
            lsl=list(g("lsl", []) or []),
            lsl_outlets=bool(g("lsl_outlets", False)),
            pose=list(g("pose", []) or []),
            control=g("control"),
            token=g("token"),
            allow_remote=bool(g("allow_remote", False)),
            duration=g("duration"),
            episodes=g("episodes"),
            reset_s=g("reset"),
            keys=g("keys"),
            tasks=g("tasks"),
            mute=bool(g("mute", False)),
            rerun=g("rerun"),
            devices=_devices(g("device_file"), g("device", [])),
            sim_devices=list(g("sim_devices", []) or []),
            sim_tactile_rate=float(g("sim_tactile_rate", 100.0) or 100.0),
        )


def _devices(device_file: Path | None, device: list[str] | None) -> list[str]:
    from dexumi.session.device_set import device_file_specs

    return [*device_file_specs(device_file), *(device or [])]


def session_config(opts: RecorderOptions) -> dict[str, Any]:
    """The `open` request's config (SessionConfig fields as JSON), the profile merged as `record --headless` does."""
    from dexumi.session.config import SessionConfig
    from dexumi.session.device_set import apply_device_profiles
    from firmware_bridge.transports import is_sim_port

    sim = opts.sim or is_sim_port(opts.port)
    cfg = SessionConfig(
        out_dir=opts.out,
        port=None if sim else opts.port,
        cameras=list(opts.cameras),
        sim=sim,
        sim_channels=opts.channels,
        sim_seed=opts.seed,
        protocol=opts.protocol,
        encoder_rate_hz=opts.rate,
        hand=opts.hand,
        map_path=opts.map,
        task=opts.task,
        operator=opts.operator,
        min_free_mb=opts.min_free_mb,
        required_streams=list(opts.require),
        lsl_streams=list(opts.lsl),
        lsl_outlets=opts.lsl_outlets,
        pose_sources=list(opts.pose),
        devices=list(opts.devices),
        sim_devices=list(opts.sim_devices),
        sim_tactile_rate_hz=opts.sim_tactile_rate,
    )
    if opts.profile is not None:
        cfg.apply_profile(opts.profile)
    apply_device_profiles(cfg)  # as `record --headless`: after the profile
    cfg.sim_extra_args = [*cfg.sim_extra_args, *opts.sim_extra_args]  # after the profile's
    cfg.sim_truth = opts.sim_truth
    return cfg.to_wire()


def host_argv(opts: RecorderOptions) -> list[str]:
    """Extra arguments of the session process: the TCP remote control when asked for."""
    if not opts.control:
        return []
    out = ["--tcp", opts.control]
    if opts.token:
        out += ["--token", opts.token]
    if opts.allow_remote:
        out.append("--allow-remote")
    return out

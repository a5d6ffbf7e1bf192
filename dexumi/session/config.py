"""Configuration and status of a recording session (plain dataclasses, JSON-friendly)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from dexumi.types import EncoderCalibration


@dataclass
class SessionConfig:
    """What the session records from and where. Profiles are loaded by the caller (apps) into plain data."""

    out_dir: Path
    port: str | None = None  # encoder port; None with sim=True: the emulator is started
    cameras: list[str] = field(default_factory=list)  # camera specs (`0`, `/dev/video2`, `sim:...`, `file:PATH`)
    sim: bool = False  # emulator + two sim cameras sharing the motion epoch
    sim_channels: int = 6
    sim_rate_hz: float = 1000.0
    sim_seed: int = 0
    sim_camera_fps: float = 30.0
    sim_camera_size: tuple[int, int] = (640, 480)
    sim_camera_latency_s: float = 0.04
    sim_camera: str = "auto"  # auto (the 3D world where it renders, else flat) | world | flat; env DEXUMI_SIM_CAMERA
    sim_world_size: tuple[int, int] = (320, 240)  # world cameras' size under --sim (cheap on 2 cores)
    sim_world_prerender_s: float = 0.0  # > 0: world cameras pre-render this long a clip, then play it
    sim_extra_args: list[str] = field(default_factory=list)  # more emulator options (faults, ...)
    sim_truth: Path | None = None  # emulator ground-truth log (tests)
    protocol: str = "auto"
    encoder_rate_hz: float | None = None
    calibration: EncoderCalibration | None = None
    latencies_s: dict[str, float] = field(default_factory=dict)  # stream name → latency ("encoder", camera names)
    profile_id: str = ""
    profile_yaml: str = ""
    hand: str | None = None  # robot hand (bundled name); picks the bundled map when no map is given
    map_path: Path | None = None
    camera_width: int = 1280
    camera_height: int = 800
    camera_fps: float = 60.0
    main_camera: str | None = None
    task: str = ""
    operator: str = ""
    min_free_mb: float = 200.0  # stop recording (cleanly) below this much free disk
    flush_interval_s: float = 0.25
    poll_interval_s: float = 0.05
    device_timeout_s: float = 15.0
    recover_on_start: bool = True
    drift_every: int = 5  # check calibration drift every N episodes
    required_streams: list[str] = field(default_factory=list)  # a recording does not start while one is missing
    lsl_streams: list[str] = field(default_factory=list)  # `lsl:NAME` extra streams to record
    lsl_outlets: bool = False  # publish encoder samples, frame indices and episode markers over LSL
    pose_sources: list[str] = field(default_factory=list)  # wrist-pose specs (`pose:sim`, `pose:udp:9870`, ...)
    # several devices (issue 17; dexumi.session.device_set): `ROLE=PORT[,protocol=..][,map=..][,hand=..]`
    devices: list[str] = field(default_factory=list)
    sim_devices: list[str] = field(default_factory=list)  # --sim: `ROLE[:PROTOCOL]`, e.g. exo_right, tactile_right:fsr
    sim_tactile_rate_hz: float = 100.0  # --sim tactile boards' frame rate
    sim_device_args: dict[str, list[str]] = field(default_factory=dict)  # role → more emulator options (tests)
    device_calibrations: dict[str, EncoderCalibration] = field(default_factory=dict)  # role → profile's calibration

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["calibration"] = None if self.calibration is None else self.calibration.profile_id or "given"
        d["device_calibrations"] = {k: c.profile_id or "given" for k, c in self.device_calibrations.items()}
        d["profile_yaml"] = bool(self.profile_yaml)
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()}


@dataclass
class StreamStatus:
    name: str
    kind: str  # encoder | camera
    connected: bool
    rate_hz: float
    nominal_rate_hz: float
    samples: int  # since the session opened
    in_episode: int  # samples/frames written to the current episode
    dropped: int  # missing samples / dropped frames since the session opened
    gaps: int
    reconnects: int
    last_data_age_s: float
    drift_ppm: float = 0.0
    residual_ms: float = 0.0
    episode_dropped: int = 0  # drops in the current episode (when idle: in the last finished one)


@dataclass
class SessionStatus:
    """A snapshot for status displays: one call, no locks held by the caller."""

    state: str  # idle | recording | closed | error
    out_dir: str
    episode: int | None  # number of the episode being recorded
    episode_path: str | None
    elapsed_s: float  # of the current episode
    last_episode: str | None  # path of the last finished episode
    episodes_recorded: int
    disk_free_mb: float
    min_free_mb: float
    streams: list[StreamStatus]
    errors: list[str]
    outcome: str = "unknown"
    notes: str = ""
    quality: list[str] = field(default_factory=list)  # last episode: latency self-check, calibration drift
    pose: list[dict] = field(default_factory=list)  # per pose source: dexumi.session.pose_bridge.PoseHealth

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for s in d["streams"]:
            if s["last_data_age_s"] == float("inf"):
                s["last_data_age_s"] = None
        return d

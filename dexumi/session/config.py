"""Configuration and status of a recording session (plain dataclasses, JSON-friendly).

`SessionConfig.to_wire()` / `SessionConfig.from_wire()` are its one serialisation (the recorder's `open`
request, the session server); `to_json()` is the summary kept in each episode file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dexumi.errors import DexumiError
from dexumi.types import EncoderCalibration

_PATHS = ("out_dir", "sim_truth", "map_path")
_PAIRS = ("sim_camera_size", "sim_world_size")

if TYPE_CHECKING:
    from dexumi.profile import Profile


def _calibration(c: EncoderCalibration | dict[str, Any]) -> EncoderCalibration:
    """An EncoderCalibration from its `asdict` form (as `to_wire` writes it); one already made as it is."""
    if isinstance(c, EncoderCalibration):
        return c
    return EncoderCalibration(
        tuple(c["zero_rad"]),
        tuple(c["sign"]),
        tuple(c["scale_rad_per_count"]),
        bool(c.get("wrap", False)),
        str(c.get("profile_id", "")),
    )


@dataclass
class SessionConfig:
    """What the session records from and where; `from_profile` merges a calibration profile into it."""

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

    def to_wire(self) -> dict[str, Any]:
        """Every field as plain JSON (paths as strings, pairs as lists, calibration as a dict): `from_wire`
        gives this config back."""
        d = asdict(self)
        return {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v) for k, v in d.items()}

    @classmethod
    def from_wire(cls, d: dict[str, Any]) -> SessionConfig:
        """The config from `to_wire()`'s JSON; DexumiError (one line) for unknown keys or no out_dir."""
        d = dict(d)
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise DexumiError(f"unknown session config key(s): {', '.join(unknown)}")
        if "out_dir" not in d:
            raise DexumiError("session config needs out_dir")
        for k in _PATHS:
            if d.get(k) is not None:
                d[k] = Path(d[k])
        for k in _PAIRS:
            if d.get(k) is not None:
                d[k] = tuple(d[k])
        if d.get("calibration") is not None:
            d["calibration"] = _calibration(d["calibration"])
        if d.get("device_calibrations"):  # several devices: role → calibration (dexumi.session.device_set)
            d["device_calibrations"] = {k: _calibration(c) for k, c in d["device_calibrations"].items()}
        return cls(**d)

    def __post_init__(self) -> None:
        if self.sim and self.port not in (None, "sim") and self.port.startswith("sim:"):
            from dexumi.errors import DexumiError

            raise DexumiError(
                f"--port {self.port}: a simulated recording takes its emulator settings from --channels, "
                "--sim-seed and the profile, not from port options (those are for `dexumi stream`)"
            )

    def apply_profile(self, profile: Profile | str | Path) -> SessionConfig:
        """Merge a calibration profile (or its file) in place: encoder calibration, latencies, its id and text;
        the profile's hand and joint map unless a hand or map is already chosen; under `sim`, the simulated
        exoskeleton the profile was made on. Returns self."""
        from dexumi.profile import Profile, load_profile

        prof = profile if isinstance(profile, Profile) else load_profile(profile)
        self.calibration = prof.encoder_calibration()
        self.latencies_s = dict(prof.latencies_s)
        self.profile_id = prof.id
        self.profile_yaml = prof.to_yaml()
        if self.hand is None and self.map_path is None and prof.hand:
            self.hand = prof.hand
        if self.map_path is None and prof.mapping:
            mp = Path(prof.mapping)
            if not mp.is_absolute() and prof.source is not None:
                mp = Path(prof.source).parent / mp
            if mp.is_file():
                self.map_path = mp
        if self.sim:
            from dexumi.devices.simexo import sim_exoskeleton_args

            self.sim_channels = self.calibration.channels
            self.sim_extra_args = [*sim_exoskeleton_args(prof.device, self.sim_channels), *self.sim_extra_args]
        return self

    @classmethod
    def from_profile(cls, profile: Profile | str | Path, **fields: Any) -> SessionConfig:
        """A config of `fields` (out_dir, port, cameras, sim, ...) with the profile merged in (`apply_profile`)."""
        return cls(**fields).apply_profile(profile)

    def to_json(self) -> dict[str, Any]:
        """The summary kept in an episode file: the calibration by its id, the profile text as a flag."""
        d = self.to_wire()
        d["calibration"] = None if self.calibration is None else self.calibration.profile_id or "given"
        d["device_calibrations"] = {k: c.profile_id or "given" for k, c in self.device_calibrations.items()}
        d["profile_yaml"] = bool(self.profile_yaml)
        return d


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

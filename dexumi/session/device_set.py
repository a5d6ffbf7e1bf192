"""Several devices in one session (issue 17): exoskeletons and tactile boards by role.

`--device ROLE=PORT[,protocol=P][,map=FILE][,hand=NAME][,profile=FILE][,rate=HZ]` (repeatable) names each
device by its role — `exo_right`, `exo_left`, `tactile_right`, … (`exo_SIDE` | `tactile_SIDE`). The first
exoskeleton is the session's primary encoder (recorded as `/raw/encoder`, with a `role` attribute); every
further device gets its own reader thread (the encoder driver: receive stamps, clock fit and segments,
reconnects and gaps) and its own `/raw/<role>` group. Under `--sim`, `--sim-devices ROLE[:PROTOCOL],…`
starts one emulator process per role, all on the session's motion epoch.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dexumi.devices.encoder import EncoderConfig, EncoderDriver
from dexumi.episode.device_stream import DeviceLayout, split_role
from dexumi.errors import DexumiError
from dexumi.session.config import SessionConfig, StreamStatus
from dexumi.types import EncoderBatch, GapEvent

if TYPE_CHECKING:
    from dexumi.devices.sim import SimDeviceProcess

log = logging.getLogger(__name__)
EXO_PROTOCOLS = ("auto", "v1", "legacy")
KEYS = ("protocol", "map", "hand", "profile", "rate")


@dataclass
class DeviceSpec:
    role: str
    port: str
    protocol: str = ""  # "" → auto (exo) | xhand-tactile (tactile)
    map_path: Path | None = None
    hand: str | None = None
    profile: Path | None = None
    rate_hz: float | None = None

    @property
    def kind(self) -> str:
        return split_role(self.role)[0]

    @property
    def side(self) -> str:
        return split_role(self.role)[1]


def _check_protocol(role: str, kind: str, protocol: str) -> str:
    from dexumi.devices.tactile import TACTILE_PROTOCOLS

    if kind == "exo":
        protocol = protocol or "auto"
        if protocol not in EXO_PROTOCOLS:
            raise DexumiError(
                f"--device {role}: protocol must be {', '.join(EXO_PROTOCOLS)} for an exoskeleton, not {protocol!r}"
            )
    else:
        protocol = protocol or "xhand-tactile"
        if protocol not in TACTILE_PROTOCOLS:
            raise DexumiError(
                f"--device {role}: protocol must be {' or '.join(TACTILE_PROTOCOLS)} for a tactile "
                f"board, not {protocol!r}"
            )
    return protocol


def parse_device(text: str) -> DeviceSpec:
    """`ROLE=PORT[,key=value…]` → DeviceSpec; a DexumiError (one line) for anything malformed."""
    head, _, rest = text.partition(",")
    role, eq, port = head.partition("=")
    role, port = role.strip(), port.strip()
    if not eq or not port:
        raise DexumiError(f"--device {text!r}: expected ROLE=PORT[,protocol=..][,map=..][,hand=..][,profile=..]")
    try:
        kind, _ = split_role(role)
    except ValueError as exc:
        raise DexumiError(f"--device: {exc}") from None
    opts: dict[str, str] = {}
    for item in filter(None, (x.strip() for x in rest.split(","))):
        k, eq, v = item.partition("=")
        if not eq or k not in KEYS or not v:
            raise DexumiError(f"--device {role}: unknown option {item!r} (options: {', '.join(KEYS)})")
        opts[k] = v
    if kind == "tactile" and ({"map", "hand", "profile"} & set(opts)):
        raise DexumiError(f"--device {role}: a tactile board takes protocol= and rate= only")
    rate = None
    if "rate" in opts:
        try:
            rate = float(opts["rate"])
        except ValueError:
            raise DexumiError(f"--device {role}: rate={opts['rate']!r} is not a number") from None
    return DeviceSpec(
        role,
        port,
        _check_protocol(role, kind, opts.get("protocol", "")),
        Path(opts["map"]) if "map" in opts else None,
        opts.get("hand"),
        Path(opts["profile"]) if "profile" in opts else None,
        rate,
    )


def apply_device_profiles(cfg: SessionConfig) -> SessionConfig:
    """`--device ROLE=PORT,profile=FILE`: that device's encoder calibration, and the profile's encoder latency
    as the role's (unless one is set). Returns `cfg`."""
    from dexumi.profile import load_profile

    for text in cfg.devices:
        spec = parse_device(text)
        if spec.profile is None:
            continue
        prof = load_profile(spec.profile)
        cfg.device_calibrations[spec.role] = prof.encoder_calibration()
        for k, v in prof.latencies_s.items():
            if k == "encoder":
                cfg.latencies_s.setdefault(spec.role, float(v))
    return cfg


def device_file_specs(path: Path | None) -> list[str]:
    """`--device-file FILE`'s device specs (none without a file)."""
    return [] if path is None else load_device_file(path)


def load_device_file(path: Path) -> list[str]:
    """A session's devices from a YAML file, as `--device` texts:

    devices:
      - {role: exo_right, port: /dev/serial/by-id/usb-exo-right, map: maps/xhand.yaml}
      - {role: exo_left, port: /dev/serial/by-id/usb-exo-left, protocol: v1, rate: 2000}
      - {role: tactile_right, port: /dev/ttyUSB0, protocol: xhand-tactile}
    """
    from dexumi.safe_yaml import safe_load

    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DexumiError(f"--device-file {p}: cannot read it ({type(exc).__name__})") from None
    try:
        doc = safe_load(text, str(p))
    except Exception as exc:  # noqa: BLE001 - safe_yaml raises DexumiError or yaml errors: one line either way
        raise DexumiError(
            f"--device-file {p}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        ) from None
    items = doc.get("devices") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
        raise DexumiError(f"--device-file {p}: expected a 'devices:' list of {{role: ..., port: ...}} entries")
    out = []
    for k, item in enumerate(items):
        if not isinstance(item.get("role"), str) or not isinstance(item.get("port"), str):
            raise DexumiError(f"--device-file {p}: entry {k + 1} needs a role and a port")
        extra = [f"{key}={item[key]}" for key in KEYS if item.get(key) is not None]
        unknown = sorted(set(item) - {"role", "port", *KEYS})
        if unknown:
            raise DexumiError(f"--device-file {p}: entry {k + 1} ({item['role']}): unknown key(s) {', '.join(unknown)}")
        rel = [
            e
            if not e.startswith(("map=", "profile=")) or Path(e.split("=", 1)[1]).is_absolute()
            else e.split("=", 1)[0] + "=" + str(p.parent / e.split("=", 1)[1])
            for e in extra
        ]
        out.append(",".join([f"{item['role']}={item['port']}", *rel]))
    return out


def parse_sim_devices(items: list[str]) -> list[DeviceSpec]:
    """`exo_right,exo_left,tactile_right:fsr` (also repeated) → specs whose port is `sim`."""
    out = []
    for item in [x.strip() for it in items for x in it.split(",") if x.strip()]:
        role, _, proto = item.partition(":")
        try:
            kind, _ = split_role(role)
        except ValueError as exc:
            raise DexumiError(f"--sim-devices: {exc}") from None
        out.append(DeviceSpec(role, "sim", _check_protocol(role, kind, proto)))
    return out


def plan_devices(cfg: SessionConfig) -> tuple[DeviceSpec | None, list[DeviceSpec]]:
    """(the primary exoskeleton, the further devices) of a configuration; checks roles are unique."""
    specs = parse_sim_devices(cfg.sim_devices) if cfg.sim else []
    specs += [parse_device(d) for d in cfg.devices]
    seen: set[str] = set()
    sides: set[tuple[str, str]] = set()
    for s in specs:
        if s.role in seen:
            raise DexumiError(f"device role {s.role} given twice")
        if (s.kind, s.side) in sides:
            raise DexumiError(f"two {s.kind} devices for side {s.side or '(none)'}: give each its own role")
        seen.add(s.role)
        sides.add((s.kind, s.side))
    primary = next((s for s in specs if s.kind == "exo"), None)
    if primary is not None and cfg.port is not None and primary.port != "sim" and not cfg.sim:
        raise DexumiError(f"give the exoskeleton either as --port or as --device {primary.role}=PORT, not both")
    return primary, [s for s in specs if s is not primary]


def apply_primary(cfg: SessionConfig, primary: DeviceSpec | None) -> str:
    """Let the primary exoskeleton's spec drive the session's own encoder settings; returns its role."""
    if primary is None:
        return "exo" if (cfg.devices or cfg.sim_devices) else ""
    if primary.port != "sim":
        cfg.port = primary.port
        cfg.protocol = primary.protocol
        cfg.encoder_rate_hz = primary.rate_hz or cfg.encoder_rate_hz
    cfg.map_path = primary.map_path or cfg.map_path
    cfg.hand = primary.hand or cfg.hand
    if primary.role in cfg.device_calibrations and cfg.calibration is None:
        cfg.calibration = cfg.device_calibrations[primary.role]
    if primary.role in cfg.latencies_s:
        cfg.latencies_s.setdefault("encoder", cfg.latencies_s[primary.role])
    return primary.role


@dataclass
class DeviceHandle:
    spec: DeviceSpec
    driver: EncoderDriver
    layout: DeviceLayout
    retargeter: object | None = None
    sim: SimDeviceProcess | None = None
    gaps_seen: int = 0
    total: int = 0


@dataclass
class DeviceSet:
    """The further devices of a session: `read()` every poll, `layouts()` for a new episode, `close()`."""

    handles: list[DeviceHandle] = field(default_factory=list)

    @classmethod
    def open(
        cls, specs: list[DeviceSpec], cfg: SessionConfig, sim_epoch: float | None, calibrations: dict | None = None
    ) -> DeviceSet:
        ds = cls()
        try:
            for k, spec in enumerate(specs):
                ds.handles.append(_open_one(spec, k, cfg, sim_epoch, (calibrations or {}).get(spec.role)))
            ds.wait_for_data(cfg.device_timeout_s)
        except BaseException:
            ds.close()
            raise
        return ds

    def wait_for_data(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        pending = {h.spec.role for h in self.handles}
        while pending and time.monotonic() < deadline:
            for h in self.handles:
                if h.spec.role in pending and h.driver.stats().samples > 0:
                    pending.discard(h.spec.role)
            time.sleep(0.02)
        if pending:
            raise DexumiError(f"no data within {timeout_s:g} s from: {', '.join(sorted(pending))}")

    def layouts(self) -> list[DeviceLayout]:
        return [h.layout for h in self.handles]

    def retargeters(self) -> dict[str, object]:
        return {h.spec.role: h.retargeter for h in self.handles if h.retargeter is not None}

    def read(self) -> dict[str, list[EncoderBatch]]:
        out = {}
        for h in self.handles:
            b = h.driver.read()
            h.total += sum(len(x) for x in b)
            out[h.spec.role] = b
        return out

    def new_gaps(self) -> dict[str, list[GapEvent]]:
        out = {}
        for h in self.handles:
            g = h.driver.stats().gap_events
            out[h.spec.role] = g[h.gaps_seen :]
            h.gaps_seen = len(g)
        return out

    def mark_gaps_seen(self) -> None:
        for h in self.handles:
            h.gaps_seen = len(h.driver.stats().gap_events)

    def statuses(self, in_episode: dict[str, int] | None = None) -> list[StreamStatus]:
        out = []
        for h in self.handles:
            s = h.driver.stats()
            out.append(
                StreamStatus(
                    h.spec.role,
                    "tactile" if h.spec.kind == "tactile" else "encoder",
                    s.connected,
                    s.rate_hz,
                    s.nominal_rate_hz,
                    h.total,
                    (in_episode or {}).get(h.spec.role, 0),
                    s.missing_samples + s.overflows,
                    s.gaps + len(s.gap_events),
                    s.reconnects,
                    s.last_data_age_s,
                    s.drift_ppm,
                    s.residual_ms,
                )
            )
        return out

    def close(self) -> None:
        for h in self.handles:
            try:
                h.driver.close()
            except Exception as exc:  # noqa: BLE001 - closing must reach every device
                log.warning("%s: close failed: %s", h.spec.role, exc)
            if h.sim is not None:
                h.sim.stop()
        self.handles = []


def _sim_process(spec: DeviceSpec, k: int, cfg: SessionConfig, epoch: float | None):
    from dexumi.devices.sim import SimDeviceProcess

    seed = cfg.sim_seed + 1 + k
    args: list[object] = ["--device-id", f"SIM-{spec.role}"]
    if epoch is not None:
        args += ["--motion-epoch", repr(epoch)]
    if spec.kind == "tactile":  # the contact follows the grasp of the same side's simulated hand
        args += ["--protocol", spec.protocol, "--rate", cfg.sim_tactile_rate_hz, "--seed", seed, "--motion", "grasp"]
    else:
        args += ["--channels", cfg.sim_channels, "--rate", cfg.sim_rate_hz, "--seed", seed]
    args += list(cfg.sim_device_args.get(spec.role, []))
    truth = None
    if cfg.sim_truth is not None:
        t = Path(cfg.sim_truth)
        truth = t.with_name(f"{t.stem}.{spec.role}{t.suffix}")
    return SimDeviceProcess(*args, truth=truth)


def _open_one(spec: DeviceSpec, k: int, cfg: SessionConfig, epoch: float | None, calibration) -> DeviceHandle:
    from dexumi.devices.tactile import TactileDriver, channel_names, channel_unit

    sim = _sim_process(spec, k, cfg, epoch) if spec.port == "sim" else None
    port = sim.port if sim is not None else spec.port
    try:
        if spec.kind == "tactile":
            drv: EncoderDriver = TactileDriver(EncoderConfig(port, spec.protocol, rate_hz=spec.rate_hz, name=spec.role))
        else:
            rate = spec.rate_hz or (cfg.sim_rate_hz if sim is not None else None)
            drv = EncoderDriver(EncoderConfig(port, spec.protocol or "auto", None, rate, calibration, name=spec.role))
        from dexumi.devices.coalesce import coalesce

        coalesce(drv)  # fewer, larger reads (dexumi/devices/coalesce.py)
        drv.start()
    except BaseException:
        if sim is not None:
            sim.stop()
        raise
    try:
        lat = float(cfg.latencies_s.get(spec.role, 0.0))
        info = getattr(drv, "info", None)
        device = (info.device_id if info is not None else "") + f" @ {port}"
        if spec.kind == "tactile":
            layout = DeviceLayout(
                spec.role,
                spec.protocol,
                drv.channels,
                channel_names(spec.protocol),
                channel_unit(spec.protocol),
                drv.stats().nominal_rate_hz,
                lat,
                port,
                device,
            )
            return DeviceHandle(spec, drv, layout, None, sim)
        from dexumi.session.retarget import choose_map, load_retargeter

        joints = drv.joints
        rt, map_yaml = load_retargeter(choose_map(spec.map_path, spec.hand, joints), joints)
        names = list(rt.channels) if rt is not None else [f"ch{i}" for i in range(joints)]
        layout = DeviceLayout(
            spec.role,
            drv.protocol,
            joints,
            names,
            "rad",
            drv.stats().nominal_rate_hz,
            lat,
            port,
            device,
            map_yaml,
            list(rt.robot_joint_names) if rt is not None else [],
            drv.channels,
        )
        return DeviceHandle(spec, drv, layout, rt, sim)
    except BaseException:
        drv.close()
        if sim is not None:
            sim.stop()
        raise

"""Opening the session's devices: the encoder (or the emulator), cameras with their grabber threads."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from dexumi.devices.cameras.base import exposure_times
from dexumi.devices.encoder import EncoderConfig, EncoderDriver
from dexumi.devices.sim import SimDeviceProcess
from dexumi.errors import DexumiError
from dexumi.session.config import SessionConfig
from dexumi.types import CameraFrame

if TYPE_CHECKING:
    from dexumi.devices.cameras import FrameGrabber

log = logging.getLogger(__name__)


@dataclass
class CameraDevice:
    name: str
    spec: str
    grabber: FrameGrabber
    latency_s: float
    width: int
    height: int
    fps: float
    encoding: str
    host_clock_device_time: bool

    def mapped_times(self, frames: list[CameraFrame]) -> np.ndarray:
        """Exposure times on the recording clock: (device time if on the host clock, else grab time) − latency."""
        return exposure_times(frames, self.host_clock_device_time, self.latency_s)


@dataclass
class Devices:
    encoder: EncoderDriver
    cameras: list[CameraDevice] = field(default_factory=list)
    sim: SimDeviceProcess | None = None
    sim_cameras: list[object] = field(default_factory=list)  # SimCamera/WorldCamera sources (truth() for tests)
    sim_epoch: float | None = None  # --sim: host time at which the simulated motion starts (pose:sim shares it)

    def close(self) -> None:
        for cam in self.cameras:
            try:
                cam.grabber.close()
            except Exception as exc:  # noqa: BLE001 - closing must reach every device
                log.warning("camera %s: close failed: %s", cam.name, exc)
        try:
            self.encoder.close()
        except Exception as exc:  # noqa: BLE001 - closing must reach the emulator too
            log.warning("encoder: close failed: %s", exc)
        if self.sim is not None:
            self.sim.stop()


def _use_world(cfg: SessionConfig) -> bool:
    """--sim films the 3D world (dexumi.sim) where offscreen rendering works; one line says why not."""
    import os

    choice = os.environ.get("DEXUMI_SIM_CAMERA", "") or cfg.sim_camera
    if choice == "flat":
        return False
    from dexumi.devices.cameras.world import world_available

    ok, why = world_available()
    if not ok:
        if choice == "world":
            raise DexumiError(f"--sim world cameras: {why}")
        log.warning("--sim: using the flat sim camera, not the 3D world: %s", why)
    return ok


def _sim_camera_specs(cfg: SessionConfig, epoch: float, motion: str = "grasp") -> list[str]:
    ms = cfg.sim_camera_latency_s * 1e3
    if _use_world(cfg):
        w, h = cfg.sim_world_size
        pre = f",prerender={cfg.sim_world_prerender_s:g}s" if cfg.sim_world_prerender_s > 0 else ""
        return [
            f"world:name=wrist{i},latency={ms:g}ms,fps={cfg.sim_camera_fps:g},width={w},height={h},"
            f"seed={cfg.sim_seed},epoch={epoch!r},joints={cfg.sim_channels},motion={motion}{pre}"
            for i in range(2)
        ]
    w, h = cfg.sim_camera_size
    return [
        f"sim:name=wrist{i},latency={ms:g}ms,fps={cfg.sim_camera_fps:g},width={w},height={h},"
        f"seed={cfg.sim_seed},epoch={epoch!r},joints={cfg.sim_channels},motion={motion}"
        for i in range(2)
    ]


def _share_sim_motion(sources: list, epoch: float, motion: str) -> None:
    """Under --sim, the sim and world cameras given as specs film the session's motion, not their own: those
    whose spec sets no epoch start their script at the emulator's epoch (as pose:sim does), and those with the
    default motion get the session's (the exoskeleton's joint ranges). Without this a camera's world runs
    seconds apart from the encoder's and the wrist pose's, and every latency measured against them is wrong."""
    from dexumi.devices.cameras.sim import SimCameraConfig
    from dexumi.devices.cameras.world import WorldCameraConfig

    for src in sources:
        c = getattr(src, "config", None)
        if isinstance(c, SimCameraConfig | WorldCameraConfig) and c.epoch is None:
            c.epoch = epoch
            if c.motion == type(c).motion:
                c.motion = motion


def open_devices(cfg: SessionConfig) -> Devices:
    """Start everything; on any failure, close what was started and raise."""
    from dexumi.devices.cameras.grabber import FrameGrabber
    from dexumi.devices.cameras.spec import make_camera

    sim = None
    specs = list(cfg.cameras)
    latencies = dict(cfg.latencies_s)
    port = cfg.port
    if cfg.sim:
        from dexumi.session.simmotion import sim_motion_spec

        motion = sim_motion_spec(cfg.map_path, cfg.hand, cfg.sim_channels, cfg.sim_seed)
        epoch = time.monotonic() + 0.5
        if not specs:
            specs = _sim_camera_specs(cfg, epoch, motion)
            for i in range(len(specs)):
                latencies.setdefault(f"wrist{i}", cfg.sim_camera_latency_s)
    elif port is None:
        raise DexumiError("no encoder: give --port PORT (or --sim)")
    sources = [
        make_camera(spec, width=cfg.camera_width, height=cfg.camera_height, fps=cfg.camera_fps) for spec in specs
    ]
    if cfg.sim:
        _share_sim_motion(sources, epoch, motion)
    devices: Devices | None = None
    try:
        from dexumi.devices.cameras.world import WorldCamera

        for src in sources:  # render processes start together, and while the emulator starts: seconds each
            if isinstance(src, WorldCamera):
                src.launch()
        if cfg.sim:
            sim = SimDeviceProcess(
                "--channels",
                cfg.sim_channels,
                "--rate",
                cfg.sim_rate_hz,
                "--seed",
                cfg.sim_seed,
                "--motion",
                motion,
                "--motion-epoch",
                repr(epoch),
                *cfg.sim_extra_args,
                truth=cfg.sim_truth,
            )
            port = sim.port
        assert port is not None  # --sim gave one, else checked above
        devices = Devices(
            EncoderDriver(
                EncoderConfig(
                    port,
                    cfg.protocol,
                    None,
                    cfg.encoder_rate_hz or (cfg.sim_rate_hz if cfg.sim else None),
                    cfg.calibration,
                )
            ),
            sim=sim,
        )
        if cfg.sim:
            devices.sim_epoch = epoch
        devices.encoder.start()
        names: set[str] = set()
        clips = [src for src in sources if isinstance(src, WorldCamera) and src.mode == "prerendered"]
        if clips:  # pre-rendering world cameras render their clips together and start playing together
            leads = [clip.spawn() for clip in clips]
            start = time.monotonic() + max(leads)
            for clip in clips:
                clip.begin(start)
        for spec, src in zip(specs, sources):
            name = src.name
            k = 1
            while name in names:
                name, k = f"{src.name}_{k}", k + 1
            src.name = name
            names.add(name)
            grabber = FrameGrabber(src).start()
            g = src.granted
            cam = CameraDevice(
                name,
                spec,
                grabber,
                float(latencies.get(name, 0.0)),
                g.width if g else 0,
                g.height if g else 0,
                g.fps if g else 0.0,
                "jpeg",
                bool(getattr(src, "device_time_is_host_clock", False)),
            )
            devices.cameras.append(cam)
            if type(src).__name__ in ("SimCamera", "WorldCamera"):
                devices.sim_cameras.append(src)
    except BaseException:
        if devices is not None:
            devices.close()
        elif sim is not None:
            sim.stop()
        for src in sources:
            src.close()  # sources that never got a grabber (closing twice is safe)
        raise
    return devices


def wait_for_data(devices: Devices, timeout_s: float) -> None:
    """Block until every device has delivered data (frames are drained), or raise a one-line error."""
    deadline = time.monotonic() + timeout_s
    pending = {"encoder", *(c.name for c in devices.cameras)}
    while pending and time.monotonic() < deadline:
        if "encoder" in pending and devices.encoder.read(timeout=0.05):
            pending.discard("encoder")
        for cam in devices.cameras:
            if cam.name in pending and cam.grabber.read(timeout=0.0):
                pending.discard(cam.name)
        time.sleep(0.01)
    if pending:
        raise DexumiError(f"no data within {timeout_s:g} s from: {', '.join(sorted(pending))}")

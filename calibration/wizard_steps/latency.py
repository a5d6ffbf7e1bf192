"""Camera latency: the wrist camera films the moving exoskeleton; its lag behind the encoders is measured."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from calibration import encoders as enc
from calibration.wizard_steps.base import CaptureStep, RunOptions
from dexumi.devices.cameras.base import frame_stamp
from dexumi.errors import DexumiError

if TYPE_CHECKING:
    from calibration.latency import FrameCollector
    from calibration.profile import Profile
    from calibration.wizard_steps.run import CalibrationRun
    from dexumi.devices.cameras.base import CameraSource
    from dexumi.types import CameraFrame


class LatencyStep(CaptureStep):
    key = segment = "wave"
    title = "Camera latency"
    depends_on = ("encoders",)

    def __init__(self, options: RunOptions) -> None:
        super().__init__()
        self.options = options
        self.duration_s = options.wave_s
        self.instructions = (
            "Hold the exoskeleton in view of the wrist camera and move all fingers irregularly "
            f"(not in a rhythm) for {options.wave_s:g} s."
        )
        self.collector: FrameCollector | None = None

    def begin(self, run: CalibrationRun) -> None:
        from calibration.latency import FrameCollector

        super().begin(run)
        o = self.options
        src: CameraSource
        if run.options.sim:
            from dexumi.devices.cameras.sim import SimCamera, SimCameraConfig

            rig = run.rig
            assert rig is not None, "--sim: the run opens the simulated rig first"
            cfg = SimCameraConfig(
                o.camera_name,
                o.sim_latency_s,
                30.0,
                640,
                480,
                o.sim_seed,
                rig.epoch,
                motion=rig.motion().spec(),
                joints=len(run.poses.joints),
            )
            src = SimCamera(cfg)
            src.open(start_time=self.t0 - 0.4)
        elif o.camera:
            from dexumi.devices.cameras.spec import open_camera

            src = open_camera(o.camera)
        else:
            raise DexumiError("latency needs a camera: --camera SPEC (or --sim, or --skip latency)")
        self.host_clock = bool(getattr(src, "device_time_is_host_clock", False))
        self.collector = FrameCollector(src, until=self.t1 + 0.3).start()

    def finish(self, run: CalibrationRun) -> str:
        from calibration import latency

        frames: list[CameraFrame] = self.collector.stop() if self.collector else []
        if self.collector is not None:
            self.collector.source.close()
        if run.fit is None:
            raise DexumiError("latency: calibrate the encoders first")
        s = run.buffer.window(self.t0 - 0.5, self.t1 + 0.5)
        centers = run.centers()
        x = s.x if centers is None else enc.unwrap_around(s.x, centers, run.encoder_input.period)
        angles = run.fit.calibration().apply(x)
        frames = [f for f in frames if self.t0 - 0.3 <= frame_stamp(f) <= self.t1 + 0.5]
        if run.options.sim:
            self.result = latency.latency_from_sim_frames(self.options.camera_name, frames, s.time, angles)
        else:
            self.result = latency.latency_from_motion(self.options.camera_name, frames, s.time, angles, self.host_clock)
        self.summary = self.result.summary()
        return self.summary

    def contribute(self, profile: Profile, report: dict[str, Any], run: CalibrationRun) -> None:
        if self.result is not None:
            profile.latencies_s[self.result.stream] = float(self.result.latency_s)
            profile.latency_uncertainty_s[self.result.stream] = float(self.result.uncertainty_s)

"""A calibration run: the devices (the encoder, or the simulated rig), the steps in order, the profile."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from calibration import encoders as enc
from calibration.board import BoardSpec
from calibration.poses import HandPoses, hand_poses
from calibration.profile import Profile, new_profile_id, utc_now
from calibration.sim import SIM_DEVICE_ID
from calibration.wizard_steps.base import RunOptions, Step
from calibration.wizard_steps.camera import CameraStep
from calibration.wizard_steps.capture import HoldStep, SweepStep
from calibration.wizard_steps.encoder_fit import EncoderFitStep, ZeroCheckStep
from calibration.wizard_steps.jointmap import JointMapStep
from calibration.wizard_steps.latency import LatencyStep
from dexumi.errors import DexumiError
from dexumi.vocab import Protocol

if TYPE_CHECKING:
    from calibration.boardsim import Lens
    from calibration.sim import SimRig
    from dexumi.devices.encoder import EncoderDriver


class CalibrationRun:
    """Devices, steps and results of one calibration; `profile()` assembles the profile."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self.poses: HandPoses = hand_poses(options.exoskeleton)
        self.hand = options.hand or _pair_of(options.exoskeleton)
        self.rig: SimRig | None = None
        self.driver: EncoderDriver | None = None
        self.encoder_input = enc.EncoderInput("v1")
        self.buffer = enc.SampleBuffer(self.encoder_input)
        self.fit: enc.EncoderFit | None = None
        self.device: dict[str, Any] = {}
        self.sim_lens: Lens | None = None
        self.sim_world_board = False  # --sim: the camera step films the 3D world's board (calibration.worldboard)
        self._centers: np.ndarray | None = None
        self.steps: list[Step] = self._make_steps()

    # -------------------------------------------------------------------------------------- steps
    def _make_steps(self) -> list[Step]:
        o = self.options
        steps: list[Step] = [
            HoldStep(
                "flat",
                "Flat hand",
                "Lay the hand flat on the table, fingers together and straight, thumb alongside; hold still.",
                o.hold_s,
            ),
            HoldStep("fist", "Fist", "Make a fist, thumb over the fingers; hold still.", o.hold_s),
        ]
        if "spread" in self.poses.hold_poses:
            steps.append(
                HoldStep(
                    "spread", "Fingers spread", "Spread the fingers as far apart as they go; hold still.", o.hold_s
                )
            )
        fingers = ("thumb", "index", "middle", "ring", "little")
        for f in sorted(set(self.poses.fingers)):
            steps.append(SweepStep(fingers[f], o.sweep_s))
        steps.append(
            HoldStep(
                "opposition",
                "Thumb opposition",
                "Touch the tip of the thumb to the little finger's "
                "base (thumb fully rotated across the palm), other fingers flat; hold still.",
                o.hold_s,
            )
        )
        captures = tuple(s.key for s in steps)
        steps.append(EncoderFitStep(self.poses.hold_poses, captures))
        steps.append(ZeroCheckStep(o.hold_s))
        if "latency" not in o.skip:  # right after the zero check: in sim, the script's wave follows it
            steps.append(LatencyStep(o))
        if "jointmap" not in o.skip:
            steps.append(JointMapStep(o))
        if "camera" not in o.skip:
            steps.append(CameraStep(o))
        if o.handeye:
            from calibration.wizard_steps.handeye import HandEyeStep  # imported when asked for: it loads OpenCV

            steps.append(HandEyeStep(o))  # type: ignore[arg-type]
        return steps

    def step(self, key: str) -> Step:
        for s in self.steps:
            if s.key == key:
                return s
        raise DexumiError(f"no step '{key}' (steps: {', '.join(s.key for s in self.steps)})")

    def dependents(self, key: str) -> list[Step]:
        """Steps to redo after `key` is redone (transitively)."""
        out: list[Step] = []
        keys = {key}
        for s in self.steps:
            if set(s.depends_on) & keys:
                out.append(s)
                keys.add(s.key)
        return out

    # ------------------------------------------------------------------------------------ devices
    def open(self) -> CalibrationRun:
        from dexumi.devices.encoder import EncoderConfig, EncoderDriver

        o = self.options
        port = o.port
        protocol = o.protocol
        if o.sim:
            from calibration.boardsim import Lens
            from calibration.sim import SimRig

            protocol = Protocol.V1.value if protocol == Protocol.AUTO else protocol
            rig = SimRig(
                self.poses,
                protocol,
                o.sim_rate_hz,
                o.hold_s,
                o.move_s,
                o.sweep_s,
                o.wave_s,
                o.sim_seed,
                truth=o.sim_truth,
            ).start()
            self.rig = rig
            port = rig.port
            self.sim_lens = Lens()
            if "camera" not in o.skip and o.board == BoardSpec():  # the world's board has the default layout
                from calibration.worldboard import WorldBoardCamera, world_board_wanted

                self.sim_world_board = world_board_wanted()
                if self.sim_world_board:
                    self.sim_lens = WorldBoardCamera().lens
        if port is None:
            raise DexumiError("no encoder: give --port PORT (or --sim)")
        driver = EncoderDriver(EncoderConfig(port, protocol, None, o.sim_rate_hz if o.sim else None)).start()
        self.driver = driver
        info = driver.info
        self.encoder_input = enc.EncoderInput(driver.protocol, info.resolution_bits if info else 24)
        self.buffer = enc.SampleBuffer(self.encoder_input)
        if driver.joints != len(self.poses.joints):
            raise DexumiError(
                f"the device on {port} has {driver.joints} joint channels but exoskeleton "
                f"'{self.poses.model}' has {len(self.poses.joints)} ({', '.join(self.poses.joints)}); "
                "pick the model with --exoskeleton"
            )
        self.device = {
            "id": info.device_id if info else (port if not o.sim else SIM_DEVICE_ID),
            "protocol": driver.protocol,
            "channels": driver.channels,
            "firmware": ".".join(map(str, info.firmware)) if info else None,
            "resolution_bits": info.resolution_bits if info else None,
        }
        if not o.sim:
            self.device["port"] = port
        return self

    def close(self) -> None:
        if self.driver is not None:
            self.driver.close()
            self.driver = None
        if self.rig is not None:
            self.rig.stop()
            self.rig = None

    def __enter__(self) -> CalibrationRun:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def poll(self, timeout: float = 0.0) -> None:
        """Move what the driver has read into the capture buffer (call often)."""
        if self.driver is not None:
            self.buffer.add(self.driver.read(timeout))
            self._centers = None

    def centers(self) -> np.ndarray | None:
        """Per-channel circular mean of everything captured (wrapping sensors), else None."""
        period = self.encoder_input.period
        if period is None:
            return None
        if self._centers is None:
            self._centers = enc.circular_center(self.buffer.samples().x, period)
        return self._centers

    def live_angles(self) -> np.ndarray | None:
        """Latest joint angles: calibrated once the fit exists, else the board's nominal conversion."""
        x = self.buffer.latest()
        if x is None:
            return None
        if self.fit is not None:
            return self.fit.calibration().apply(x[None, :])[0]
        return x * self.encoder_input.nominal_scale

    def next_window(self, segment: str) -> tuple[float, float]:
        """Sim: the next turn of a script segment that has not started yet."""
        assert self.rig is not None
        now = time.monotonic()
        cycle = 0
        while True:
            t0, t1 = self.rig.segment_window(segment, cycle)
            if t0 >= now - 0.05:
                return t0, t1
            cycle += 1

    # ----------------------------------------------------------------------------------- running
    def run_step(self, step: Step, on_feedback=None, poll_s: float = 0.05) -> str:
        """Begin, capture until done, finish; returns the summary (DexumiError on failure)."""
        step.begin(self)
        try:
            while not step.done():
                self.poll(poll_s)
                fb = step.update(self)
                if on_feedback is not None:
                    on_feedback(step, fb)
            self.poll()
            return step.finish(self)
        except DexumiError as exc:
            step.error = str(exc)
            raise

    # ----------------------------------------------------------------------------------- profile
    def profile(self, mapping: str | None = None) -> Profile:
        if self.fit is None:
            raise DexumiError("the encoders are not calibrated yet")
        device_id = str(self.device.get("id") or "device")
        prof = Profile(
            new_profile_id(device_id),
            utc_now(),
            dict(self.device),
            self.fit.channel_calibrations(),
            wrap=self.fit.wrap,
            encoder_input="ratiometric" if self.encoder_input.protocol == Protocol.LEGACY else "counts",
            hand=self.hand,
            exoskeleton=self.poses.model,
            mapping=mapping,
        )
        report: dict[str, Any] = {"encoders": self.fit.summary()}
        for s in self.steps:
            s.contribute(prof, report, self)
        prof.report = report
        return prof


def _pair_of(exoskeleton: str) -> str | None:
    from dexumi.hands import registry

    for m in registry.bundled():
        if m.name == exoskeleton:
            return m.pair
    return None

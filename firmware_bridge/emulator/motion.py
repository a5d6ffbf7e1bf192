"""Hand motion for the emulator: smooth grasp/release cycles, or real human motion from keypoints.

Every model maps time (seconds) to joint angles (radians), deterministically for a given seed, so tests
and the sim camera can recompute the exact motion the device sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

# the hand's fingers live in firmware_bridge.fingers (the tactile contact model needs them too); re-exported here
from firmware_bridge.fingers import FINGERS as FINGERS
from firmware_bridge.fingers import finger_of_joint as finger_of_joint


class MotionModel(Protocol):
    joints: int

    def angles(self, t: np.ndarray) -> np.ndarray:
        """Joint angles (len(t), joints) in radians at times `t` (seconds since start)."""
        ...


@dataclass
class GraspCycleMotion:
    """Multi-finger grasp and release cycles with per-finger phase, speed and amplitude variation.

    Closure of finger f follows a smoothed periodic profile (hold open, close, hold closed, open) whose
    period varies slowly; each joint scales the closure into its range and adds a smooth tremor.
    """

    joints: int
    seed: int = 0
    period_s: float = 3.0
    low_rad: float = 0.05
    high_rad: float = 1.3
    lower: tuple[float, ...] = ()  # per-joint range of the simulated exoskeleton (its model's limits);
    upper: tuple[float, ...] = ()  # empty: every joint moves in [low_rad, high_rad]

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self.finger = finger_of_joint(self.joints)
        self.phase = rng.uniform(0, 0.25, len(FINGERS))[self.finger] + rng.uniform(0, 0.03, self.joints)
        self.amplitude = rng.uniform(0.7, 1.0, self.joints)
        start = rng.uniform(0.0, 0.1, self.joints)
        if self.lower or self.upper:
            lo, hi = self._range()
            span = hi - lo
            # open pose 2-7 % into the range, closing to at most 95 %: tremor included, inside the limits
            self.low = lo + span * (0.02 + 0.5 * start)
            self.span = (lo + 0.95 * span - self.low) * self.amplitude
        else:
            self.low = self.low_rad + start
            self.span = (self.high_rad - self.low_rad) * self.amplitude
        self.period = self.period_s * rng.uniform(0.9, 1.1)
        self.wobble_freq = rng.uniform(0.05, 0.15)
        self.tremor_freq = rng.uniform(6.0, 10.0, (self.joints, 2))
        self.tremor_phase = rng.uniform(0, 2 * np.pi, (self.joints, 2))
        self.tremor_amp = rng.uniform(0.002, 0.006, self.joints)
        if self.lower or self.upper:  # a narrow joint (e.g. a ±0.17 rad spread) trembles less
            self.tremor_amp = np.minimum(self.tremor_amp, 0.01 * (self._range()[1] - self._range()[0]))

    def _range(self) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = np.asarray(self.lower, np.float64), np.asarray(self.upper, np.float64)
        if lo.shape != (self.joints,) or hi.shape != (self.joints,) or not np.all(hi > lo):
            raise ValueError(
                f"grasp motion: need {self.joints} lower and upper limits with upper > lower "
                f"(got {len(self.lower)} and {len(self.upper)})"
            )
        return lo, hi

    def spec(self) -> str:
        """The `make_motion` spec that rebuilds this motion (for another process: emulator, sim camera).
        Lists are '/'-separated so the spec can sit inside a comma-separated camera spec."""
        if not (self.lower or self.upper):
            return "grasp"
        return (
            "grasp:lower="
            + "/".join(f"{v:.9g}" for v in self.lower)
            + ";upper="
            + "/".join(f"{v:.9g}" for v in self.upper)
        )

    def closure(self, t: np.ndarray) -> np.ndarray:
        """Closure in [0, 1], shape (len(t), joints)."""
        t = np.asarray(t, dtype=np.float64)[:, None]
        # the cycle speeds up and slows down a little, as a person's would
        cycles = t / self.period + 0.08 * np.sin(2 * np.pi * self.wobble_freq * t) - self.phase
        x = cycles % 1.0
        # open (0-0.2), closing (0.2-0.45), closed (0.45-0.7), opening (0.7-0.95), open
        up = np.clip((x - 0.2) / 0.25, 0, 1)
        down = np.clip((x - 0.7) / 0.25, 0, 1)
        closure: np.ndarray = _smooth(up) - _smooth(down)
        return closure

    def angles(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        tremor = np.sin(2 * np.pi * self.tremor_freq[:, 0] * t[:, None] + self.tremor_phase[:, 0]) + np.sin(
            2 * np.pi * self.tremor_freq[:, 1] * t[:, None] + self.tremor_phase[:, 1]
        )
        angles: np.ndarray = self.low + self.span * self.closure(t) + self.tremor_amp * tremor
        return angles


# MediaPipe landmark chains (wrist 0; thumb 1-4; index 5-8; middle 9-12; ring 13-16; little 17-20)
_CHAINS = [[0, 1, 2, 3, 4], [0, 5, 6, 7, 8], [0, 9, 10, 11, 12], [0, 13, 14, 15, 16], [0, 17, 18, 19, 20]]


def keypoint_flexion(keypoints: np.ndarray) -> np.ndarray:
    """Bone-to-bone flexion angles (frames, 15): three per finger, from 21 MediaPipe keypoints."""
    out = []
    for chain in _CHAINS:
        for a, b, c in zip(chain[:-2], chain[1:-1], chain[2:]):
            u = keypoints[:, b] - keypoints[:, a]
            v = keypoints[:, c] - keypoints[:, b]
            cos = np.einsum("ij,ij->i", u, v) / (np.linalg.norm(u, axis=1) * np.linalg.norm(v, axis=1))
            out.append(np.arccos(np.clip(cos, -1, 1)))
    return np.stack(out, axis=1)


@dataclass
class KeypointMotion:
    """Real human finger motion: flexion angles from recorded keypoints, looped, interpolated in time."""

    joints: int
    path: Path
    fps: float = 30.0

    def __post_init__(self) -> None:
        keypoints = np.load(self.path, allow_pickle=False)
        if keypoints.ndim != 3 or keypoints.shape[1:] != (21, 3):
            raise ValueError(f"{self.path}: expected (frames, 21, 3) keypoints, got {keypoints.shape}")
        flex = keypoint_flexion(keypoints)
        # loop smoothly: play forward then backward
        flex = np.concatenate([flex, flex[::-1][1:-1]])
        # spread the 15 measured angles over the requested channel count, finger by finger
        finger = finger_of_joint(self.joints)
        columns = []
        for j in range(self.joints):
            f = int(finger[j])
            k = int(np.sum(finger[:j] == f)) % 3
            columns.append(flex[:, 3 * f + k])
        self.table = np.stack(columns, axis=1)
        self.duration = len(self.table) / self.fps

    def angles(self, t: np.ndarray) -> np.ndarray:
        pos = (np.asarray(t, dtype=np.float64) % self.duration) * self.fps
        i0 = np.floor(pos).astype(np.int64)
        w = (pos - i0)[:, None]
        i1 = (i0 + 1) % len(self.table)
        return self.table[i0] * (1 - w) + self.table[i1] * w


def make_motion(spec: str, joints: int, seed: int) -> MotionModel:
    """`grasp[:lower=a/b/...;upper=c/d/...]` (default; optional per-joint range, see `GraspCycleMotion.spec`),
    `keypoints:PATH` (a .npy of MediaPipe keypoints, frames × 21 × 3) or `calibration[:k=v;...]` (the
    calibration wizard's scripted poses, see `CalibrationMotion.spec`)."""
    if spec in ("", "grasp"):
        return GraspCycleMotion(joints, seed)
    if spec.startswith("grasp:"):
        return _grasp_motion(spec.partition(":")[2], joints, seed)
    if spec.startswith("keypoints:"):
        return KeypointMotion(joints, Path(spec.split(":", 1)[1]))
    if spec == "calibration" or spec.startswith("calibration:"):
        return _calibration_motion(spec.partition(":")[2], joints, seed)
    raise ValueError(f"unknown motion {spec!r}: use 'grasp', 'keypoints:PATH' or 'calibration[:OPTIONS]'")


# --------------------------------------------------------------------------- scripted calibration motion


@dataclass(frozen=True)
class ScriptSegment:
    """One stretch of the calibration script: `kind` is hold | move | sweep | wave; times in seconds."""

    name: str
    kind: str
    start: float
    end: float
    pose: tuple[float, ...] = ()  # hold: the pose held; move: the pose reached at the end

    @property
    def duration(self) -> float:
        return self.end - self.start


def _smooth(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    s: np.ndarray = u * u * (3 - 2 * u)
    return s


@dataclass
class CalibrationMotion:
    """The calibration wizard's poses played by a perfect collector, with known timings.

    flat hold → fist hold → (spread hold, if any joint spreads) → each finger swept through its range →
    thumb opposition hold → flat hold (the zero check) → `wave_s` of irregular finger motion (for the latency
    step) → loops. Between holds the hand moves for `move_s` (smoothstep). Poses are per joint (radians);
    missing ones default to a generic hand: fist 1.2 rad, thumb opposition 0.8 rad, sweep = fist.
    """

    joints: int
    fist: tuple[float, ...] = ()
    spread: tuple[float, ...] = ()
    opposition: tuple[float, ...] = ()
    sweep: tuple[float, ...] = ()
    fingers: tuple[int, ...] = ()
    hold_s: float = 1.5
    move_s: float = 0.5
    sweep_s: float = 1.5
    wave_s: float = 6.0
    seed: int = 0

    def __post_init__(self) -> None:
        j = self.joints
        finger = np.asarray(self.fingers, dtype=np.int64) if self.fingers else finger_of_joint(j)
        self.finger = finger
        self.fist_pose = self._pose(self.fist, np.full(j, 1.2))
        self.spread_pose = self._pose(self.spread, np.zeros(j))
        self.opposition_pose = self._pose(self.opposition, np.where(finger == 0, 0.8, 0.0))
        self.sweep_pose = self._pose(self.sweep, self.fist_pose)
        self.flat_pose = np.zeros(j)
        rng = np.random.default_rng(self.seed + 99)
        self.wave_freq = rng.uniform(0.3, 1.6, (j, 3))
        self.wave_phase = rng.uniform(0, 2 * np.pi, (j, 3))
        self.segments = self._build()
        self.duration = self.segments[-1].end

    def _pose(self, given: tuple[float, ...], default: np.ndarray) -> np.ndarray:
        if not given:
            return default
        if len(given) != self.joints:
            raise ValueError(f"calibration motion: a pose has {len(given)} values for {self.joints} joints")
        return np.asarray(given, dtype=np.float64)

    def _build(self) -> list[ScriptSegment]:
        segs: list[ScriptSegment] = []
        t = 0.0

        def add(name: str, kind: str, length: float, pose: np.ndarray | None = None) -> None:
            nonlocal t
            segs.append(
                ScriptSegment(name, kind, t, t + length, tuple(float(x) for x in pose) if pose is not None else ())
            )
            t += length

        add("flat", "hold", self.hold_s, self.flat_pose)
        for name, pose in (("fist", self.fist_pose), ("spread", self.spread_pose)):
            if not np.any(pose):
                continue
            add(f"to_{name}", "move", self.move_s, pose)
            add(name, "hold", self.hold_s, pose)
            add(f"from_{name}", "move", self.move_s, self.flat_pose)
        for f, finger in enumerate(FINGERS):
            if np.any(self.finger == f):
                add(f"sweep_{finger}", "sweep", self.sweep_s, np.where(self.finger == f, self.sweep_pose, 0.0))
        add("to_opposition", "move", self.move_s, self.opposition_pose)
        add("opposition", "hold", self.hold_s, self.opposition_pose)
        add("from_opposition", "move", self.move_s, self.flat_pose)
        add("zero_check", "hold", self.hold_s, self.flat_pose)
        if self.wave_s > 0:
            add("wave", "wave", self.wave_s)
            add("from_wave", "move", self.move_s, self.flat_pose)
        return segs

    def segment(self, name: str) -> ScriptSegment:
        for s in self.segments:
            if s.name == name:
                return s
        raise KeyError(name)

    def angles(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64) % self.duration
        out = np.zeros((len(t), self.joints))
        prev = self.flat_pose
        for s in self.segments:
            m = (t >= s.start) & (t < s.end)
            u = (t[m] - s.start) / s.duration
            if s.kind == "hold":
                out[m] = np.asarray(s.pose)
            elif s.kind == "move":
                out[m] = prev + (np.asarray(s.pose) - prev) * _smooth(u)[:, None]
            elif s.kind == "sweep":
                out[m] = np.asarray(s.pose) * (0.5 - 0.5 * np.cos(2 * np.pi * u))[:, None]
            else:  # wave: irregular flexion within [0.1, 0.9] of each joint's sweep, starting and ending at 0
                tt = t[m][:, None, None] - s.start
                x = np.sin(2 * np.pi * self.wave_freq * tt + self.wave_phase).mean(axis=2)
                env = np.sin(np.pi * u)[:, None] ** 2
                out[m] = self.sweep_pose * env * (0.5 + 0.4 * x)
            prev = np.asarray(s.pose) if s.kind in ("hold", "move") else self.flat_pose
        return out

    def spec(self) -> str:
        """The `make_motion` spec that rebuilds this motion (for another process, e.g. the emulator)."""
        parts = [f"hold={self.hold_s:g}", f"move={self.move_s:g}", f"sweep_s={self.sweep_s:g}", f"wave={self.wave_s:g}"]
        for key in ("fist", "spread", "opposition", "sweep"):
            vals = getattr(self, key)
            if vals:
                parts.append(f"{key}=" + ",".join(f"{v:.9g}" for v in vals))
        if self.fingers:
            parts.append("fingers=" + ",".join(str(int(f)) for f in self.fingers))
        return "calibration:" + ";".join(parts)


def _grasp_motion(options: str, joints: int, seed: int) -> GraspCycleMotion:
    kwargs: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in options.split(";"))):
        key, _, value = part.partition("=")
        if key not in ("lower", "upper"):
            raise ValueError(f"grasp motion: unknown option {key!r} (use lower=.../upper=...)")
        try:
            kwargs[key] = tuple(float(v) for v in value.replace(",", "/").split("/") if v.strip())
        except ValueError:
            raise ValueError(f"grasp motion: {key}={value!r} is not a list of numbers") from None
    return GraspCycleMotion(joints, seed, **kwargs)


def _calibration_motion(options: str, joints: int, seed: int) -> CalibrationMotion:
    kwargs: dict[str, Any] = {}
    scalars = {"hold": "hold_s", "move": "move_s", "sweep_s": "sweep_s", "wave": "wave_s"}
    for part in filter(None, (p.strip() for p in options.split(";"))):
        key, _, value = part.partition("=")
        if key in scalars:
            kwargs[scalars[key]] = float(value)
        elif key in ("fist", "spread", "opposition", "sweep"):
            kwargs[key] = tuple(float(v) for v in value.split(","))
        elif key == "fingers":
            kwargs[key] = tuple(int(v) for v in value.split(","))
        else:
            raise ValueError(f"calibration motion: unknown option {key!r}")
    return CalibrationMotion(joints, seed=seed, **kwargs)

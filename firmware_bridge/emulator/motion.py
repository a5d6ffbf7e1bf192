"""Hand motion for the emulator: smooth grasp/release cycles, or real human motion from keypoints.

Every model maps time (seconds) to joint angles (radians), deterministically for a given seed, so tests
and the sim camera can recompute the exact motion the device sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

FINGERS = ("thumb", "index", "middle", "ring", "little")


class MotionModel(Protocol):
    joints: int

    def angles(self, t: np.ndarray) -> np.ndarray:
        """Joint angles (len(t), joints) in radians at times `t` (seconds since start)."""
        ...


def finger_of_joint(joints: int) -> np.ndarray:
    """Which finger each joint belongs to, fingers getting consecutive joints (thumb first)."""
    per = max(1, joints // len(FINGERS))
    return np.minimum(np.arange(joints) // per, len(FINGERS) - 1)


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

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self.finger = finger_of_joint(self.joints)
        self.phase = rng.uniform(0, 0.25, len(FINGERS))[self.finger] + rng.uniform(0, 0.03, self.joints)
        self.amplitude = rng.uniform(0.7, 1.0, self.joints)
        self.low = self.low_rad + rng.uniform(0.0, 0.1, self.joints)
        self.span = (self.high_rad - self.low_rad) * self.amplitude
        self.period = self.period_s * rng.uniform(0.9, 1.1)
        self.wobble_freq = rng.uniform(0.05, 0.15)
        self.tremor_freq = rng.uniform(6.0, 10.0, (self.joints, 2))
        self.tremor_phase = rng.uniform(0, 2 * np.pi, (self.joints, 2))
        self.tremor_amp = rng.uniform(0.002, 0.006, self.joints)

    def closure(self, t: np.ndarray) -> np.ndarray:
        """Closure in [0, 1], shape (len(t), joints)."""
        t = np.asarray(t, dtype=np.float64)[:, None]
        # the cycle speeds up and slows down a little, as a person's would
        cycles = t / self.period + 0.08 * np.sin(2 * np.pi * self.wobble_freq * t) - self.phase
        x = cycles % 1.0
        # open (0-0.2), closing (0.2-0.45), closed (0.45-0.7), opening (0.7-0.95), open
        up = np.clip((x - 0.2) / 0.25, 0, 1)
        down = np.clip((x - 0.7) / 0.25, 0, 1)
        smooth = lambda u: u * u * (3 - 2 * u)  # noqa: E731 - smoothstep
        return smooth(up) - smooth(down)

    def angles(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=np.float64)
        tremor = (np.sin(2 * np.pi * self.tremor_freq[:, 0] * t[:, None] + self.tremor_phase[:, 0])
                  + np.sin(2 * np.pi * self.tremor_freq[:, 1] * t[:, None] + self.tremor_phase[:, 1]))
        return self.low + self.span * self.closure(t) + self.tremor_amp * tremor


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
    """`grasp` (default) or `keypoints:PATH` (a .npy of MediaPipe keypoints, frames × 21 × 3)."""
    if spec in ("", "grasp"):
        return GraspCycleMotion(joints, seed)
    if spec.startswith("keypoints:"):
        return KeypointMotion(joints, Path(spec.split(":", 1)[1]))
    raise ValueError(f"unknown motion {spec!r}: use 'grasp' or 'keypoints:PATH'")

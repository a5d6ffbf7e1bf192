"""A deterministic grasp contact model and the tactile-board values it produces (emulator groundwork).

Each finger touches the object once its closure (the mean closure of its joints in the emulator's
`GraspCycleMotion`) passes `contact_at`; the normal force then grows linearly with further closure up to
`max_force_n`. Outside contact the force is exactly zero. (The MuJoCo world will later provide contact
truth instead; these functions keep the same shapes.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from firmware_bridge.fingers import FINGERS, finger_of_joint
from firmware_bridge.tactile import xhand

FSR_BASELINE = 200  # counts with no load
FSR_COUNTS_PER_N = 100.0


class ClosureMotion(Protocol):
    """A motion that says how closed each joint is (the emulator's `GraspCycleMotion`)."""

    joints: int

    def closure(self, t: np.ndarray) -> np.ndarray:
        """Closure in [0, 1], shape (len(t), joints)."""
        ...


@dataclass
class GraspContact:
    """Fingertip normal forces (N) that follow a grasp motion's closure."""

    motion: ClosureMotion
    contact_at: float = 0.8
    max_force_n: float = 20.0

    def finger_closure(self, t: np.ndarray) -> np.ndarray:
        """(n, fingers) mean closure of each finger's joints."""
        c = self.motion.closure(np.asarray(t, np.float64))
        finger = finger_of_joint(self.motion.joints)
        return np.stack(
            [c[:, finger == f].mean(axis=1) if np.any(finger == f) else np.zeros(len(c)) for f in range(len(FINGERS))],
            axis=1,
        )

    def in_contact(self, t: np.ndarray) -> np.ndarray:
        return self.finger_closure(t) > self.contact_at

    def forces(self, t: np.ndarray) -> np.ndarray:
        """(n, fingers) normal force in N: zero until contact, then linear in the extra closure."""
        depth = (self.finger_closure(t) - self.contact_at) / (1.0 - self.contact_at)
        return self.max_force_n * np.clip(depth, 0.0, 1.0)


def fsr_readings(forces_n: np.ndarray) -> np.ndarray:
    """(n, 2) uint16 FSR counts (low, high) of the first two fingers' forces (thumb, index)."""
    f = np.asarray(forces_n, np.float64)[:, :2]
    return np.clip(np.round(FSR_BASELINE + FSR_COUNTS_PER_N * f), 0, 0xFFFF).astype(np.int64)


def _blob() -> np.ndarray:
    r, c = np.mgrid[0 : xhand.ROWS, 0 : xhand.COLS]
    g = np.exp(-(((r - 4.5) / 2.5) ** 2 + ((c - 5.5) / 3.0) ** 2))
    blob: np.ndarray = g / g.sum()
    return blob


def xhand_readings(force_n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One fingertip's normal force (n,) in N as XHand values: resultant (n, 3) and maps (n, 3, 10, 12).

    The z map is a fixed pressure blob whose taxels sum to the force (in 0.01 N counts, up to rounding);
    the x and y maps are zero (no shear); fz is the force in N (uint8), fx = fy = 0.
    """
    f = np.asarray(force_n, np.float64)
    n = len(f)
    maps = np.zeros((n, 3, xhand.ROWS, xhand.COLS), np.int64)
    maps[:, 2] = np.round(f[:, None, None] / xhand.NEWTONS_PER_COUNT * _blob()[None])
    res = np.zeros((n, 3), np.int64)
    res[:, 2] = np.clip(np.round(f), 0, 255)
    return res, maps

"""The five fingers of a hand and which joint belongs to which: shared by the emulator's motion models, the
tactile contact model and the simulated camera."""

from __future__ import annotations

import numpy as np

__all__ = ["FINGERS", "finger_of_joint"]

FINGERS = ("thumb", "index", "middle", "ring", "little")


def finger_of_joint(joints: int) -> np.ndarray:
    """Which finger each joint belongs to, fingers getting consecutive joints (thumb first)."""
    per = max(1, joints // len(FINGERS))
    return np.minimum(np.arange(joints) // per, len(FINGERS) - 1)

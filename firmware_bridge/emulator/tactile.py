"""Tactile-board modes of the emulator: FSR and XHand tactile frames whose forces follow the grasp contact."""

from __future__ import annotations

import numpy as np

from firmware_bridge.emulator.motion import MotionModel
from firmware_bridge.tactile import fsr, xhand
from firmware_bridge.tactile.contact import GraspContact, fsr_readings, xhand_readings
from firmware_bridge.vocab import TactileProtocol

XHAND_FINGER = 1  # the XHand board emulated is the index fingertip's


class TactileBoard:
    """Builds one frame per sample: (decoded values (1, channels), true forces (1, 5) N, wire bytes)."""

    def __init__(self, protocol_name: str, motion: MotionModel, seed: int) -> None:
        if not hasattr(motion, "closure"):
            raise ValueError("tactile boards follow a grasp motion (--motion grasp)")
        self.protocol = protocol_name
        self.contact = GraspContact(motion)  # type: ignore[arg-type]
        self.rng = np.random.default_rng(seed + 11)

    def frame(self, t: np.ndarray, times_us: np.ndarray) -> tuple[np.ndarray, np.ndarray, bytes]:
        forces = self.contact.forces(np.asarray(t, np.float64))
        ms = np.asarray(times_us, np.int64) // 1000
        if self.protocol == TactileProtocol.FSR:
            f = fsr_readings(forces)
            adc = np.round(2_000_000 + self.rng.normal(0, 2, (len(t), fsr.ADC_WORDS))).astype(np.int64)
            values = np.concatenate([adc, f], axis=1)
            return values.astype(np.int32), forces, fsr.encode_frames(adc, f, ms)
        res, maps = xhand_readings(forces[:, XHAND_FINGER])
        values = np.concatenate([res, maps.reshape(len(t), -1)], axis=1)
        return values.astype(np.int32), forces, xhand.encode_frames(res, maps, ms)

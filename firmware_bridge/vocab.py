"""Closed sets of names as `str` Enums (LeRobot's habit): members equal today's strings, so files, JSON and
command lines are unchanged, and an unknown value is a one-line error that lists the valid ones.

    Protocol("v1") is Protocol.V1;  Protocol.V1 == "v1";  Protocol("v3") → VocabularyError (a ValueError)
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from firmware_bridge.errors import BridgeError


class VocabularyError(BridgeError, ValueError):
    """A value outside a closed set of names (the message lists the valid ones)."""


class Vocabulary(StrEnum):
    """Base of the closed sets: `_missing_` turns an unknown value into one clear line."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str):  # tolerate case and surrounding spaces, as the command line always has
            for member in cls:
                if member.value == value.strip().lower():
                    return member
        label = re.sub(r"(?<!^)(?=[A-Z])", " ", cls.__name__).lower()  # SessionState → "session state"
        raise VocabularyError(f"unknown {label} {value!r}: use {', '.join(m.value for m in cls)}")


class Protocol(Vocabulary):
    """What an encoder board speaks: dexumi v1 frames, legacy DexUMI frames, or find out (`auto`)."""

    AUTO = "auto"
    V1 = "v1"
    LEGACY = "legacy"


class TactileProtocol(Vocabulary):
    """What a send-only tactile board speaks: DexUMI FSR frames or XHand tactile frames."""

    FSR = "fsr"
    XHAND = "xhand-tactile"


__all__ = ["Protocol", "TactileProtocol", "Vocabulary", "VocabularyError"]

"""The library's closed sets of names (`str` Enums equal to the strings files and command lines use).

Unknown values are one-line `VocabularyError`s (a `ValueError` and a `BridgeError`, so the CLI prints one
line and exits 2): `Outcome("sucess")` → "unknown outcome 'sucess': use success, failure, unknown".
"""

from __future__ import annotations

from firmware_bridge.vocab import Protocol, TactileProtocol, Vocabulary, VocabularyError


class SessionState(Vocabulary):
    """The recording session's state (`SessionStatus.state`)."""

    NEW = "new"
    IDLE = "idle"
    RECORDING = "recording"
    CLOSED = "closed"
    ERROR = "error"


class RecorderState(Vocabulary):
    """The recording window's state: the session's, plus the steps the window takes between them."""

    CONNECTING = "connecting"
    IDLE = "idle"
    COUNTDOWN = "countdown"
    STARTING = "starting"
    RECORDING = "recording"
    STOPPING = "stopping"
    ERROR = "error"


class RetargetMode(Vocabulary):
    """How exoskeleton joints become robot joints: joint by joint, or by matching fingertips."""

    JOINT = "joint"
    FINGERTIP = "fingertip"


class Outcome(Vocabulary):
    """An episode's outcome as the operator marked it."""

    SUCCESS = "success"
    FAILURE = "failure"
    UNKNOWN = "unknown"


class CheckLevel(Vocabulary):
    """A validation check's result, from harmless to failing (`RANK` orders them)."""

    PASS = "pass"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"
    SKIP = "skip"


class FrameEncoding(Vocabulary):
    """A camera frame's payload: JPEG bytes (MJPG pass-through, stored as is) or a decoded BGR image."""

    JPEG = "jpeg"
    BGR = "bgr"


class EpisodeState(Vocabulary):
    """An episode file's `state` attribute: being written, finalised, or finished by recovery."""

    RECORDING = "recording"
    FINAL = "final"
    RECOVERED = "recovered"


__all__ = [
    "CheckLevel",
    "EpisodeState",
    "FrameEncoding",
    "Outcome",
    "Protocol",
    "RecorderState",
    "RetargetMode",
    "SessionState",
    "TactileProtocol",
    "Vocabulary",
    "VocabularyError",
]

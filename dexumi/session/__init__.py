"""The headless recording pipeline: `RecordingSession(SessionConfig(...))`, its status snapshots, and the
server/client the recorder window talks to (docs/recording.md). Names load on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dexumi.lazy import Where, lazy_exports

_NAMES: dict[str, Where] = {
    "SessionConfig": "dexumi.session.config",
    "SessionStatus": "dexumi.session.config",
    "StreamStatus": "dexumi.session.config",
    "RecordingSession": "dexumi.session.session",
    "bundled_map": "dexumi.session.retarget",
    "choose_map": "dexumi.session.retarget",
    "load_retargeter": "dexumi.session.retarget",
}
__all__ = list(_NAMES)
__getattr__, __dir__ = lazy_exports(__name__, _NAMES)

if TYPE_CHECKING:
    from dexumi.session.config import SessionConfig as SessionConfig
    from dexumi.session.config import SessionStatus as SessionStatus
    from dexumi.session.config import StreamStatus as StreamStatus
    from dexumi.session.retarget import bundled_map as bundled_map
    from dexumi.session.retarget import choose_map as choose_map
    from dexumi.session.retarget import load_retargeter as load_retargeter
    from dexumi.session.session import RecordingSession as RecordingSession

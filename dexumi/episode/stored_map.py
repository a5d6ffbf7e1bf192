"""The retarget map stored in an episode file, made usable again (recovery, further devices' views)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dexumi.episode.finalize import JointMapper

log = logging.getLogger(__name__)


def retargeter_from_text(text: str) -> JointMapper | None:
    """A Retargeter from a stored map text, or None (identity action) when there is none or it fails."""
    if not text.strip():
        return None
    try:
        from dexumi.retarget import Retargeter, parse_map

        return Retargeter.from_map(parse_map(text, "<stored map>", ".yaml"))
    except Exception as exc:  # noqa: BLE001 - recovery must not fail on the map: keep exoskeleton joints
        log.warning("stored retarget map unusable (%s): action = exoskeleton joints", exc)
        return None

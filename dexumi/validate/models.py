"""Hand models and retargeters the checks need, loaded once per process."""

from __future__ import annotations

import functools
import logging

from dexumi.errors import DexumiError
from dexumi.kinematics import HandKinematics

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=8)
def hand(name: str) -> HandKinematics | None:
    """A bundled hand (or URDF path) by name; None if it cannot be loaded."""
    from dexumi.hands import registry

    try:
        return registry.load(name)
    except DexumiError as exc:
        log.info("hand model %r not available: %s", name, exc)
        return None


@functools.lru_cache(maxsize=8)
def retargeter(map_text: str):
    """A Retargeter from the map text stored in an episode; None if it does not load here."""
    from dexumi.retarget import Retargeter, parse_map

    if not map_text.strip():
        return None
    try:
        return Retargeter.from_map(parse_map(map_text, "<episode map>"))
    except DexumiError as exc:
        log.info("episode retarget map not usable: %s", exc)
        return None


def preload() -> None:
    """Import what the first hand model and retargeter load import (scipy.signal and .spatial through
    dexumi.retarget, the hand registry: ~0.8 CPU s). Called before a fork pool starts, so its workers inherit
    the modules instead of each importing them again."""
    import dexumi.hands.registry
    import dexumi.retarget  # noqa: F401

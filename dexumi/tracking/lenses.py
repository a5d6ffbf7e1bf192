"""A camera's intrinsics from a calibration profile's text: the one lookup live and offline tracking share.

A profile's `cameras` section is keyed by the camera's serial (or its name when it has none) and its
`device.cameras` maps the session's camera names to those keys (docs/calibration.md). The section's
documented keys are read here: dexumi does not import the calibration package.
"""

from __future__ import annotations

import logging

import numpy as np

from dexumi.tracking.pnp import Intrinsics

log = logging.getLogger(__name__)


def profile_lenses(text: str) -> dict[str, Intrinsics]:
    """Camera name and key → its intrinsics; {} for no profile, and (logged) for an unreadable section."""
    from dexumi import safe_yaml

    if not text.strip():
        return {}
    try:
        doc = safe_yaml.safe_load(text) or {}
        out: dict[str, Intrinsics] = {}
        for key, c in (doc.get("cameras") or {}).items():
            out[str(key)] = Intrinsics(
                np.asarray(c["matrix"], np.float64).reshape(3, 3),
                np.asarray(c["distortion"], np.float64),
                str(c.get("model", "pinhole")),
                int(c.get("width", 0)),
                int(c.get("height", 0)),
            )
        names = (doc.get("device") or {}).get("cameras") or {}
        for name, key in names.items():
            if str(key) in out:
                out.setdefault(str(name), out[str(key)])
        return out
    except Exception as exc:  # noqa: BLE001 - a damaged copy: callers fall back or say "no intrinsics" in one line
        log.warning("calibration profile: cameras unreadable (%s)", exc)
        return {}


def lens_for(lenses: dict[str, Intrinsics], camera: str) -> Intrinsics | None:
    """The camera's lens by name (or serial); a profile that calibrated just one camera gives that one."""
    if camera in lenses:
        return lenses[camera]
    distinct = {id(v): v for v in lenses.values()}
    return next(iter(distinct.values())) if len(distinct) == 1 else None
